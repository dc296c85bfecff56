//! `cargo xtask fuzz`: every cargo-fuzz target of `fuzz/` in turn, from its
//! committed seed corpus, under a memory limit (an allocation bomb counts as
//! a crash). Needs `cargo install cargo-fuzz`; the fuzzer's instrumentation
//! needs nightly features, which `RUSTC_BOOTSTRAP=1` enables on stable.

const HELP: &str = "\
cargo xtask fuzz [--seconds N] [--target NAME]

Runs each fuzz target of fuzz/ (model_file, checkpoint, safetensors, csv, idx, text, spec) for N seconds
(default 60) from its seed corpus in fuzz/corpus/NAME (copied to target/fuzz-corpus/NAME, so the committed
corpus stays as it is), with a 2048 MB memory limit. A crash stops the run; its input is saved in
fuzz/artifacts/NAME/: add it to a regression test.
";

/// The targets, in the order they run.
pub const TARGETS: &[&str] = &["model_file", "checkpoint", "safetensors", "csv", "idx", "text", "spec"];

pub fn run(args: &[String]) -> Result<(), String> {
    let (mut seconds, mut only) = (60u64, None::<String>);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                seconds = it.next().and_then(|s| s.parse().ok()).ok_or("--seconds takes a number of seconds")?
            }
            "--target" => only = Some(it.next().ok_or("--target takes a target name")?.clone()),
            "-h" | "--help" => return Err(HELP.into()),
            other => return Err(format!("unknown option '{other}'\n\n{HELP}")),
        }
    }
    if let Some(t) = &only
        && !TARGETS.contains(&t.as_str())
    {
        return Err(format!("unknown target '{t}' (targets: {})", TARGETS.join(", ")));
    }
    let root = crate::workspace_root();
    for target in TARGETS.iter().filter(|t| only.as_deref().is_none_or(|o| o == **t)) {
        let corpus = root.join("target/fuzz-corpus").join(target);
        std::fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
        let seeds = root.join("fuzz/corpus").join(target);
        for entry in std::fs::read_dir(&seeds).map_err(|e| format!("{}: {e}", seeds.display()))?.flatten() {
            let _ = std::fs::copy(entry.path(), corpus.join(entry.file_name()));
        }
        let time = format!("-max_total_time={seconds}");
        let corpus = corpus.display().to_string();
        let args = ["fuzz", "run", "-O", target, &corpus, "--", &time, "-rss_limit_mb=2048", "-print_final_stats=1"];
        println!("fuzzing {target} for {seconds} s");
        crate::run_cmd_env("cargo", &args, &[("RUSTC_BOOTSTRAP", "1")])
            .map_err(|e| format!("{e}\n(cargo-fuzz missing? cargo install cargo-fuzz)"))?;
    }
    Ok(())
}
