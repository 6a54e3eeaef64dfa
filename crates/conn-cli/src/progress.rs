//! A progress line on standard error while a long query, read or write runs: what is
//! being done and for how long. Only on a terminal, and only after half a second, so
//! short commands, pipes and scripts see nothing. (Results arrive whole from the
//! library, so there are no rows or bytes so far to show.)

use std::io::{IsTerminal, Write};
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
}

impl Progress {
    /// Starts showing `what` ("querying pets_db") with the time taken so far.
    pub fn start(what: String) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress { running: None };
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            if !matches!(stopped.recv_timeout(QUIET), Err(RecvTimeoutError::Timeout)) {
                return;
            }
            let mut err = std::io::stderr();
            loop {
                let seconds = started.elapsed().as_secs_f64();
                let _ = write!(err, "\r\x1b[2K{what}: {seconds:.1} s");
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
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.running.take() {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }
}
