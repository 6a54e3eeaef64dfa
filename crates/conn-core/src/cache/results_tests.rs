use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use arrow::array::{Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};

use super::*;

fn table(rows: i64) -> Table {
    let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
    Table::from_batch(
        RecordBatch::try_new(
            schema,
            vec![Arc::new(Int64Array::from_iter_values(0..rows))],
        )
        .unwrap(),
    )
}

fn cache() -> ResultCache {
    ResultCache::with_budget(Arc::new(Stats::default()), Budget::new(usize::MAX))
}

/// A one-row table holding `value`.
fn valued(value: i64) -> Table {
    let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
    Table::from_batch(
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![value]))]).unwrap(),
    )
}

/// Stores `value` for `key` the only way a value gets in: through a read.
fn store(cache: &ResultCache, key: &str, value: Table, version: Option<&str>) {
    let version = version.map(Arc::from);
    futures::executor::block_on(
        cache.fill_versioned(key, Ttl::Forever, || async { Ok((value, version)) }),
    )
    .unwrap();
}

#[tokio::test]
async fn a_hit_shares_the_stored_data() {
    let cache = cache();
    let first = cache
        .get_or_read("q", Ttl::Forever, || async { Ok(table(1000)) })
        .await
        .unwrap();
    let again = cache
        .get_or_read("q", Ttl::Forever, || async { panic!("must not run") })
        .await
        .unwrap();
    assert!(again.shares_data_with(&first));
    let stats = cache.inner.stats.snapshot();
    assert_eq!((stats.cache_hits, stats.cache_misses), (1, 1));
}

#[tokio::test]
async fn ttl_expires_and_zero_disables() {
    let cache = cache();
    let runs = AtomicUsize::new(0);
    let read = || async {
        runs.fetch_add(1, Ordering::SeqCst);
        Ok(table(1))
    };
    let ttl = Ttl::After(Duration::from_millis(300));
    cache.get_or_read("q", ttl, read).await.unwrap();
    cache.get_or_read("q", ttl, read).await.unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    cache.get_or_read("q", ttl, read).await.unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    cache.get_or_read("z", Ttl::ZERO, read).await.unwrap();
    cache.get_or_read("z", Ttl::ZERO, read).await.unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 4);
    assert!(
        cache.lookup("z", Ttl::Forever).is_none(),
        "ttl 0 stores nothing"
    );
}

#[tokio::test]
async fn errors_are_not_stored() {
    let cache = cache();
    let err = cache
        .get_or_read("q", Ttl::Forever, || async {
            Err(crate::Error::Data("boom".into()))
        })
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "boom");
    assert!(cache.is_empty());
    let ok = cache
        .get_or_read("q", Ttl::Forever, || async { Ok(table(2)) })
        .await
        .unwrap();
    assert_eq!(ok.num_rows(), 2);
}

#[test]
fn concurrent_identical_misses_read_once() {
    let cache = cache();
    let runs = Arc::new(AtomicUsize::new(0));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let cache = cache.clone();
            let runs = Arc::clone(&runs);
            rt.spawn(async move {
                cache
                    .get_or_read("same", Ttl::Forever, || async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(30)).await;
                        Ok(table(10))
                    })
                    .await
                    .unwrap()
            })
        })
        .collect();
    let tables: Vec<Table> = rt.block_on(async {
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.unwrap());
        }
        out
    });
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(tables.iter().all(|t| t.shares_data_with(&tables[0])));
}

#[test]
fn invalidate_one_or_all() {
    let cache = cache();
    store(&cache, "a", table(1), None);
    store(&cache, "b", table(1), None);
    assert!(cache.invalidate("a"));
    assert!(!cache.invalidate("a"));
    assert!(cache.lookup("b", Ttl::Forever).is_some());
    cache.clear();
    assert!(cache.is_empty());
    assert_eq!(cache.bytes(), 0);
}

