//! One API for async and blocking callers.
//!
//! Every driver future runs on conn's own tokio runtime (two worker threads named
//! `conn-worker`, started on first use). That is what makes the rest simple:
//!
//! * `.await` works from any executor, because awaiting a spawned task's handle does
//!   not need the caller to be on tokio at all;
//! * blocking calls work from plain threads, and from inside a current-thread or
//!   multi-thread tokio runtime without the "Cannot start a runtime from within a
//!   runtime" panic, because the caller only waits while conn's runtime does the work;
//! * pools and sockets live on a runtime that outlives every caller's runtime, so a
//!   connection cached by one `#[tokio::test]` still works in the next.

use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use tokio::runtime::{Builder, Handle, Runtime, RuntimeFlavor};
use tokio::sync::Notify;

use crate::error::{Error, Result};

static RUNTIME: LazyLock<std::result::Result<Runtime, String>> = LazyLock::new(|| {
    let workers = std::thread::available_parallelism()
        .map_or(2, std::num::NonZero::get)
        .clamp(2, 8);
    Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("conn-worker")
        .enable_all()
        .build()
        .map_err(|err| format!("cannot start conn's tokio runtime: {err}"))
});

/// conn's runtime, or the error that starting it gave.
pub(crate) fn runtime() -> Result<&'static Runtime> {
    RUNTIME.as_ref().map_err(|err| Error::Io {
        context: "starting conn's runtime".into(),
        message: err.clone(),
    })
}

/// Enters conn's runtime context until the guard drops: driver objects dropped or
/// created meanwhile (a pooled connection returning itself, a timer) find a runtime
/// even on a plain thread.
pub fn enter() -> Result<tokio::runtime::EnterGuard<'static>> {
    runtime().map(Runtime::enter)
}

/// Drops `value` inside conn's runtime context (see [`enter`]).
pub fn drop_in_runtime<T>(value: T) {
    let _context = enter();
    drop(value);
}

/// A handle to conn's runtime, for drivers that need to spawn background tasks there.
pub fn handle() -> Result<Handle> {
    runtime().map(|rt| rt.handle().clone())
}

/// Runs `future` on conn's runtime and waits for it without blocking: usable from any
/// async executor.
///
/// Dropping the returned future stops the work: the task on conn's runtime is aborted,
/// which drops `future` at its next await point (and with it whatever it holds: a
/// query in flight is cancelled on the server by the connection type's drop guards, an
/// open transaction is rolled back).
pub async fn run<F, T>(future: F) -> Result<T>
where
    F: Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let task = AbortOnDrop(Some(runtime()?.spawn(future)));
    joined(task.await)
}

/// A spawned task that is aborted when its handle is dropped before it finished.
struct AbortOnDrop<T: Send + 'static>(Option<tokio::task::JoinHandle<T>>);

impl<T: Send + 'static> Future for AbortOnDrop<T> {
    type Output = std::result::Result<T, tokio::task::JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.0.as_mut() {
            Some(task) => {
                let output = std::task::ready!(Pin::new(task).poll(cx));
                self.0 = None;
                Poll::Ready(output)
            }
            None => Poll::Pending,
        }
    }
}

impl<T: Send + 'static> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            abort_counted(task);
        }
    }
}

/// Aborts `task` and, until it has really stopped, counts it as detached work: an
/// aborted task is dropped a moment later, on a worker thread, and only then do its
/// drop guards spawn their cleanup (a cancel request). [`settle_detached`] called at
/// once after the abort must wait for both, not see nothing pending yet.
pub(crate) fn abort_counted<T: Send + 'static>(task: tokio::task::JoinHandle<T>) {
    task.abort();
    if !task.is_finished() {
        spawn_detached(async move {
            let _ = task.await;
        });
    }
}

/// Blocking work that, dropped before it ended, is aborted if it has not started and
/// otherwise waited for by the write it belongs to (see `settle`): a thread cannot be
/// stopped half-way.
struct SettleOnDrop<T: Send + 'static>(Option<tokio::task::JoinHandle<T>>);

impl<T: Send + 'static> Future for SettleOnDrop<T> {
    type Output = std::result::Result<T, tokio::task::JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.0.as_mut() {
            Some(task) => {
                let output = std::task::ready!(Pin::new(task).poll(cx));
                self.0 = None;
                Poll::Ready(output)
            }
            None => Poll::Pending,
        }
    }
}

