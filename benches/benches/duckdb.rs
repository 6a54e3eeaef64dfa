//! DuckDB through conn against duckdb's own `query_arrow`, on the same database file, in
//! the same run: a 10M-row aggregate and a 1M-row scan into a Table. Target: <= 1.05x.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use conn::Ttl;
use conn::arrow::array::RecordBatch;
use conn::duckdb::DuckDbConnection;
use conn_benches::{data_dir, factory};
use criterion::{Criterion, criterion_group, criterion_main};

const AGGREGATE: &str = "SELECT g, sum(v) AS total, count(*) AS n FROM t GROUP BY g ORDER BY g";
const SCAN: &str = "SELECT * FROM t LIMIT 1000000";

fn database() -> std::path::PathBuf {
    let path = data_dir().join("duckdb-10m.duckdb");
    if !path.exists() {
        let conn = duckdb::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE t AS SELECT range AS id, range % 1000 AS g, (range * 7 % 1013) / 3.0 AS v, \
             'name ' || range AS name FROM range(10000000)",
        )
        .unwrap();
    }
    path
}

fn direct(conn: &duckdb::Connection, sql: &str) -> Vec<RecordBatch> {
    let mut statement = conn.prepare(sql).unwrap();
    statement.query_arrow([]).unwrap().collect()
}

fn bench(c: &mut Criterion) {
    let path = database();
    let factory = factory(&format!(
        "[connections.ducks]\ntype = \"duckdb\"\ndatabase = \"{}\"\nread_only = true\n",
        path.display()
    ));
    let conn = factory.get::<DuckDbConnection>("ducks").unwrap();
    let raw = duckdb::Connection::open_with_flags(
        &path,
        duckdb::Config::default()
            .access_mode(duckdb::AccessMode::ReadOnly)
            .unwrap(),
    )
    .unwrap();
    for (name, sql) in [("aggregate_10m", AGGREGATE), ("scan_1m", SCAN)] {
        let via_conn = conn.query(sql).ttl(Ttl::ZERO).blocking().unwrap();
        let rows: usize = direct(&raw, sql).iter().map(RecordBatch::num_rows).sum();
        assert_eq!(via_conn.num_rows(), rows);
        let mut group = c.benchmark_group(format!("duckdb/{name}"));
        group.bench_function("conn", |b| {
            b.iter(|| black_box(conn.query(sql).ttl(Ttl::ZERO).blocking().unwrap()));
        });
        group.bench_function("duckdb_query_arrow", |b| {
            b.iter(|| black_box(direct(&raw, sql)));
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(8));
    targets = bench
}
criterion_main!(benches);
