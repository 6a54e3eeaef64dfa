use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;
use crate::error::{Error, ErrorClass};
use crate::runtime::block_on;

/// Counts connects and closes; `unhealthy` decides the health check.
#[derive(Default)]
struct Counter {
    connects: AtomicUsize,
    closes: Arc<AtomicUsize>,
    unhealthy: AtomicBool,
}

impl Connector for Counter {
    type Raw = Arc<usize>;

    fn from_config(_: &ConnectionConfig) -> Result<Self> {
        Ok(Counter::default())
    }

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
    Handle::new("h", "probe", Counter::default())
}

fn get(handle: &Handle<Counter>) -> Lease<Arc<usize>> {
    let handle = handle.clone();
    block_on(async move { handle.get().await }).unwrap()
}

#[test]
fn connects_lazily_once_for_many_callers() {
    let handle = handle();
    assert!(!handle.is_connected());
    assert_eq!(handle.connector().connects.load(Ordering::SeqCst), 0);
    let threads: Vec<_> = (0..64)
        .map(|_| {
            let handle = handle.clone();
            std::thread::spawn(move || get(&handle))
        })
        .collect();
    let leases: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(handle.connector().connects.load(Ordering::SeqCst), 1);
    assert!(leases.iter().all(|l| Arc::ptr_eq(l.raw(), leases[0].raw())));
    assert!(leases.iter().all(|l| l.generation() == 1));
    assert_eq!(handle.stats().snapshot().connects, 1);
}

#[test]
fn reset_makes_the_next_use_reconnect_with_a_new_generation() {
    let handle = handle();
    let first = get(&handle);
    handle.reset();
    assert!(!handle.is_connected());
    let second = get(&handle);
    assert_ne!(**first.raw(), **second.raw());
    assert_eq!((first.generation(), second.generation()), (1, 2));
    let stats = handle.stats().snapshot();
    assert_eq!((stats.connects, stats.resets), (2, 1));
}

#[test]
fn reset_if_drops_only_the_generation_that_failed() {
    let handle = handle();
    let first = get(&handle);
    assert!(handle.reset_if(first.generation()));
    let second = get(&handle);
    assert!(
        !handle.reset_if(first.generation()),
        "a late caller of the old connection does not drop the new one"
    );
    assert!(handle.is_connected());
    assert_eq!(get(&handle).generation(), second.generation());
    assert_eq!(handle.stats().snapshot().resets, 1);
}

#[test]
fn a_failed_health_check_resets() {
    let handle = handle();
    futures::executor::block_on(runtime::run({
        let handle = handle.clone();
        async move { handle.check().await }
    }))
    .unwrap();
    handle.connector().unhealthy.store(true, Ordering::SeqCst);
    let err = block_on({
        let handle = handle.clone();
        async move { handle.check().await }
    })
    .unwrap_err();
    assert_eq!(err.to_string(), "probe: gone");
    assert!(!handle.is_connected());
}

#[test]
fn close_releases_through_the_connector() {
    let handle = handle();
    let closes = Arc::clone(&handle.connector().closes);
    get(&handle);
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
