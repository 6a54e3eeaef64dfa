//! Stopping work on the server when the future doing it is dropped.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

type Cancel = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// Sends a cancel request (PostgreSQL's `pg_cancel_backend`, MySQL's `KILL QUERY`, ...)
/// on conn's runtime if dropped before [`disarm`](Self::disarm).
///
/// A read holds one while its statement runs: when the read is dropped (its caller
/// gave up, or a time limit fired) the guard drops with it and the server stops the
/// statement instead of running it to the end.
#[must_use = "the guard cancels when dropped: keep it while the work runs"]
pub struct CancelGuard {
    cancel: Option<Cancel>,
}

impl fmt::Debug for CancelGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelGuard")
            .field("armed", &self.cancel.is_some())
            .finish()
    }
}

impl CancelGuard {
    /// A guard that runs `cancel` if dropped while armed.
    pub fn new<F, Fut>(cancel: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        CancelGuard {
            cancel: Some(Box::new(move || Box::pin(cancel()))),
        }
    }

    /// The work finished: nothing to cancel.
    pub fn disarm(mut self) {
        self.cancel = None;
    }
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if let Some(cancel) = self.cancel.take() {
            tracing::info!("conn.cancel: asking the server to stop the statement");
            // Inside a write, the write's cache guard waits for the cancel to be sent.
            crate::plugin::settle::after_drop(cancel());
        }
    }
}
