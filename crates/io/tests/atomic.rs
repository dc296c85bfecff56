use crate::{model_bytes, scratch};
use strata_io::{CheckpointDir, SavedModel, atomic_write, atomic_write_with};

#[test]
fn a_failing_writer_leaves_the_old_file_intact_and_no_temporary_file() {
    let dir = scratch("failing-writer");
    let path = dir.join("model.strata");
    let old = model_bytes(1);
    atomic_write(&path, &old).unwrap();
    let new = model_bytes(2);
    let err = atomic_write_with(&path, |w| {
        w.write_all(&new[..new.len() / 2])?;
        Err(std::io::Error::other("disk full (injected)"))
    })
    .unwrap_err();
    assert_eq!(err.to_string(), format!("{}: disk full (injected)", path.display()));
    assert_eq!(std::fs::read(&path).unwrap(), old);
    assert!(SavedModel::load(&path).is_ok());
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["model.strata"]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_next_write_removes_what_a_killed_writer_left() {
    let dir = scratch("stale");
    let path = dir.join("model.strata");
    // What a writer killed between create and rename leaves: `.NAME.PID.tmp`.
    std::fs::write(dir.join(".model.strata.4242.tmp"), b"half a file").unwrap();
    std::fs::write(dir.join(".other.strata.4242.tmp"), b"not ours").unwrap();
    atomic_write(&path, &model_bytes(3)).unwrap();
    let mut names: Vec<_> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, [".other.strata.4242.tmp", "model.strata"]);
    std::fs::remove_dir_all(&dir).ok();
}

#[cfg(unix)]
#[test]
fn a_symlink_is_written_through_and_a_device_or_pipe_in_place() {
    use std::os::unix::fs::FileTypeExt;
    let dir = scratch("special");
    // A link: the file it points to gets the new bytes, the link stays a link.
    let real = dir.join("real.strata");
    atomic_write(&real, b"old").unwrap();
    let link = dir.join("link.strata");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    atomic_write(&link, b"new").unwrap();
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read(&real).unwrap(), b"new");
    // A named pipe: written in place (a reader takes the bytes), still a pipe.
    let fifo = dir.join("fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    atomic_write(&fifo, b"through the pipe").unwrap();
    assert_eq!(reader.join().unwrap(), b"through the pipe");
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    // /dev/null: still the device afterwards (renaming over it, as root, made it a regular file).
    let null = std::path::Path::new("/dev/null");
    if std::fs::metadata(null).is_ok_and(|m| m.file_type().is_char_device()) {
        atomic_write(null, b"discarded").unwrap();
        assert!(std::fs::metadata(null).unwrap().file_type().is_char_device());
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_checkpoint_folder_keeps_the_last_k_and_the_best() {
    let dir = scratch("keep");
    let ckpt = CheckpointDir::create(&dir, 2).unwrap();
    for step in [5, 10, 15, 20] {
        ckpt.write(step, format!("step {step}").as_bytes()).unwrap();
    }
    ckpt.write_best(b"best").unwrap();
    let steps: Vec<u64> = ckpt.checkpoints().unwrap().into_iter().map(|(s, _)| s).collect();
    assert_eq!(steps, [15, 20]);
    assert_eq!(std::fs::read(ckpt.latest().unwrap().unwrap()).unwrap(), b"step 20");
    assert_eq!(std::fs::read(dir.join("best.strata")).unwrap(), b"best");
    // Step numbers order numerically, beyond the zero padding too.
    ckpt.write(123_456_789_012, b"late").unwrap();
    assert_eq!(std::fs::read(ckpt.latest().unwrap().unwrap()).unwrap(), b"late");
    std::fs::remove_dir_all(&dir).ok();
}
