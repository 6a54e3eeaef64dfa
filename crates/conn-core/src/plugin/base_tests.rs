use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};

use super::*;
use crate::error::{ErrorKind, TimeoutError};
use crate::plugin::CancelGuard;

/// What the test connector of one connection name counts and is told to do.
#[derive(Default)]
struct Probe {
    connects: AtomicUsize,
    /// Connects that fail (refused) before one succeeds.
    refuse: AtomicUsize,
    connect_ms: AtomicUsize,
    loses_data: AtomicBool,
}

static PROBES: LazyLock<Mutex<HashMap<String, Arc<Probe>>>> = LazyLock::new(Default::default);

fn probe(name: &str) -> Arc<Probe> {
    Arc::clone(PROBES.lock().unwrap().entry(name.to_owned()).or_default())
}

/// A connector whose raw connection is the number of the connect that opened it.
struct TestConnector {
    probe: Arc<Probe>,
}

impl Connector for TestConnector {
    type Raw = usize;

    fn from_config(config: &ConnectionConfig) -> Result<Self> {
        Ok(TestConnector {
            probe: probe(config.name()),
        })
    }

    async fn connect(&self) -> Result<usize> {
        let ms = self.probe.connect_ms.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(u64::try_from(ms).unwrap())).await;
        let n = self.probe.connects.fetch_add(1, Ordering::SeqCst) + 1;
        if self.probe.refuse.load(Ordering::SeqCst) >= n {
            return Err(Error::driver(
                "probe connect",
                ErrorClass::Transient,
                "connection refused",
            ));
        }
        Ok(n)
    }

    fn reset_loses_data(&self) -> bool {
        self.probe.loses_data.load(Ordering::SeqCst)
    }
}

fn base(name: &str, toml: &str) -> Base<TestConnector> {
    let config = ConnectionConfig::from_toml(name, "probe", toml, "/app/secrets.toml")
        .unwrap()
        .with_origin(crate::Source::file("/app/secrets.toml", 1, 1));
    let base = Base::new(&config, "probe").unwrap();
    base.set_retry_policy(RetryPolicy::new(3, Duration::from_millis(1)).unwrap());
    base
}

fn stale() -> Error {
    Error::driver("probe query", ErrorClass::Stale, "connection reset")
}

#[test]
fn stale_errors_reset_and_retry_permanent_ones_do_not() {
    let base = base("b_stale", "");
    let attempts = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&attempts);
    let value = runtime::block_on({
        let base = base.clone();
        async move {
            base.run(Idempotence::Read, |_, raw| {
                let n = counted.fetch_add(1, Ordering::SeqCst);
                async move { if n < 2 { Err(stale()) } else { Ok(raw) } }
            })
            .await
        }
    })
    .unwrap();
    assert_eq!(value, 3, "the third attempt ran on the third connection");
    let stats = base.stats();
    assert_eq!((stats.retries, stats.resets, stats.connects), (2, 2, 3));

    let permanent = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&permanent);
    let err = base
        .call("query", {
            let base = base.clone();
            async move {
                base.run(Idempotence::Read, |_, _| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    async {
                        Err::<(), _>(Error::driver(
                            "probe query",
                            ErrorClass::Permanent,
                            "syntax error",
                        ))
                    }
                })
                .await
            }
        })
        .blocking()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "probe query: syntax error (connection configured at /app/secrets.toml:1:1)"
    );
    assert_eq!(permanent.load(Ordering::SeqCst), 1);
    assert_eq!(base.stats().retries, 2, "no retry for a permanent error");
}

#[test]
fn transient_errors_retry_without_a_reset_and_stop_at_the_last_attempt() {
    let base = base("b_transient", "");
    let attempts = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&attempts);
    let err = runtime::block_on({
        let base = base.clone();
        async move {
            base.run(Idempotence::Read, |_, _| {
                counted.fetch_add(1, Ordering::SeqCst);
                async {
                    Err::<(), _>(Error::driver(
                        "probe query",
                        ErrorClass::Transient,
                        "deadlock",
                    ))
                }
            })
            .await
        }
    })
    .unwrap_err();
    assert!(
        err.to_string().starts_with("probe query: deadlock"),
        "{err}"
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    let stats = base.stats();
    assert_eq!(
        (stats.resets, stats.connects),
        (0, 1),
        "transient errors keep the connection"
    );
}

