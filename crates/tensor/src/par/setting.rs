//! A process-wide setting of three values, fixed by a setter or read once
//! from an environment variable, else [`AUTO`]: the placement
//! (`STRATA_PLACEMENT`) and the step's threads (`STRATA_STEP_THREADS`).

use std::sync::atomic::{AtomicU8, Ordering};

/// Not fixed: measured.
pub(super) const AUTO: u8 = 0;
/// Neither set nor read from the environment yet.
const UNREAD: u8 = u8::MAX;

pub(super) struct Setting {
    var: &'static str,
    /// The values the variable may name: the first is 1, the second 2.
    names: [&'static str; 2],
    value: AtomicU8,
}

impl Setting {
    pub(super) const fn new(var: &'static str, names: [&'static str; 2]) -> Setting {
        Setting { var, names, value: AtomicU8::new(UNREAD) }
    }

    /// [`AUTO`], 1 or 2: as set, else as the variable names it (in any
    /// case), else [`AUTO`].
    pub(super) fn get(&self) -> u8 {
        let v = self.value.load(Ordering::Acquire);
        if v != UNREAD {
            return v;
        }
        let named =
            std::env::var(self.var).ok().and_then(|v| self.names.iter().position(|n| v.eq_ignore_ascii_case(n)));
        let from_env = named.map_or(AUTO, |i| i as u8 + 1);
        // A value set meanwhile wins.
        let _ = self.value.compare_exchange(UNREAD, from_env, Ordering::AcqRel, Ordering::Acquire);
        self.value.load(Ordering::Acquire)
    }

    /// Fixes the value from now on (the variable is no longer read).
    pub(super) fn set(&self, value: u8) {
        self.value.store(value, Ordering::Release);
    }
}
