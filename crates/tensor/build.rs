//! Tell the crate whether it is compiled with optimisations (`OPT_LEVEL`
//! as cargo gives it to build scripts), so that a trainer can warn a user
//! whose debug build runs Strata's kernels unoptimised.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(strata_unoptimized)");
    println!("cargo::rerun-if-env-changed=OPT_LEVEL");
    if std::env::var("OPT_LEVEL").is_ok_and(|level| level == "0") {
        println!("cargo::rustc-cfg=strata_unoptimized");
    }
}