#[test]
fn a_write_is_never_retried_once_it_may_have_reached_the_server() {
    let base = base("b_write", "");
    let attempts = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&attempts);
    let err = base
        .write(move |_, _| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Err::<u64, _>(stale()) }
        })
        .blocking()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Stale);
    assert_eq!(attempts.load(Ordering::SeqCst), 1, "a sent write runs once");
    assert_eq!(
        base.stats().resets,
        1,
        "the broken connection is still reset"
    );

    // Failing before anything was sent (while connecting), it is retried.
    let refused = self::base("b_write_refused", "");
    probe("b_write_refused").refuse.store(2, Ordering::SeqCst);
    let written = refused
        .write(|_, raw| async move { Ok(raw) })
        .blocking()
        .unwrap();
    assert_eq!(written, 3, "two refused connects, then the write ran once");
}

#[test]
fn many_callers_on_one_broken_connection_reconnect_once() {
    let base = base("b_generations", "");
    base.set_retry_policy(RetryPolicy::new(3, Duration::from_millis(50)).unwrap());
    runtime::block_on({
        let base = base.clone();
        async move { base.handle().get().await.map(drop) }
    })
    .unwrap();
    let threads: Vec<_> = (0..32)
        .map(|_| {
            let base = base.clone();
            std::thread::spawn(move || {
                runtime::block_on(async move {
                    base.run(Idempotence::Read, |_, raw| async move {
                        if raw == 1 { Err(stale()) } else { Ok(raw) }
                    })
                    .await
                })
            })
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap().unwrap(), 2);
    }
    let stats = base.stats();
    assert_eq!((stats.connects, stats.resets), (2, 1), "{stats:?}");
}

#[test]
fn a_connection_that_would_lose_data_is_not_reset_by_a_retry() {
    let base = base("b_memory", "");
    probe("b_memory").loses_data.store(true, Ordering::SeqCst);
    let attempts = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&attempts);
    runtime::block_on({
        let base = base.clone();
        async move {
            base.run(Idempotence::Read, |_, _| {
                counted.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>(stale()) }
            })
            .await
        }
    })
    .unwrap_err();
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    assert_eq!(base.stats().resets, 0);
    assert!(base.is_connected());
}

#[test]
fn waiters_on_a_failing_connect_share_its_error() {
    let base = base("b_refused", "retry = { attempts = 1 }");
    let probe = probe("b_refused");
    probe.refuse.store(usize::MAX, Ordering::SeqCst);
    probe.connect_ms.store(100, Ordering::SeqCst);
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let base = base.clone();
            std::thread::spawn(move || base.raw().blocking())
        })
        .collect();
    for thread in threads {
        let err = thread.join().unwrap().unwrap_err();
        assert_eq!(err.to_string(), "probe connect: connection refused");
        assert!(!err.may_have_reached_server());
    }
    assert_eq!(
        probe.connects.load(Ordering::SeqCst),
        1,
        "one connect for all"
    );
}

#[test]
fn connect_timeout_fires_and_says_where_it_was_set() {
    let base = base("b_connect_timeout", "connect_timeout = \"50ms\"");
    probe("b_connect_timeout")
        .connect_ms
        .store(2_000, Ordering::SeqCst);
    let started = std::time::Instant::now();
    let err = base.raw().blocking().unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(
        err.to_string(),
        "connection \"b_connect_timeout\": connect timed out after 50ms (`connect_timeout` \
         set at /app/secrets.toml:1:19)"
    );
}

#[test]
fn a_timeout_stops_the_read_and_names_its_limit() {
    let base = base("b_timeout", "timeout = 0.1");
    let cancelled = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancelled);
    let slow = move |_: Arc<TestConnector>, _: usize| {
        let flag = Arc::clone(&flag);
        async move {
            let guard = CancelGuard::new(move || async move { flag.store(true, Ordering::SeqCst) });
            tokio::time::sleep(Duration::from_secs(30)).await;
            guard.disarm();
            Ok(Table::empty(Arc::new(arrow::datatypes::Schema::empty())))
        }
    };
    let err = base
        .read("slow".into(), Ttl::Forever, Idempotence::Read, slow.clone())
        .blocking()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "connection \"b_timeout\": query timed out after 100ms (`timeout` set at \
         /app/secrets.toml:1:11)"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while !cancelled.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        cancelled.load(Ordering::SeqCst),
        "the read was dropped and cancelled"
    );
    assert!(base.results().is_empty(), "nothing was stored");

    let err = base
        .read("slow2".into(), Ttl::Forever, Idempotence::Read, slow)
        .timeout(Duration::from_millis(30))
        .blocking()
        .unwrap_err();
    let Error::Timeout(timeout) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        **timeout,
        TimeoutError {
            connection: "b_timeout".into(),
            operation: "query".into(),
            after: Duration::from_millis(30),
            limit: Limit::Call,
        }
    );
}