#[test]
fn the_budget_evicts_least_recently_used_across_caches() {
    let size = table(10_000).memory_size();
    let budget = Budget::new(size * 2 + size / 2);
    let one = ResultCache::with_budget(Arc::new(Stats::default()), budget.clone());
    let two = ResultCache::with_budget(Arc::new(Stats::default()), budget.clone());
    store(&one, "a", table(10_000), None);
    store(&two, "b", table(10_000), None);
    assert!(one.lookup("a", Ttl::Forever).is_some()); // a is now more recent than b
    store(&one, "c", table(10_000), None);
    assert!(
        two.lookup("b", Ttl::Forever).is_none(),
        "b, in the other cache, was least recently used"
    );
    assert!(one.lookup("a", Ttl::Forever).is_some());
    assert!(one.lookup("c", Ttl::Forever).is_some());
    assert_eq!(budget.used_bytes(), one.bytes() + two.bytes());
    assert!(budget.used_bytes() <= budget.max_bytes());
}

#[test]
fn filling_far_past_the_budget_stays_within_it() {
    let size = table(1_000).memory_size();
    let budget = Budget::new(size * 10);
    let caches: Vec<ResultCache> = (0..4)
        .map(|_| ResultCache::with_budget(Arc::new(Stats::default()), budget.clone()))
        .collect();
    for round in 0..200 {
        let cache = &caches[round % caches.len()];
        store(cache, &format!("k{round}"), table(1_000), None);
        assert!(budget.used_bytes() <= budget.max_bytes(), "round {round}");
    }
    let held: usize = caches.iter().map(ResultCache::bytes).sum();
    assert_eq!(budget.used_bytes(), held, "exact accounting");
    // Full means ten results; an eviction pass leaves a little room (low water).
    let held = caches.iter().map(ResultCache::len).sum::<usize>();
    assert!((8..=10).contains(&held), "{held}");
    // A value larger than the whole budget is returned but not stored.
    let huge = futures::executor::block_on(
        caches[0].fill("huge", Ttl::Forever, || async { Ok(table(100_000)) }),
    )
    .unwrap();
    assert_eq!(huge.num_rows(), 100_000);
    assert!(caches[0].lookup("huge", Ttl::Forever).is_none());
}

#[test]
fn a_read_that_started_before_a_clear_never_stores_its_result() {
    let cache = cache();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    let reader = {
        let cache = cache.clone();
        std::thread::spawn(move || {
            futures::executor::block_on(cache.fill("q", Ttl::Forever, || async move {
                started_tx.send(()).unwrap();
                release_rx.await.unwrap();
                Ok(table(3))
            }))
        })
    };
    started_rx.recv().unwrap();
    cache.clear(); // a write committed while the read ran
    release_tx.send(()).unwrap();
    assert_eq!(
        reader.join().unwrap().unwrap().num_rows(),
        3,
        "the caller gets its rows"
    );
    assert!(
        cache.lookup("q", Ttl::Forever).is_none(),
        "but they are not cached"
    );
    assert_eq!(cache.bytes(), 0);

    // The same for invalidating the one key.
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    let reader = {
        let cache = cache.clone();
        std::thread::spawn(move || {
            futures::executor::block_on(cache.fill("k", Ttl::Forever, || async move {
                started_tx.send(()).unwrap();
                release_rx.await.unwrap();
                Ok(table(3))
            }))
        })
    };
    started_rx.recv().unwrap();
    cache.invalidate("k");
    release_tx.send(()).unwrap();
    reader.join().unwrap().unwrap();
    assert!(cache.lookup("k", Ttl::Forever).is_none());
}

#[test]
fn waiters_receive_the_leaders_error_and_the_read_runs_once() {
    let cache = cache();
    let runs = Arc::new(AtomicUsize::new(0));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let cache = cache.clone();
            let runs = Arc::clone(&runs);
            rt.spawn(async move {
                cache
                    .fill("bad", Ttl::Forever, || async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Err::<Table, _>(crate::Error::Data("no such table".into()))
                    })
                    .await
            })
        })
        .collect();
    for task in tasks {
        let err = rt.block_on(task).unwrap().unwrap_err();
        assert_eq!(err.to_string(), "no such table");
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(cache.is_empty(), "a failed key leaves nothing behind");
    assert!(cache.inner.flights.lock().is_empty());
}

