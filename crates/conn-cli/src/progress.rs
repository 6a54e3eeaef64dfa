//! A progress line on standard error while a long query, read or write runs: what is
//! being done, the rows and bytes written so far (for streamed results) and for how
//! long. Only on a terminal, and only after half a second, so short commands, pipes and
//! scripts see nothing.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Quiet this long before the first line.
const QUIET: Duration = Duration::from_millis(500);
/// How often the line is redrawn.
const TICK: Duration = Duration::from_millis(250);

/// The progress line of one operation; dropping it clears the line.
#[derive(Debug)]
pub struct Progress {
    running: Option<(Sender<()>, JoinHandle<()>)>,
    counts: Arc<Counts>,
}

/// Rows and bytes done so far.
#[derive(Debug, Default)]
struct Counts {
    rows: AtomicU64,
    bytes: AtomicU64,
}

impl Progress {
    /// Starts showing `what` ("querying pets_db") with the time taken so far.
    pub fn start(what: String) -> Progress {
        let counts = Arc::new(Counts::default());
        if !std::io::stderr().is_terminal() {
            return Progress {
                running: None,
                counts,
            };
        }
        let shown = Arc::clone(&counts);
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            if !matches!(stopped.recv_timeout(QUIET), Err(RecvTimeoutError::Timeout)) {
                return;
            }
            let mut err = std::io::stderr();
            loop {
                let seconds = started.elapsed().as_secs_f64();
                let rows = shown.rows.load(Ordering::Relaxed);
                let so_far = if rows > 0 {
                    let bytes = shown.bytes.load(Ordering::Relaxed);
                    format!("{rows} rows, {}, ", human_bytes(bytes))
                } else {
                    String::new()
                };
                let _ = write!(err, "\r\x1b[2K{what}: {so_far}{seconds:.1} s");
                let _ = err.flush();
                if !matches!(stopped.recv_timeout(TICK), Err(RecvTimeoutError::Timeout)) {
                    break;
                }
            }
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        });
        Progress {
            running: Some((stop, thread)),
            counts,
        }
    }

    /// Counts `rows` more rows and `bytes` more bytes done.
    pub fn advance(&self, rows: u64, bytes: u64) {
        self.counts.rows.fetch_add(rows, Ordering::Relaxed);
        self.counts.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// `bytes` for people: 512 B, 3.2 MB, 1.5 GB.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    #[allow(clippy::cast_precision_loss)]
    let mut value = bytes as f64;
    let mut unit = "B";
    for next in UNITS {
        if value < 1000.0 {
            break;
        }
        value /= 1000.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.running.take() {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bytes_read_as_people_write_them() {
        assert_eq!(super::human_bytes(512), "512 B");
        assert_eq!(super::human_bytes(3_250_000), "3.2 MB");
        assert_eq!(super::human_bytes(1_500_000_000), "1.5 GB");
    }
}