#[test]
fn dropping_an_awaited_read_cancels_it() {
    let base = base("b_drop", "");
    let cancelled = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancelled);
    let call = base.read("q".into(), Ttl::Forever, Idempotence::Read, move |_, _| {
        let flag = Arc::clone(&flag);
        async move {
            let guard = CancelGuard::new(move || async move { flag.store(true, Ordering::SeqCst) });
            tokio::time::sleep(Duration::from_secs(30)).await;
            guard.disarm();
            Ok(Table::empty(Arc::new(arrow::datatypes::Schema::empty())))
        }
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let outcome = tokio::time::timeout(Duration::from_millis(100), call.into_future()).await;
        assert!(outcome.is_err(), "still running when dropped");
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while !cancelled.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(cancelled.load(Ordering::SeqCst));
}

#[test]
fn a_write_clears_cached_results_even_when_it_fails_after_sending() {
    let base = base("b_write_clears", "");
    base.read("q".into(), Ttl::Forever, Idempotence::Read, |_, _| async {
        Ok(Table::empty(Arc::new(arrow::datatypes::Schema::empty())))
    })
    .blocking()
    .unwrap();
    assert_eq!(base.results().len(), 1);
    base.write(|_, _| async { Err::<(), _>(stale()) })
        .blocking()
        .unwrap_err();
    assert!(base.results().is_empty());
}

#[test]
fn a_write_dropped_half_way_clears_cached_results() {
    let base = base("b_write_dropped", "");
    base.read("q".into(), Ttl::Forever, Idempotence::Read, |_, _| async {
        Ok(Table::empty(Arc::new(arrow::datatypes::Schema::empty())))
    })
    .blocking()
    .unwrap();
    assert_eq!(base.results().len(), 1);
    let err = base
        .write(|_, _| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(())
        })
        .timeout(Duration::from_millis(50))
        .blocking()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(
        base.results().is_empty(),
        "the write may have applied: results dropped"
    );
    // A write that failed before anything was sent keeps them.
    base.read("q".into(), Ttl::Forever, Idempotence::Read, |_, _| async {
        Ok(Table::empty(Arc::new(arrow::datatypes::Schema::empty())))
    })
    .blocking()
    .unwrap();
    base.write(|_, _| async {
        Err::<(), _>(Error::driver("probe", ErrorClass::Permanent, "refused").before_send())
    })
    .blocking()
    .unwrap_err();
    assert_eq!(base.results().len(), 1);
}

/// The soak in miniature: threads reading one key with a long ttl, a short ttl and
/// none, threads writing (a counter standing for the data) through `Base::write`, and a
/// thread resetting the connection, at once. No reader ever sees the data go back.
#[test]
fn no_read_goes_back_in_time_under_writes_and_resets() {
    use arrow::array::{Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};
    let base = base("b_no_going_back", "");
    let data = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let stale = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for i in 0..24 {
        let (base, data, stale, stop) = (
            base.clone(),
            Arc::clone(&data),
            Arc::clone(&stale),
            Arc::clone(&stop),
        );
        threads.push(std::thread::spawn(move || {
            let ttl = match i % 4 {
                1 => Ttl::Forever,
                2 => Ttl::After(Duration::from_millis(2)),
                _ => Ttl::ZERO,
            };
            let mut last = i64::MIN;
            while !stop.load(Ordering::SeqCst) {
                if i % 4 == 0 {
                    let data = Arc::clone(&data);
                    base.write(move |_, _| {
                        let data = Arc::clone(&data);
                        async move {
                            tokio::task::yield_now().await;
                            Ok(data.fetch_add(1, Ordering::SeqCst))
                        }
                    })
                    .blocking()
                    .unwrap();
                    continue;
                }
                let data = Arc::clone(&data);
                let table = base
                    .read("total".into(), ttl, Idempotence::Read, move |_, _| {
                        let data = Arc::clone(&data);
                        async move {
                            let seen = data.load(Ordering::SeqCst);
                            tokio::task::yield_now().await;
                            let schema = Arc::new(Schema::new(vec![Field::new(
                                "n",
                                DataType::Int64,
                                false,
                            )]));
                            Ok(Table::from_batch(
                                RecordBatch::try_new(
                                    schema,
                                    vec![Arc::new(Int64Array::from(vec![seen]))],
                                )
                                .unwrap(),
                            ))
                        }
                    })
                    .blocking()
                    .unwrap();
                let now = table.batches()[0]
                    .column(0)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .unwrap()
                    .value(0);
                if now < last {
                    stale.fetch_add(1, Ordering::SeqCst);
                }
                last = last.max(now);
            }
        }));
    }
    for _ in 0..200 {
        std::thread::sleep(Duration::from_millis(5));
        base.reset();
    }
    stop.store(true, Ordering::SeqCst);
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(stale.load(Ordering::SeqCst), 0, "reads went back in time");
}
