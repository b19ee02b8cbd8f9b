//! A progress bar that appears only on a terminal and only once a run has taken longer than
//! a moment, so short runs and piped output stay clean.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Bar {
    enabled: bool,
    delay: Duration,
    started: Instant,
    bar: OnceLock<ProgressBar>,
}

impl Bar {
    pub fn new(enabled: bool, delay: Duration) -> Bar {
        Bar {
            enabled,
            delay,
            started: Instant::now(),
            bar: OnceLock::new(),
        }
    }

    /// `done` of `total` minutes simulated.
    pub fn update(&self, done: u64, total: u64) {
        if !self.enabled {
            return;
        }
        if self.bar.get().is_none() && self.started.elapsed() < self.delay {
            return;
        }
        let bar = self.bar.get_or_init(|| {
            // Placed before it is drawn, so the first frame shows where the run is.
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
            bar.set_style(
                ProgressStyle::with_template("simulating [{bar:32}] {percent:>3}%, {eta} left")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar.set_position(done);
            bar.reset_eta();
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar
        });
        bar.set_length(total);
        bar.set_position(done);
    }

    pub fn finish(&self) {
        if let Some(bar) = self.bar.get() {
            bar.finish_and_clear();
        }
    }
}
