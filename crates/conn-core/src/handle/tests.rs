use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;
use crate::error::{Error, ErrorClass};
use crate::runtime::block_on;

/// Counts connects and closes; `healthy` decides the health check.
#[derive(Default)]
struct Counter {
    connects: AtomicUsize,
    closes: Arc<AtomicUsize>,
    unhealthy: std::sync::atomic::AtomicBool,
}

impl Connector for Counter {
    type Raw = Arc<usize>;

    async fn connect(&self) -> Result<Arc<usize>> {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(Arc::new(self.connects.fetch_add(1, Ordering::SeqCst)))
    }

    async fn health_check(&self, _raw: &Arc<usize>) -> Result<()> {
        if self.unhealthy.load(Ordering::SeqCst) {
            Err(Error::driver("probe", ErrorClass::Stale, "gone"))
        } else {
            Ok(())
        }
    }

    async fn close(&self, _raw: Arc<usize>) {
        self.closes.fetch_add(1, Ordering::SeqCst);
    }
}

fn handle() -> Handle<Counter> {
    let handle = Handle::new("h", "probe", Counter::default());
    handle.set_retry_policy(RetryPolicy::new(3, Duration::from_millis(1)).unwrap());
    handle
}

#[test]
fn connects_lazily_once_for_many_callers() {
    let handle = handle();
    assert!(!handle.is_connected());
    assert_eq!(handle.connector().connects.load(Ordering::SeqCst), 0);
    let threads: Vec<_> = (0..64)
        .map(|_| {
            let handle = handle.clone();
            std::thread::spawn(move || handle.connect_blocking().unwrap())
        })
        .collect();
    let raws: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(handle.connector().connects.load(Ordering::SeqCst), 1);
    assert!(raws.iter().all(|r| Arc::ptr_eq(r, &raws[0])));
    assert_eq!(handle.stats_snapshot().connects, 1);
}

#[test]
fn reset_makes_the_next_use_reconnect() {
    let handle = handle();
    let first = handle.connect_blocking().unwrap();
    handle.reset();
    assert!(!handle.is_connected());
    let second = handle.connect_blocking().unwrap();
    assert_ne!(*first, *second);
    let stats = handle.stats_snapshot();
    assert_eq!((stats.connects, stats.resets), (2, 1));
}

#[test]
fn stale_errors_reset_and_retry_permanent_ones_do_not() {
    let handle = handle();
    let attempts = AtomicUsize::new(0);
    let value = block_on({
        let handle = handle.clone();
        async move {
            handle
                .with_retry(|raw| {
                    let n = attempts.fetch_add(1, Ordering::SeqCst);
                    async move {
                        if n < 2 {
                            Err(Error::driver(
                                "probe",
                                ErrorClass::Stale,
                                "connection reset",
                            ))
                        } else {
                            Ok(*raw)
                        }
                    }
                })
                .await
        }
    })
    .unwrap();
    assert_eq!(value, 2, "the third attempt ran on the third connection");
    let stats = handle.stats_snapshot();
    assert_eq!((stats.retries, stats.resets, stats.connects), (2, 2, 3));

    let permanent = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&permanent);
    let err = block_on({
        let handle = handle.clone();
        async move {
            handle
                .with_retry(|_raw| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    async {
                        Err::<(), _>(Error::driver(
                            "probe",
                            ErrorClass::Permanent,
                            "syntax error",
                        ))
                    }
                })
                .await
        }
    })
    .unwrap_err();
    assert_eq!(err.to_string(), "probe: syntax error");
    assert_eq!(permanent.load(Ordering::SeqCst), 1);
    assert_eq!(
        handle.stats_snapshot().retries,
        2,
        "no retry for a permanent error"
    );
}

#[test]
fn retries_stop_after_the_last_attempt() {
    let handle = handle();
    let attempts = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&attempts);
    let err = block_on({
        async move {
            handle
                .with_retry(|_raw| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    async { Err::<(), _>(Error::driver("probe", ErrorClass::Transient, "timeout")) }
                })
                .await
        }
    })
    .unwrap_err();
    assert_eq!(err.to_string(), "probe: timeout");
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
}

#[test]
fn a_failed_health_check_resets() {
    let handle = handle();
    futures::executor::block_on(handle.check()).unwrap();
    handle.connector().unhealthy.store(true, Ordering::SeqCst);
    let err = futures::executor::block_on(handle.check()).unwrap_err();
    assert_eq!(err.to_string(), "probe: gone");
    assert!(!handle.is_connected());
}

#[test]
fn close_releases_through_the_connector() {
    let handle = handle();
    let closes = Arc::clone(&handle.connector().closes);
    handle.connect_blocking().unwrap();
    handle.close();
    for _ in 0..100 {
        if closes.load(Ordering::SeqCst) == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(closes.load(Ordering::SeqCst), 1);
    assert!(!handle.is_connected());
}
