//! Ctrl-C, watched for the whole run: once a handler is installed the terminal's
//! interrupt no longer kills the process, so every wait and every loop of the commands
//! must see it, also between two batches of output. A second Ctrl-C exits at once
//! (code 130), whatever the command is blocked on.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use conn_core::plugin::runtime;
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
