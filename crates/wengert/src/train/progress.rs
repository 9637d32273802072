//! Progress output of [`fit`](super::fit) on stderr: a bar redrawn in place on a terminal, one
//! line per epoch otherwise.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use super::{EpochStats, Meter};

/// What [`fit`](super::fit) prints on stderr while it trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verbosity {
    /// A progress bar if stderr is a terminal ([`std::io::IsTerminal`]), else one summary line
    /// per epoch (so logs and CI output stay readable). The default.
    #[default]
    Auto,
    /// The progress bar, even if stderr is not a terminal.
    Always,
    /// Nothing.
    Never,
}

/// Redraws of the bar are at least this far apart (at most ~10 per second).
const REDRAW: Duration = Duration::from_millis(100);

/// Width of the bar between the brackets.
const WIDTH: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bar,
    Lines,
    Quiet,
}

/// The progress printer of one `fit` call.
pub(crate) struct Progress {
    mode: Mode,
    epochs: usize,
    batches: usize,
    last_draw: Option<Instant>,
    /// Length of the bar line last drawn (0 if no line is open).
    open_len: usize,
    /// The last bar drawn, without validation metrics.
    last_bar: String,
}

impl Progress {
    pub(crate) fn new(verbose: Verbosity, epochs: usize, batches: usize) -> Self {
        let mode = match verbose {
            Verbosity::Never => Mode::Quiet,
            Verbosity::Always => Mode::Bar,
            Verbosity::Auto if std::io::stderr().is_terminal() => Mode::Bar,
            Verbosity::Auto => Mode::Lines,
        };
        Progress {
            mode,
            epochs,
            batches,
            last_draw: None,
            open_len: 0,
            last_bar: String::new(),
        }
    }

    /// After batch `done` (counted from 1) of epoch `epoch` (from 0).
    pub(crate) fn batch(&mut self, epoch: usize, done: usize, meter: &Meter, seconds: f64) {
        if self.mode != Mode::Bar {
            return;
        }
        let now = Instant::now();
        let due = self
            .last_draw
            .is_none_or(|t| now.duration_since(t) >= REDRAW);
        if !due && done < self.batches {
            return;
        }
        self.last_draw = Some(now);
        self.last_bar = render_bar(
            epoch + 1,
            self.epochs,
            done,
            self.batches,
            meter.loss(),
            meter.accuracy(),
            seconds,
        );
        let line = self.last_bar.clone();
        self.draw(&line, false);
    }

    /// After epoch `stats.epoch`: completes the bar with the validation metrics, or prints the
    /// summary line.
    pub(crate) fn end_epoch(&mut self, stats: &EpochStats) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Lines => {
                let line = render_summary(stats, self.epochs);
                let _ = writeln!(std::io::stderr().lock(), "{line}");
            }
            Mode::Bar => {
                let mut line = render_bar(
                    stats.epoch,
                    self.epochs,
                    self.batches,
                    self.batches,
                    stats.loss,
                    stats.accuracy,
                    stats.seconds,
                );
                line.push_str(&val_metrics(stats));
                self.draw(&line, true);
                self.last_draw = None;
            }
        }
    }

    /// Writes `line` over the open one (padding with spaces over a longer previous line).
    fn draw(&mut self, line: &str, finish: bool) {
        let pad = self.open_len.saturating_sub(line.chars().count());
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}{:pad$}", "");
        if finish {
            let _ = writeln!(err);
            self.open_len = 0;
        } else {
            self.open_len = line.chars().count();
        }
        let _ = err.flush();
    }
}

impl Drop for Progress {
    /// Ends an open bar line (e.g. when `fit` returns an error mid-epoch).
    fn drop(&mut self) {
        if self.open_len > 0 {
            let _ = writeln!(std::io::stderr().lock());
        }
    }
}

/// `epoch 3/10 [=========>          ] 187/313 loss 0.4123 acc 0.861 12.3s`.
pub(crate) fn render_bar(
    epoch: usize,
    epochs: usize,
    done: usize,
    total: usize,
    loss: f64,
    accuracy: Option<f64>,
    seconds: f64,
) -> String {
    let filled = (done * WIDTH)
        .checked_div(total)
        .unwrap_or(WIDTH)
        .min(WIDTH);
    let bar = if filled >= WIDTH {
        "=".repeat(WIDTH)
    } else {
        format!("{}>{}", "=".repeat(filled), " ".repeat(WIDTH - filled - 1))
    };
    let digits = total.to_string().len();
    let mut s = format!("epoch {epoch}/{epochs} [{bar}] {done:>digits$}/{total} loss {loss:.4}");
    if let Some(a) = accuracy {
        s.push_str(&format!(" acc {a:.3}"));
    }
    s.push_str(&format!(" {seconds:.1}s"));
    s
}

/// ` val_loss 0.4500 val_acc 0.850`, or nothing without validation data.
fn val_metrics(stats: &EpochStats) -> String {
    let mut s = String::new();
    if let Some(v) = stats.val_loss {
        s.push_str(&format!(" val_loss {v:.4}"));
    }
    if let Some(v) = stats.val_accuracy {
        s.push_str(&format!(" val_acc {v:.3}"));
    }
    s
}

/// `epoch 3/10: loss 0.4123 acc 0.861 val_loss 0.4500 val_acc 0.850 12.3s`.
pub(crate) fn render_summary(stats: &EpochStats, epochs: usize) -> String {
    let mut s = format!("epoch {}/{epochs}: loss {:.4}", stats.epoch, stats.loss);
    if let Some(a) = stats.accuracy {
        s.push_str(&format!(" acc {a:.3}"));
    }
    s.push_str(&val_metrics(stats));
    s.push_str(&format!(" {:.1}s", stats.seconds));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_fills_in_proportion_and_shows_metrics() {
        assert_eq!(
            render_bar(3, 10, 187, 313, 0.41234, Some(0.8612), 12.34),
            "epoch 3/10 [===========>        ] 187/313 loss 0.4123 acc 0.861 12.3s"
        );
        assert_eq!(
            render_bar(1, 2, 0, 5, 1.0, None, 0.0),
            "epoch 1/2 [>                   ] 0/5 loss 1.0000 0.0s"
        );
        assert_eq!(
            render_bar(2, 2, 5, 5, 0.5, None, 1.0),
            "epoch 2/2 [====================] 5/5 loss 0.5000 1.0s"
        );
        // the count is right-aligned so the line does not jump while it is redrawn
        assert!(render_bar(1, 1, 7, 313, 0.5, None, 1.0).contains("]   7/313 "));
    }

    #[test]
    fn summary_line_has_validation_metrics_when_present() {
        let mut e = EpochStats {
            epoch: 3,
            loss: 0.41234,
            accuracy: Some(0.8612),
            val_loss: Some(0.45),
            val_accuracy: Some(0.85),
            seconds: 12.34,
        };
        assert_eq!(
            render_summary(&e, 10),
            "epoch 3/10: loss 0.4123 acc 0.861 val_loss 0.4500 val_acc 0.850 12.3s"
        );
        e.accuracy = None;
        e.val_loss = None;
        e.val_accuracy = None;
        assert_eq!(render_summary(&e, 10), "epoch 3/10: loss 0.4123 12.3s");
    }
}
