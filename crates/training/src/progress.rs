use crate::history::EpochRecord;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::io::IsTerminal;

/// How `fit` reports progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Progress {
    /// A progress bar on a terminal, one log line per epoch otherwise.
    #[default]
    Auto,
    /// Always a progress bar (on stderr).
    Bar,
    /// One line per epoch on stdout.
    Log,
    /// Nothing.
    Silent,
}

pub(crate) struct Reporter {
    mode: Progress,
    epochs: usize,
    bar: Option<ProgressBar>,
}

impl Reporter {
    pub(crate) fn new(mode: Progress, epochs: usize, n_batches: usize) -> Reporter {
        let mode = match mode {
            Progress::Auto if std::io::stderr().is_terminal() => Progress::Bar,
            Progress::Auto => Progress::Log,
            m => m,
        };
        let bar = (mode == Progress::Bar).then(|| {
            let bar = ProgressBar::new(n_batches as u64);
            if let Ok(style) =
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} batches, loss {msg} ({elapsed})")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Reporter { mode, epochs, bar }
    }

    pub(crate) fn start_epoch(&mut self, epoch: usize) {
        if let Some(bar) = &self.bar {
            bar.reset();
            bar.set_prefix(format!("epoch {epoch:>3}/{}", self.epochs));
        }
    }

    pub(crate) fn batch(&mut self, batch: usize, running_loss: f32) {
        if let Some(bar) = &self.bar {
            bar.set_position(batch as u64);
            if batch.is_multiple_of(8) {
                bar.set_message(format!("{running_loss:.4}"));
            }
        }
    }

    pub(crate) fn end_epoch(&mut self, r: &EpochRecord) {
        let line = epoch_line(r, self.epochs);
        match (&self.bar, self.mode) {
            (Some(bar), _) => bar.println(line),
            // A log line that cannot be written (a closed pipe, a full
            // disk) does not stop training: the program's own output
            // reports the failure, where `println!` would panic here.
            (None, Progress::Log) => {
                use std::io::Write as _;
                let _ = writeln!(std::io::stdout().lock(), "{line}");
            }
            _ => {}
        }
    }

    pub(crate) fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// `epoch  3/20  loss 0.2103  acc 93.81%  val_loss 0.2410  val_acc 92.75%  lr 9.5e-4  0.41 s`
pub fn epoch_line(r: &EpochRecord, epochs: usize) -> String {
    let mut s = format!("epoch {:>3}/{epochs}  loss {:.4}", r.epoch, r.train_loss);
    if let Some(a) = r.train_accuracy {
        s.push_str(&format!("  acc {:.2}%", a * 100.0));
    }
    if let Some(v) = &r.validation {
        s.push_str(&format!("  val_loss {:.4}", v.loss));
        if let Some(a) = v.accuracy {
            s.push_str(&format!("  val_acc {:.2}%", a * 100.0));
        }
    }
    s.push_str(&format!("  lr {:.2e}  {:.2} s", r.learning_rate, r.seconds));
    s
}

/// Say once per process, on stderr, that Strata's kernels were compiled
/// without optimisation (a debug build of a crate that depends on Strata):
/// training then runs tens of times slower, and the fix is one profile line.
pub(crate) fn warn_if_unoptimized(mode: Progress) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    if strata_tensor::OPTIMIZED || mode == Progress::Silent {
        return;
    }
    ONCE.call_once(|| {
        use std::io::Write as _;
        // A standard error that cannot be written loses the warning, not the run.
        let _ = writeln!(
            std::io::stderr(),
            "strata: warning: Strata was compiled without optimisations (a debug build), so training runs about \
             {UNOPTIMIZED_SLOWDOWN} slower than in release. Build with --release, or add to your Cargo.toml:\n  \
             [profile.dev.package.\"*\"]\n  opt-level = 3"
        );
    });
}

/// How much slower training is without optimisations: the W2 MLP, 2 epochs on
/// the MNIST sample, from a fresh crate depending on `strata` by path took
/// 3.52 s in its debug build and 0.048 s in release (AMD EPYC Zen 5; README).
pub const UNOPTIMIZED_SLOWDOWN: &str = "70x";
