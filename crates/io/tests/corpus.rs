//! Files written by earlier builds, committed under `tests/corpus/`: every
//! later build must read them (docs/formats.md). `tests/corpus/README.md`
//! says which build wrote each and what it holds.

use std::path::PathBuf;
use strata_io::SavedModel;
use strata_layers::Registry;

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus").join(name)
}

#[test]
fn every_model_file_of_the_corpus_loads() {
    // mlp-v1.strata: format version 1 (bincode, FNV-1a), a 784-16-10 MLP.
    // mlp-v2.strata: format version 2, the same architecture.
    for name in ["mlp-v1.strata", "mlp-v2.strata"] {
        let saved = SavedModel::load(corpus(name)).unwrap();
        let names: Vec<&str> = saved.tensors.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["dense_1.weight", "dense_1.bias", "dense_2.weight", "dense_2.bias"], "{name}");
        assert_eq!(saved.tensors[0].1.shape(), [784, 16], "{name}");
        assert!(saved.metadata.contains_key("strata.preprocessing"), "{name}: {:?}", saved.metadata.keys());
        saved.instantiate(&Registry::with_builtins()).unwrap();
    }
    // Both were written by the same command and seed: the same weights, bit for bit.
    let (v1, v2) =
        (SavedModel::load(corpus("mlp-v1.strata")).unwrap(), SavedModel::load(corpus("mlp-v2.strata")).unwrap());
    assert_eq!(v1.tensors, v2.tensors);
}
