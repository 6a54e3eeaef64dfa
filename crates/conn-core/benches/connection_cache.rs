//! Cache hits: the connection cache (`conn::connection` for a cached name) from one and
//! from eight threads, and the result cache (`query(...)` for a cached statement) at
//! 1k and 1M rows. Targets: <= 1 us and <= 2 us per hit.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::{Arc, Barrier, LazyLock};
use std::time::{Duration, Instant};

use conn_core::arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use conn_core::plugin::{Base, Connector, Queryable};
use conn_core::{
    ConnectionConfig, ConnectionFactory, ConnectionType, Env, Params, Query, Registry, Result,
    Secrets, Table, Ttl,
};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

/// A connection type whose construction costs nothing, so only the caches are measured.
#[derive(Clone)]
struct Bench {
    base: Base<BenchConnector>,
}

/// "Connects" to a table of `rows` rows and answers every statement with it.
struct BenchConnector {
    rows: i64,
}

impl Connector for BenchConnector {
    type Raw = Table;

    fn from_config(config: &ConnectionConfig) -> Result<Self> {
        Ok(BenchConnector {
            rows: config.get_as("rows")?.unwrap_or(1),
        })
    }

    async fn connect(&self) -> Result<Table> {
        Ok(table(self.rows))
    }
}

impl Queryable for BenchConnector {
    async fn fetch(
        self: Arc<Self>,
        table: Table,
        _sql: Arc<str>,
        _params: Arc<Params>,
    ) -> Result<Table> {
        Ok(table)
    }
}

impl ConnectionType for Bench {
    const NAME: &'static str = "bench";
    const DESCRIPTION: &'static str = "benchmark type";
    const EXAMPLE_TOML: &'static str = "";

    fn from_config(config: ConnectionConfig) -> Result<Self> {
        Ok(Bench {
            base: Base::new(&config, Self::NAME)?,
        })
    }

    fn reset(&self) {}

    fn close(&self) {}
}

fn bench_with_rows(rows: i64) -> Bench {
    let config =
        ConnectionConfig::from_toml("pets_db", "bench", &format!("rows = {rows}"), "/b.toml")
            .unwrap();
    Bench::from_config(config).unwrap()
}

fn table(rows: i64) -> Table {
    let ids = Int64Array::from_iter_values(0..rows);
    let names = StringArray::from_iter_values((0..rows).map(|i| format!("name {i}")));
    let values = Float64Array::from_iter_values((0..rows).map(|i| i as f64 * 0.5));
    Table::from_batch(
        RecordBatch::try_from_iter([
            ("id", Arc::new(ids) as _),
            ("name", Arc::new(names) as _),
            ("value", Arc::new(values) as _),
        ])
        .unwrap(),
    )
}

fn factory() -> ConnectionFactory {
    static REGISTRY: LazyLock<Registry> = LazyLock::new(|| {
        let registry = Registry::empty();
        registry.register::<Bench>();
        registry
    });
    let secrets = Secrets::from_toml_str(
        "[connections.pets_db]\ntype = \"bench\"\nurl = \"sqlite:///pets.db\"\n",
        "/bench/.streamlit/secrets.toml",
        None,
    )
    .unwrap();
    ConnectionFactory::builder()
        .env(Env::from_pairs::<&str, &str>([]))
        .secrets(secrets)
        .registry(&REGISTRY)
        .build()
}

fn connection_cache(c: &mut Criterion) {
    let factory = factory();
    factory.get::<Bench>("pets_db").unwrap();
    let mut group = c.benchmark_group("connection_cache_hit");
    group.bench_function("typed/1_thread", |b| {
        b.iter(|| factory.get::<Bench>(black_box("pets_db")).unwrap());
    });
    group.bench_function("dynamic/1_thread", |b| {
        b.iter(|| factory.get_dyn(black_box("pets_db")).unwrap());
    });
    group.bench_function("typed_with_options/1_thread", |b| {
        b.iter(|| {
            factory
                .connection(black_box("pets_db"))
                .option("autocommit", true)
                .option("pool_size", 5)
                .get::<Bench>()
                .unwrap()
        });
    });
    // Eight threads hitting at once; the figure is wall time per hit per thread.
    group.bench_function("typed/8_threads", |b| {
        b.iter_custom(|iters| {
            let barrier = Arc::new(Barrier::new(8));
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let factory = factory.clone();
                    let barrier = Arc::clone(&barrier);
                    std::thread::spawn(move || {
                        barrier.wait();
                        let start = Instant::now();
                        for _ in 0..iters {
                            black_box(factory.get::<Bench>("pets_db").unwrap());
                        }
                        start.elapsed()
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().unwrap())
                .max()
                .unwrap_or(Duration::ZERO)
        });
    });
    group.finish();
}

fn result_cache(c: &mut Criterion) {
    let mut group = c.benchmark_group("result_cache_hit");
    for rows in [1_000, 1_000_000] {
        let conn = bench_with_rows(rows);
        let sql = "SELECT * FROM pet_owners";
        let first = Query::new(&conn.base, sql).blocking().unwrap();
        assert_eq!(first.num_rows(), usize::try_from(rows).unwrap());
        group.bench_with_input(
            BenchmarkId::new("query_blocking", rows),
            &conn,
            |b, conn| {
                b.iter(|| {
                    Query::new(&conn.base, black_box(sql))
                        .ttl(Ttl::Forever)
                        .blocking()
                        .unwrap()
                });
            },
        );
        group.bench_with_input(
            BenchmarkId::new("query_blocking_with_params", rows),
            &conn,
            |b, conn| {
                b.iter(|| {
                    Query::new(
                        &conn.base,
                        black_box("SELECT * FROM pet_owners WHERE owner = :owner"),
                    )
                    .param("owner", "Ada")
                    .blocking()
                    .unwrap()
                });
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = connection_cache, result_cache
}
criterion_main!(benches);
