//! Work that outlives the call that started it: what a dropped write must wait for.
//!
//! Dropping a call aborts its task, but the work it started may go on for a moment: a
//! statement runs on the server until the cancel request reaches it (and may commit
//! first), DuckDB's blocking work runs to its end (a COMMIT cannot be interrupted).
//! A write's [`ClearGuard`](crate::plugin::ClearGuard) must not clear the cached
//! results and open its gate before that work has ended, or a read in between stores
//! what the write is about to change. [`Settle`] runs the write with a slot in which
//! the parts being dropped leave what to wait for: a [`CancelGuard`] its cancel
//! request, [`run_blocking`](crate::plugin::runtime::run_blocking) its unfinished
//! work. The value held (the guard) is dropped once all of it has finished.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::{BoxFuture, join_all};
use parking_lot::Mutex;

use crate::plugin::runtime;

type Waits = Arc<Mutex<Vec<BoxFuture<'static, ()>>>>;

tokio::task_local! {
    static SETTLING: Waits;
}

/// Hands `wait` to the [`Settle`] whose work is being dropped or run, if any: it then
/// runs before the settle's value is released. Outside a settle it is spawned at once.
pub(crate) fn after_drop<F>(wait: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut wait = Some(Box::pin(wait) as BoxFuture<'static, ()>);
    let _ = SETTLING.try_with(|waits| {
        if let Some(wait) = wait.take() {
            waits.lock().push(wait);
        }
    });
    if let Some(wait) = wait {
        runtime::spawn_detached(wait);
    }
}

/// Runs `work` holding `held`; resolves to the work's output and `held` back (always
/// `Some` when it resolves). Dropped before the work ended, it drops the work first and
/// `held` only after everything the work's parts handed over while being dropped has
/// finished: the cancel requests of its [`CancelGuard`](crate::plugin::CancelGuard)s and
/// the blocking work of its [`run_blocking`](crate::plugin::runtime::run_blocking)
/// calls. A write holds its [`ClearGuard`](crate::plugin::ClearGuard) so:
///
/// ```ignore
/// let (outcome, stale_results) = Settle::new(results.clear_on_drop(), commit()).await;
/// ```
pub struct Settle<H: Send + 'static, F: Future> {
    work: Option<Pin<Box<tokio::task::futures::TaskLocalFuture<Waits, F>>>>,
    waits: Waits,
    held: Option<H>,
}

impl<H: Send + 'static, F: Future> Settle<H, F> {
    /// Runs `work` holding `held`.
    pub fn new(held: H, work: F) -> Self {
        let waits = Waits::default();
        Settle {
            work: Some(Box::pin(SETTLING.scope(Arc::clone(&waits), work))),
            waits,
            held: Some(held),
        }
    }

    /// Spawns what was handed over (cancels of guards dropped during the work), then
    /// drops `held` once they have finished.
    fn release(&mut self, held: Option<H>) {
        let waits = std::mem::take(&mut *self.waits.lock());
        match (waits.is_empty(), held) {
            (true, held) => drop(held),
            (false, held) => runtime::spawn_detached(async move {
                join_all(waits).await;
                drop(held);
            }),
        }
    }
}

// `held` is never pinned (it is moved out whole) and the work is boxed.
impl<H: Send + 'static, F: Future> Unpin for Settle<H, F> {}

impl<H: Send + 'static, F: Future> Future for Settle<H, F> {
    type Output = (F::Output, Option<H>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(work) = self.work.as_mut() else {
            return Poll::Pending;
        };
        let output = std::task::ready!(work.as_mut().poll(cx));
        self.work = None;
        let held = self.held.take();
        // A guard dropped armed while the work ran (a timed-out statement) left its
        // cancel here: it runs now, and the value goes back to the caller.
        self.release(None);
        Poll::Ready((output, held))
    }
}

impl<H: Send + 'static, F: Future> Drop for Settle<H, F> {
    fn drop(&mut self) {
        // Dropping the work drops its parts with the slot in scope: they hand over
        // what must finish first.
        drop(self.work.take());
        let held = self.held.take();
        self.release(held);
    }
}

impl<H: Send + 'static, F: Future> std::fmt::Debug for Settle<H, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settle")
            .field("running", &self.work.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::plugin::CancelGuard;

    /// Sets its flag when dropped.
    struct Flag(Arc<AtomicBool>);

    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    /// Waits up to 10 s for `flag`.
    fn eventually(flag: &AtomicBool) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !flag.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        flag.load(Ordering::SeqCst)
    }

    #[test]
    fn a_dropped_work_releases_its_value_only_after_its_blocking_part_ended() {
        let released = Arc::new(AtomicBool::new(false));
        let work_ended = Arc::new(AtomicBool::new(false));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (end_tx, end_rx) = std::sync::mpsc::channel::<()>();
        let task = {
            let (released, work_ended) = (Arc::clone(&released), Arc::clone(&work_ended));
            runtime::runtime().unwrap().spawn(async move {
                let settle = Settle::new(
                    Flag(released),
                    runtime::run_blocking(move || {
                        let _ = started_tx.send(());
                        let _ = end_rx.recv();
                        work_ended.store(true, Ordering::SeqCst);
                        Ok(())
                    }),
                );
                let _ = settle.await;
            })
        };
        started_rx.recv().unwrap();
        task.abort();
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            !released.load(Ordering::SeqCst),
            "released while the blocking work still ran"
        );
        end_tx.send(()).unwrap();
        assert!(eventually(&work_ended));
        assert!(eventually(&released), "released after the work ended");
    }

    #[test]
    fn a_dropped_work_releases_its_value_after_its_cancel_was_sent() {
        let released = Arc::new(AtomicBool::new(false));
        let cancel_ended = Arc::new(AtomicBool::new(false));
        let released_before_cancel = Arc::new(AtomicBool::new(false));
        let task = {
            let (released, cancel_ended, early) = (
                Arc::clone(&released),
                Arc::clone(&cancel_ended),
                Arc::clone(&released_before_cancel),
            );
            runtime::runtime().unwrap().spawn(async move {
                let probe = Arc::clone(&released);
                let settle = Settle::new(Flag(released), async move {
                    let _guard = CancelGuard::new(move || async move {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        early.store(probe.load(Ordering::SeqCst), Ordering::SeqCst);
                        cancel_ended.store(true, Ordering::SeqCst);
                    });
                    std::future::pending::<()>().await;
                });
                let _ = settle.await;
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        task.abort();
        assert!(eventually(&cancel_ended), "the cancel ran");
        assert!(eventually(&released));
        assert!(!released_before_cancel.load(Ordering::SeqCst));
    }

    #[test]
    fn a_finished_work_gives_its_value_back_and_runs_cancels_left_behind() {
        let cancelled = Arc::new(AtomicBool::new(false));
        let outcome = runtime::block_on({
            let cancelled = Arc::clone(&cancelled);
            async move {
                let (out, held) = Settle::new(7_u32, async move {
                    // A guard dropped armed during the work (a statement that timed out).
                    drop(CancelGuard::new(move || async move {
                        cancelled.store(true, Ordering::SeqCst);
                    }));
                    1_u32
                })
                .await;
                Ok((out, held))
            }
        });
        assert_eq!(outcome.ok(), Some((1, Some(7))));
        assert!(eventually(&cancelled));
    }
}
