//! Ctrl-C, watched for the whole run: once a handler is installed the terminal's
//! interrupt no longer kills the process, so every wait and every loop of the commands
//! must see it, also between two batches of output. A second Ctrl-C exits at once
//! (code 130), whatever the command is blocked on.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use std::future::IntoFuture;

use conn_core::plugin::runtime;

use crate::error::{CliError, CliResult};
use tokio::sync::Notify;

static REQUESTED: AtomicBool = AtomicBool::new(false);
static NOTIFY: Notify = Notify::const_new();
static INSTALLED: OnceLock<()> = OnceLock::new();

/// Starts watching for Ctrl-C (once; later calls do nothing).
pub fn install() {
    INSTALLED.get_or_init(|| {
        if let Ok(handle) = runtime::handle() {
            handle.spawn(async {
                while tokio::signal::ctrl_c().await.is_ok() {
                    if REQUESTED.swap(true, Ordering::SeqCst) {
                        // A second Ctrl-C: the user will not wait for the first to be
                        // handled (a blocked write, the wait for cancel requests).
                        std::process::exit(130);
                    }
                    NOTIFY.notify_waiters();
                }
            });
        }
    });
}

/// Whether Ctrl-C was pressed.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Resolves when Ctrl-C is pressed (at once if it already was).
pub async fn pressed() {
    loop {
        let notified = NOTIFY.notified();
        if requested() {
            return;
        }
        notified.await;
    }
}

/// Runs `work` (a query, read or write) until it ends or Ctrl-C is pressed. On Ctrl-C
/// the work is dropped, which makes the connection type ask the server to stop the
/// statement (and roll back an unfinished write), and that request is given up to five
/// seconds to go out before the command exits with code 130.
pub fn interruptible<W, T>(work: W) -> CliResult<T>
where
    W: IntoFuture<Output = conn::Result<T>>,
    W::IntoFuture: Send + 'static,
    T: Send + 'static,
{
    install();
    if requested() {
        return Err(stop_after_interrupt());
    }
    let work = work.into_future();
    let outcome = runtime::block_on(async move {
        tokio::select! {
            result = work => Ok(Some(result)),
            () = pressed() => Ok(None),
        }
    })?;
    match outcome {
        Some(result) => Ok(result?),
        None => Err(stop_after_interrupt()),
    }
}

/// The error of an interrupted command, once the cancel requests of the work it
/// dropped went out (or five seconds passed). A dropped call's task counts as pending
/// work until it has stopped, so there is no need to give it a moment first.
pub fn stop_after_interrupt() -> CliError {
    runtime::settle_detached(std::time::Duration::from_secs(5));
    CliError::interrupted()
}
