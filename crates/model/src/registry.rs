//! The default registry: every layer kind of the Strata workspace.

use strata_layers::{Registry, Result};

/// A registry with every layer kind of the Strata workspace: the built-ins
/// of `strata-layers` and the kinds of `strata-conv`, `strata-normalization`
/// and `strata-attention`. What [`crate::Model::load`] and the `strata`
/// command build with; add a third-party crate's kinds to it with that
/// crate's `register`.
///
/// ```
/// let registry = strata_model::registry();
/// for kind in ["dense", "conv2d", "batch_norm", "layer_norm", "multi_head_attention"] {
///     assert!(registry.contains(kind), "{kind}");
/// }
/// assert_eq!(registry.provider("conv2d"), Some("strata-conv"));
/// ```
pub fn registry() -> Registry {
    let mut r = Registry::with_builtins();
    // The workspace's crates register distinct kinds, so this cannot fail
    // (a test checks every kind is there).
    let _ = register_workspace(&mut r);
    r
}

fn register_workspace(r: &mut Registry) -> Result<()> {
    strata_conv::register(r)?;
    strata_normalization::register(r)?;
    strata_attention::register(r)?;
    Ok(())
}
