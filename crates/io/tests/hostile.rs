//! Hostile bytes: a deterministic mutation loop over the seed corpus of the
//! fuzz targets (`fuzz/`), run in every test run. Any input must give a
//! value or a typed error: never a panic, never an allocation the file
//! cannot back.

use crate::model_bytes;
use std::path::Path;
use strata_io::SavedModel;
use strata_layers::Registry;
use strata_tensor::StrataRng;

/// `n` mutants of `seed`: flipped bytes, cut tails, overwritten length
/// fields, spliced garbage.
pub fn mutants(seed: &[u8], n: usize, rng_seed: u64) -> Vec<Vec<u8>> {
    let mut rng = StrataRng::seed_from_u64(rng_seed);
    let mut pick = |n: usize| (rng.next_u64() % n.max(1) as u64) as usize;
    (0..n)
        .map(|i| {
            let mut m = seed.to_vec();
            match i % 4 {
                0 => {
                    let at = pick(m.len());
                    m[at] ^= 1 << pick(8);
                }
                1 => m.truncate(pick(m.len())),
                2 => {
                    let at = pick(m.len().saturating_sub(8));
                    m[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes()[..8]);
                }
                _ => {
                    let at = pick(m.len());
                    let junk: Vec<u8> = (0..pick(64)).map(|_| pick(256) as u8).collect();
                    m.splice(at..at, junk);
                }
            }
            m
        })
        .collect()
}

#[test]
fn mutated_model_files_give_typed_errors_or_models_never_panics() {
    let seed = model_bytes(7);
    let registry = Registry::with_builtins();
    let mut loaded = 0;
    for m in mutants(&seed, 2000, 11) {
        if let Ok(saved) = SavedModel::from_bytes(&m, Path::new("fuzz")) {
            loaded += 1;
            let _ = saved.instantiate(&registry);
        }
    }
    // A mutant loads only if the mutation missed everything the checksum
    // covers (a cut at the full length, say): a handful at most.
    assert!(loaded < 20, "{loaded} mutants loaded");
}

/// A version-2 model file of `json` and `blob` with a valid checksum, as a
/// hand edit that recomputed it would leave.
fn checksummed_model(json: &[u8], blob: &[u8]) -> Vec<u8> {
    let mut bytes = b"STRATA\0M".to_vec();
    bytes.extend_from_slice(&2u32.to_le_bytes());
    bytes.extend_from_slice(&[0u8; 16]);
    bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&(blob.len() as u64).to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&bytes);
    crc.update(json);
    crc.update(blob);
    bytes.extend_from_slice(&crc.finalize().to_le_bytes());
    bytes.extend_from_slice(json);
    bytes.extend_from_slice(blob);
    bytes
}

#[test]
fn a_json_document_with_a_tensor_beyond_the_blob_is_refused_before_allocating() {
    // A valid checksum over a document that claims a 1e12-value tensor.
    let json = br#"{"spec":{"kind":"dense","config":{"n_inputs":1,"n_outputs":1}},"tensors":[["weight",{"shape":[1000000,1000000],"at":0}]]}"#;
    let bytes = checksummed_model(json, &[0u8; 8]);
    let err = SavedModel::from_bytes(&bytes, Path::new("huge.strata")).unwrap_err();
    assert!(
        err.to_string().contains("a tensor of 1000000000000 values at byte 0 runs past the end of the 8-byte blob"),
        "{err}"
    );
}

/// A tensor whose offset is not a multiple of 4 bytes (Strata writes none)
/// would read each value from the bytes of two: refused, not loaded as
/// weights no one saved.
#[test]
fn a_tensor_at_an_offset_that_is_not_a_multiple_of_4_is_refused() {
    let json = |at: u32| {
        format!(
            r#"{{"spec":{{"kind":"dense","config":{{"n_inputs":1,"n_outputs":1}}}},"tensors":[["weight",{{"shape":[1,1],"at":{at}}}],["bias",{{"shape":[1],"at":8}}]]}}"#
        )
    };
    let blob = [1.5f32, 0.0, 2.5].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
    let saved = SavedModel::from_bytes(&checksummed_model(json(0).as_bytes(), &blob), Path::new("m.strata")).unwrap();
    assert_eq!(saved.tensors[0].1.data(), [1.5], "the aligned file reads");
    let err = SavedModel::from_bytes(&checksummed_model(json(2).as_bytes(), &blob), Path::new("m.strata")).unwrap_err();
    assert!(err.to_string().contains("a tensor at byte 2 of the blob is not at a multiple of 4 bytes"), "{err}");
}

/// A key given twice in the document (a hand edit that added a second
/// "tensors" list, say) is refused: the last one was taken in silence.
#[test]
fn a_document_that_gives_a_key_twice_is_refused() {
    let json = br#"{"spec":{"kind":"dense","config":{"n_inputs":1,"n_outputs":1}},"tensors":[["weight",{"shape":[1,1],"at":0}],["bias",{"shape":[1],"at":4}]],"tensors":[]}"#;
    let blob = [1.5f32, 0.0].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
    let err = SavedModel::from_bytes(&checksummed_model(json, &blob), Path::new("m.strata")).unwrap_err();
    assert!(err.to_string().contains("the key \"tensors\" is given twice in one object at line 1"), "{err}");
}

#[test]
fn mutated_safetensors_files_give_typed_errors_or_weights_never_panics() {
    let mut model = crate::mlp(8);
    let seed = strata_io::safetensors::export(model.as_mut(), None).unwrap();
    let mut loaded = 0;
    for m in mutants(&seed, 2000, 12) {
        let mut target = crate::mlp(9);
        if strata_io::safetensors::import(target.as_mut(), &m, Path::new("fuzz.safetensors")).is_ok() {
            loaded += 1;
        }
    }
    // safetensors has no checksum: a flipped bit in a value still loads (a
    // different value), and that is all that may.
    assert!(loaded < 600, "{loaded} mutants loaded");
}

/// A version-1 file of 36 bytes, checksummed, whose payload claims a spec
/// string of 8 GiB: refused at the decoder's limit (2 GiB), before a buffer
/// of the claimed size is made.
#[test]
fn a_version_1_file_that_claims_gigabytes_is_refused_before_allocating() {
    use std::hash::Hasher;
    let payload = (1u64 << 33).to_le_bytes();
    let mut fnv = fnv::FnvHasher::default();
    fnv.write(&payload);
    let mut file = b"STRATA\0M".to_vec();
    file.extend_from_slice(&1u32.to_le_bytes());
    file.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    file.extend_from_slice(&fnv.finish().to_le_bytes());
    file.extend_from_slice(&payload);
    assert_eq!(file.len(), 36);
    let err = SavedModel::from_bytes(&file, Path::new("v1.strata")).unwrap_err();
    assert_eq!(err.to_string(), "v1.strata: not a valid Strata model file: payload: LimitExceeded");
}