impl<T: Send + 'static> Drop for SettleOnDrop<T> {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
            if !task.is_finished() {
                crate::plugin::settle::after_drop(async move {
                    let _ = task.await;
                });
            }
        }
    }
}

/// Detached tasks spawned and not yet finished or dropped.
static DETACHED: AtomicUsize = AtomicUsize::new(0);
/// Woken when [`DETACHED`] falls to zero.
static SETTLED: Notify = Notify::const_new();

/// Counts one detached task while it lives (finished, aborted or dropped with the
/// runtime alike).
struct DetachedGuard;

impl Drop for DetachedGuard {
    fn drop(&mut self) {
        if DETACHED.fetch_sub(1, Ordering::AcqRel) == 1 {
            SETTLED.notify_waiters();
        }
    }
}

/// Spawns `future` on conn's runtime without waiting for it (cleanup work such as a
/// cancel request or a close that nobody waits for). Does nothing if conn's runtime
/// cannot start. A program about to exit waits for such work with [`settle_detached`],
/// so the work must end: spawn what runs forever on [`handle`] instead.
pub fn spawn_detached<F>(future: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    if let Ok(runtime) = runtime() {
        DETACHED.fetch_add(1, Ordering::AcqRel);
        let guard = DetachedGuard;
        drop(runtime.spawn(async move {
            let _guard = guard;
            future.await;
        }));
    }
}

/// Waits, at most `limit`, until the cleanup work spawned with [`spawn_detached`]
/// (cancel requests for dropped queries, closes) has finished. For a program about to
/// exit right after giving up on a call, so that the server is still told to stop the
/// statement. Returns whether everything finished in time.
///
/// A dropped call's task is aborted asynchronously; it counts as pending work until it
/// has stopped (and so spawned its cancel request), so this can be called at once.
pub fn settle_detached(limit: std::time::Duration) -> bool {
    let wait = async move {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let settled = SETTLED.notified();
            if DETACHED.load(Ordering::Acquire) == 0 {
                return Ok(true);
            }
            if tokio::time::timeout_at(deadline, settled).await.is_err() {
                return Ok(DETACHED.load(Ordering::Acquire) == 0);
            }
        }
    };
    block_on(wait).unwrap_or(false)
}

/// Runs `future` on conn's runtime and blocks the calling thread until it is done.
///
/// Safe to call from a plain thread and from inside any tokio runtime. Inside a
/// multi-thread runtime it uses `block_in_place`, so the caller's other tasks keep
/// running; inside a current-thread runtime the caller's thread simply waits (nothing
/// else could run on it anyway while it is in a blocking call).
pub fn block_on<F, T>(future: F) -> Result<T>
where
    F: Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let task = runtime()?.spawn(future);
    let wait = move || futures::executor::block_on(task);
    let outcome = match Handle::try_current() {
        Ok(current) if current.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(wait)
        }
        _ => wait(),
    };
    joined(outcome)
}

fn joined<T>(outcome: std::result::Result<Result<T>, tokio::task::JoinError>) -> Result<T> {
    match outcome {
        Ok(result) => result,
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        Err(_) => Err(Error::Cancelled {
            context: "a task on conn's runtime".into(),
        }),
    }
}

/// A future that runs inside conn's runtime context wherever it is polled, so that
/// driver timers and sockets it creates belong to conn's runtime. For futures that
/// borrow (a transaction's `&mut self`) and so cannot be spawned.
#[derive(Debug)]
pub struct InConnRuntime<F> {
    future: Pin<Box<F>>,
    handle: Handle,
}

impl<F: Future> Future for InConnRuntime<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _context = self.handle.enter();
        self.future.as_mut().poll(cx)
    }
}

/// Wraps a (possibly borrowing) future so it polls inside conn's runtime context.
pub fn in_runtime<F: Future>(future: F) -> Result<InConnRuntime<F>> {
    Ok(InConnRuntime {
        future: Box::pin(future),
        handle: handle()?,
    })
}

