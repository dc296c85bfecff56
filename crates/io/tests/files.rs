use crate::{mlp, model_bytes, scratch};
use std::path::Path;
use strata_io::container::{FileKind, HEADER_LEN};
use strata_io::{FORMAT_VERSION, FormatProblem, IoError, SavedModel};
use strata_layers::{Registry, state_dict};

fn problem(err: IoError) -> FormatProblem {
    match err {
        IoError::Format { problem, .. } => problem,
        other => panic!("expected a format error, got {other:?}"),
    }
}

#[test]
fn a_model_file_round_trips_bit_for_bit_and_names_its_writer() {
    let bytes = model_bytes(1);
    assert_eq!(&bytes[..8], b"STRATA\0M");
    assert_eq!(u32::from_le_bytes(bytes[8..12].try_into().unwrap()), FORMAT_VERSION);
    assert!(bytes[12..28].starts_with(b"strata 0."), "{:?}", &bytes[12..28]);
    let saved = SavedModel::from_bytes(&bytes, Path::new("m")).unwrap();
    assert_eq!(saved.metadata["note"], "test");
    let mut back = saved.instantiate(&Registry::with_builtins()).unwrap();
    assert_eq!(state_dict(back.as_mut()), state_dict(mlp(1).as_mut()));
    // Written again, the same bytes: the format has no clock or address in it.
    assert_eq!(saved.to_bytes().unwrap(), bytes);
}

#[test]
fn the_json_document_is_readable_and_holds_no_numbers_of_the_tensors() {
    let bytes = model_bytes(2);
    let json_len = u64::from_le_bytes(bytes[28..36].try_into().unwrap()) as usize;
    let text = std::str::from_utf8(&bytes[HEADER_LEN..HEADER_LEN + json_len]).unwrap();
    assert!(text.contains(r#""kind":"sequential""#), "{text}");
    assert!(text.contains(r#"["dense_1.weight",{"shape":[3,4],"at":0}]"#), "{text}");
    // The blob: 3*4 + 4 + 4*2 + 2 = 26 values of 4 bytes.
    let blob_len = u64::from_le_bytes(bytes[36..44].try_into().unwrap());
    assert_eq!(blob_len, 26 * 4);
}

#[test]
fn a_truncated_file_says_how_many_bytes_it_lacks_at_every_cut() {
    let bytes = model_bytes(3);
    for cut in 0..bytes.len() {
        let err = SavedModel::from_bytes(&bytes[..cut], Path::new("cut.strata")).unwrap_err();
        match problem(err) {
            FormatProblem::Truncated { expected, actual } => {
                assert_eq!(actual, cut as u64);
                assert!(expected > actual);
            }
            FormatProblem::OtherFormat { found } => assert!(cut < 8, "cut {cut}: {found}"),
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
}

#[test]
fn every_flipped_byte_but_the_magic_version_and_lengths_is_a_checksum_error() {
    let bytes = model_bytes(4);
    for at in (12..28).chain(44..bytes.len()) {
        let mut bad = bytes.clone();
        bad[at] ^= 0x10;
        let err = SavedModel::from_bytes(&bad, Path::new("flip.strata")).unwrap_err();
        assert!(matches!(problem(err), FormatProblem::Checksum { .. }), "byte {at}");
    }
}

#[test]
fn a_newer_version_another_kind_and_other_formats_are_named() {
    let bytes = model_bytes(5);
    let mut newer = bytes.clone();
    newer[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let err = SavedModel::from_bytes(&newer, Path::new("new.strata")).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "new.strata: not a valid Strata model file: format version {}, newer than this build reads (up to {}); \
             written by strata {}",
            FORMAT_VERSION + 1,
            FORMAT_VERSION,
            env!("CARGO_PKG_VERSION")
        )
    );

    let mut checkpoint = bytes.clone();
    checkpoint[..8].copy_from_slice(&FileKind::Checkpoint.magic());
    let err = SavedModel::from_bytes(&checkpoint, Path::new("c.strata")).unwrap_err();
    assert_eq!(err.to_string(), "c.strata: not a valid Strata model file: this is a Strata checkpoint");

    let mut safetensors = 2u64.to_le_bytes().to_vec();
    safetensors.extend_from_slice(b"{}");
    let cases: [(&[u8], &str); 5] = [
        (&safetensors, "a safetensors file (use `strata import`)"),
        (b"PK\x03\x04rest", "a zip archive"),
        (b"  {\"kind\": \"dense\"}", "a JSON file (a model spec?)"),
        (b"", "an empty file"),
        (b"GIF89a......", "not a Strata file (wrong magic bytes)"),
    ];
    for (content, found) in cases {
        let err = SavedModel::from_bytes(content, Path::new("x")).unwrap_err();
        assert!(err.to_string().contains(found), "{err}");
    }
}

#[test]
fn a_missing_file_is_an_io_error_with_its_path() {
    let path = scratch("missing").join("none.strata");
    let err = SavedModel::load(&path).unwrap_err();
    assert!(matches!(&err, IoError::Io { path: p, .. } if p == &path), "{err:?}");
}

#[test]
fn weights_that_do_not_fit_the_spec_are_refused_by_name() {
    let mut saved = SavedModel::from_bytes(&model_bytes(6), Path::new("m")).unwrap();
    saved.tensors.retain(|(name, _)| name != "dense_2.bias");
    let err = saved.instantiate(&Registry::with_builtins()).unwrap_err();
    assert_eq!(err.to_string(), "model file has no tensor 'dense_2.bias'");
}
