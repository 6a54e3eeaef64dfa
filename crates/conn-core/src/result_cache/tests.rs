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
    ResultCache::new(Arc::new(Stats::default()))
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
    cache.store("a", table(1), None, Ttl::Forever);
    cache.store("b", table(1), None, Ttl::Forever);
    assert!(cache.invalidate("a"));
    assert!(!cache.invalidate("a"));
    assert!(cache.lookup("b", Ttl::Forever).is_some());
    cache.clear();
    assert!(cache.is_empty());
    assert_eq!(cache.bytes(), 0);
}

#[test]
fn the_byte_bound_evicts_least_recently_used() {
    let cache = cache();
    let one = table(10_000);
    let size = one.memory_size();
    cache.set_max_bytes(Some(size * 2 + size / 2));
    cache.store("a", table(10_000), None, Ttl::Forever);
    cache.store("b", table(10_000), None, Ttl::Forever);
    assert!(cache.lookup("a", Ttl::Forever).is_some()); // a is now more recent than b
    cache.store("c", table(10_000), None, Ttl::Forever);
    assert!(
        cache.lookup("b", Ttl::Forever).is_none(),
        "b was least recently used"
    );
    assert!(cache.lookup("a", Ttl::Forever).is_some());
    assert!(cache.lookup("c", Ttl::Forever).is_some());
    assert!(cache.bytes() <= size * 2 + size / 2);
}

#[test]
fn versions_are_kept_beside_values() {
    let cache = cache();
    cache.store("f", table(1), Some(Arc::from("etag-1")), Ttl::Forever);
    let hit = cache.lookup_versioned("f", Ttl::Forever).unwrap();
    assert_eq!(hit.version.as_deref(), Some("etag-1"));
}