/// Blocks on a (possibly borrowing) future, polling it inside conn's runtime context;
/// like [`block_on`], safe from plain threads and from inside any tokio runtime.
pub fn block_on_borrowed<F: Future<Output = Result<T>>, T>(future: F) -> Result<T> {
    let future = in_runtime(future)?;
    let wait = move || futures::executor::block_on(future);
    match Handle::try_current() {
        Ok(current) if current.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(wait)
        }
        _ => wait(),
    }
}

/// Runs blocking work (a DuckDB query, a file read) on conn's blocking pool and waits
/// for it without blocking the async caller.
pub async fn run_blocking<F, T>(work: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    let task = SettleOnDrop(Some(runtime()?.spawn_blocking(work)));
    joined(task.await)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer() -> Result<u32> {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        Ok(42)
    }

    #[test]
    fn settle_waits_for_detached_work() {
        let (tx, rx) = std::sync::mpsc::channel();
        let release = std::sync::Arc::new(Notify::new());
        let wait_for = std::sync::Arc::clone(&release);
        spawn_detached(async move {
            wait_for.notified().await;
            let _ = tx.send(());
        });
        // Still running: settling gives up at its limit and says so.
        assert!(!settle_detached(std::time::Duration::from_millis(20)));
        release.notify_one();
        assert!(settle_detached(std::time::Duration::from_secs(30)));
        assert!(rx.try_recv().is_ok(), "settled before the work finished");
    }

    #[test]
    fn blocking_from_a_plain_thread() {
        assert_eq!(block_on(answer()).unwrap(), 42);
    }

    #[test]
    fn blocking_inside_a_current_thread_runtime() {
        let rt = Builder::new_current_thread().enable_all().build().unwrap();
        let got = rt.block_on(async { block_on(answer()) }).unwrap();
        assert_eq!(got, 42);
    }

    #[test]
    fn blocking_inside_a_multi_thread_runtime() {
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let got = rt
            .block_on(async { tokio::spawn(async { block_on(answer()) }).await })
            .unwrap()
            .unwrap();
        assert_eq!(got, 42);
    }

    #[test]
    fn awaiting_from_a_foreign_executor() {
        assert_eq!(futures::executor::block_on(run(answer())).unwrap(), 42);
    }

    #[test]
    fn borrowed_futures_get_conn_timers_anywhere() {
        let mut counter = 0;
        let bump = async {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            counter += 1;
            Ok(())
        };
        block_on_borrowed(bump).unwrap();
        let rt = Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            block_on_borrowed(async {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                counter += 1;
                Ok(())
            })
        })
        .unwrap();
        let awaited = futures::executor::block_on(
            in_runtime(async {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                7
            })
            .unwrap(),
        );
        assert_eq!((counter, awaited), (2, 7));
    }

    #[test]
    fn errors_pass_through() {
        let err = block_on(async { Err::<(), _>(Error::Data("boom".into())) }).unwrap_err();
        assert_eq!(err.to_string(), "boom");
    }

    /// A cleanup spawned by a drop guard when a dropped call's task is aborted.
    struct CleanupOnDrop(std::sync::Arc<std::sync::atomic::AtomicBool>);

    impl Drop for CleanupOnDrop {
        fn drop(&mut self) {
            // A drop that takes a while (closing a socket, say) before it spawns.
            std::thread::sleep(std::time::Duration::from_millis(20));
            let done = std::sync::Arc::clone(&self.0);
            spawn_detached(async move {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                done.store(true, Ordering::SeqCst);
            });
        }
    }

    #[test]
    fn settling_right_after_dropping_a_call_waits_for_its_cleanup() {
        for _ in 0..20 {
            let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let guard = CleanupOnDrop(std::sync::Arc::clone(&done));
            let call = run(async move {
                let _guard = guard;
                std::future::pending::<Result<()>>().await
            });
            // Started, then given up on: the task is aborted on conn's runtime.
            let outcome = block_on(async move {
                tokio::select! {
                    _ = call => Ok(false),
                    () = tokio::time::sleep(std::time::Duration::from_millis(5)) => Ok(true),
                }
            });
            assert!(outcome.unwrap());
            assert!(settle_detached(std::time::Duration::from_secs(5)));
            assert!(
                done.load(Ordering::SeqCst),
                "settle_detached returned before the aborted task's cleanup ran"
            );
        }
    }
}