#[test]
fn when_the_leader_is_cancelled_a_waiter_takes_over() {
    let cache = cache();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let leader = {
        let cache = cache.clone();
        rt.spawn(async move {
            cache
                .fill("q", Ttl::Forever, || async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    Ok(table(1))
                })
                .await
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let waiter = {
        let cache = cache.clone();
        rt.spawn(async move {
            cache
                .fill("q", Ttl::Forever, || async { Ok(table(2)) })
                .await
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    leader.abort();
    let got = rt.block_on(waiter).unwrap().unwrap();
    assert_eq!(got.num_rows(), 2, "the waiter ran its own read");
    assert_eq!(cache.lookup("q", Ttl::Forever).unwrap().num_rows(), 2);
}

#[test]
fn expired_entries_are_freed_without_another_read() {
    let cache = cache();
    futures::executor::block_on(
        cache.fill("q", Ttl::After(Duration::from_millis(50)), || async {
            Ok(table(100))
        }),
    )
    .unwrap();
    assert!(cache.bytes() > 0);
    std::thread::sleep(Duration::from_millis(60));
    janitor::sweep_all();
    assert!(cache.is_empty());
    assert_eq!(cache.bytes(), 0);
}

#[test]
fn accounting_stays_exact_under_concurrent_reads_and_clears() {
    let size = table(100).memory_size();
    let budget = Budget::new(size * 20);
    let cache = ResultCache::with_budget(Arc::new(Stats::default()), budget.clone());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let cache = cache.clone();
            std::thread::spawn(move || {
                for i in 0..300 {
                    let key = format!("k{}", (t * 7 + i) % 40);
                    futures::executor::block_on(
                        cache.fill(&key, Ttl::Forever, || async { Ok(table(100)) }),
                    )
                    .unwrap();
                    if i % 50 == 0 {
                        cache.clear();
                    }
                    if i % 30 == 0 {
                        cache.invalidate(&key);
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(cache.bytes(), cache.len() * size);
    assert_eq!(budget.used_bytes(), cache.bytes());
    assert!(budget.used_bytes() <= budget.max_bytes());
}

#[test]
fn versions_are_kept_beside_values() {
    let cache = cache();
    store(&cache, "f", table(1), Some("etag-1"));
    let hit = cache.lookup_versioned("f", Ttl::Forever).unwrap();
    assert_eq!(hit.version.as_deref(), Some("etag-1"));
}

/// Two instances of one connection (the old one still held by a caller after a secrets
/// edit replaced it): a write through one clears the other's results, including a read
/// the other had in flight, which must not store its pre-write result.
#[tokio::test]
async fn a_clear_reaches_every_cache_of_the_group() {
    let group = ResultGroup::default();
    let old = cache().in_group(group.clone());
    let new = cache().in_group(group.clone());
    let lone = cache();
    store(&old, "q", table(1), None);
    store(&new, "q", table(2), None);
    store(&lone, "q", table(3), None);

    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let (finish_tx, finish_rx) = tokio::sync::oneshot::channel::<()>();
    new.invalidate("q");
    let in_flight = {
        let new = new.clone();
        tokio::spawn(async move {
            new.fill("q", Ttl::Forever, || async {
                let _ = started_tx.send(());
                let _ = finish_rx.await;
                Ok(table(4))
            })
            .await
        })
    };
    started_rx.await.unwrap();
    drop(old.clear_on_drop()); // a write through the old instance
    let _ = finish_tx.send(());
    assert_eq!(in_flight.await.unwrap().unwrap().num_rows(), 4);

    assert!(old.is_empty(), "the writer's own cache");
    assert!(
        new.is_empty(),
        "the read that started before the write was stored"
    );
    assert_eq!(lone.len(), 1, "a cache outside the group is untouched");

    drop(old);
    new.clear();
    assert_eq!(format!("{group:?}"), "ResultGroup { members: 2 }");
    let _third = cache().in_group(group.clone());
    assert_eq!(
        format!("{group:?}"),
        "ResultGroup { members: 2 }",
        "a dropped cache leaves the group when another joins"
    );
}

/// Readers with a long ttl, a short ttl and none, and writers that change the "data"
/// and clear the cache, all at once on a multi-threaded runtime: no reader ever sees
/// the data go back (a result read before a write served after it).
#[test]
fn no_read_goes_back_in_time_under_concurrent_writes() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let cache = cache();
    let data = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let stale = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_millis(1500);
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..48 {
            let (cache, data, stale) = (cache.clone(), Arc::clone(&data), Arc::clone(&stale));
            tasks.push(tokio::spawn(async move {
                let ttl = match i % 3 {
                    0 => Ttl::Forever,
                    1 => Ttl::After(Duration::from_micros(200)),
                    _ => Ttl::ZERO,
                };
                let mut last = i64::MIN;
                while Instant::now() < deadline {
                    if i % 8 == 0 {
                        let guard = cache.clear_on_drop();
                        tokio::task::yield_now().await;
                        data.fetch_add(1, Ordering::SeqCst);
                        drop(guard);
                        continue;
                    }
                    let data = Arc::clone(&data);
                    let read = cache
                        .get_or_read("total", ttl, || async move {
                            let seen = data.load(Ordering::SeqCst);
                            tokio::task::yield_now().await;
                            Ok(valued(seen))
                        })
                        .await
                        .unwrap();
                    let now = read.batches()[0]
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
        for task in tasks {
            task.await.unwrap();
        }
    });
    assert_eq!(stale.load(Ordering::SeqCst), 0, "reads went back in time");
}

/// While a write is in progress, lookups miss and a read that finishes is not stored
/// (it may have run just before the write's commit, after which another caller may
/// already have seen the new data); a disarmed write keeps what was cached.
#[tokio::test]
async fn nothing_is_stored_or_served_while_a_write_is_in_progress() {
    let cache = cache();
    store(&cache, "q", table(1), None);
    let write = cache.clear_on_drop();
    assert!(
        cache.lookup("q", Ttl::Forever).is_none(),
        "served during a write"
    );
    store(&cache, "other", table(2), None);
    assert_eq!(
        cache.len(),
        1,
        "a read finished during the write was stored"
    );
    write.disarm();
    assert_eq!(
        cache.lookup("q", Ttl::Forever).map(|t| t.num_rows()),
        Some(1),
        "a write that never reached the source keeps the cache"
    );
    let write = cache.clear_on_drop();
    drop(write);
    assert!(cache.is_empty());
    store(&cache, "q", table(3), None);
    assert_eq!(cache.len(), 1, "stores resume after the write");
}

/// A read in flight when a write starts may have read before the write's commit; a
/// caller arriving during the write (who may have seen the new data) does not join it
/// but reads afresh.
#[tokio::test]
async fn a_caller_during_a_write_does_not_join_an_older_read() {
    let cache = cache();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let (finish_tx, finish_rx) = tokio::sync::oneshot::channel::<()>();
    let older = {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache
                .get_or_read("q", Ttl::Forever, || async {
                    let _ = started_tx.send(());
                    let _ = finish_rx.await;
                    Ok(valued(1))
                })
                .await
        })
    };
    started_rx.await.unwrap();
    let write = cache.clear_on_drop();
    let during = tokio::time::timeout(
        Duration::from_secs(2),
        cache.get_or_read("q", Ttl::Forever, || async { Ok(valued(2)) }),
    )
    .await
    .expect("the caller waited for the older read")
    .unwrap();
    assert_eq!(during.num_rows(), 1);
    let n = during.batches()[0]
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .value(0);
    assert_eq!(n, 2, "answered by the read that started before the write");
    drop(write);
    let _ = finish_tx.send(());
    older.await.unwrap().unwrap();
    assert!(
        cache.is_empty(),
        "the older read was stored after the write"
    );
}
