//! Streamed reads from DuckDB: batches as DuckDB produces them, the same values and
//! types as `query()`, errors after the first batch ending the stream, and a dropped
//! stream stopping its query and giving its connection back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use conn_core::arrow::array::{Array, AsArray, RecordBatch};
use conn_core::arrow::compute::concat_batches;
use conn_core::arrow::datatypes::{DataType, Int64Type};
use conn_core::{ErrorKind, Ttl};

/// Waits (at most 10 s) until `pool` has no connection checked out.
fn wait_until_idle(pool: &conn_duckdb::DuckPool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pool.connections_in_use() > 0 {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

#[test]
fn many_batches_arrive_in_order_with_the_values_and_types_of_query() {
    let (_dir, conn) = common::memory();
    let sql = "SELECT i, i::VARCHAR AS s, i::HUGEINT * 1000000000000000000000 AS h, \
               (i / 8)::DECIMAL(12, 3) AS d, CASE WHEN i % 7 = 0 THEN NULL ELSE i END AS n \
               FROM range(100000) t(i)";
    let stream = conn.query(sql).stream().blocking().unwrap();
    let schema = stream.schema();
    let batches: Vec<RecordBatch> = stream.into_iter().map(Result::unwrap).collect();
    // DuckDB hands out vectors of 2048 rows: many batches, not one.
    assert!(batches.len() >= 40, "{} batches", batches.len());
    assert!(batches.iter().all(|b| b.schema() == schema));
    let ids: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(ids, (0..100_000).collect::<Vec<i64>>());

    let table = conn.query(sql).ttl(Ttl::ZERO).blocking().unwrap();
    assert_eq!(&schema, table.schema());
    let streamed = concat_batches(&schema, &batches).unwrap();
    let queried = concat_batches(table.schema(), table.batches()).unwrap();
    assert_eq!(streamed, queried);
    assert_eq!(streamed.column(4).null_count(), 100_000_usize.div_ceil(7));
}

#[test]
fn a_huge_integer_widens_its_column_when_the_first_batch_has_it() {
    let (_dir, conn) = common::memory();
    // 39 digits: more than Decimal128(38, 0) declares.
    let sql = "SELECT CASE WHEN i = 0 THEN 170141183460469231731687303715884105727::HUGEINT \
               ELSE i::HUGEINT END AS h FROM range(5000) t(i)";
    let stream = conn.query(sql).stream().blocking().unwrap();
    assert_eq!(
        stream.schema().field(0).data_type(),
        &DataType::Decimal256(39, 0)
    );
    let streamed = stream.into_iter().collect::<Result<Vec<_>, _>>().unwrap();
    let table = conn.query(sql).ttl(Ttl::ZERO).blocking().unwrap();
    assert_eq!(
        concat_batches(table.schema(), &streamed).unwrap(),
        concat_batches(table.schema(), table.batches()).unwrap()
    );
}

#[test]
fn a_huge_integer_after_the_first_batch_ends_the_stream_naming_it() {
    let (_dir, conn) = common::memory();
    let sql = "SELECT CASE WHEN i = 4500 THEN 170141183460469231731687303715884105727::HUGEINT \
               ELSE i::HUGEINT END AS h FROM range(5000) t(i)";
    let mut stream = conn.query(sql).stream().blocking().unwrap().into_iter();
    assert_eq!(
        stream.schema().field(0).data_type(),
        &DataType::Decimal128(38, 0)
    );
    let mut rows = 0;
    let err = loop {
        match stream.next().expect("an error before the end") {
            Ok(batch) => rows += batch.num_rows(),
            Err(err) => break err,
        }
    };
    assert_eq!(rows, 4096);
    assert_eq!(
        err.to_string(),
        "connection \"mem\": column \"h\", row 4500: a value of 39 digits, more than the \
         Decimal128(38, 0) the stream's first batch announced for the column; read it with \
         query() (which widens the column to Decimal256(39, 0)) or cast it to VARCHAR in the \
         statement"
    );
    assert!(stream.next().is_none());
    // query() widens instead.
    let table = conn.query(sql).ttl(Ttl::ZERO).blocking().unwrap();
    assert_eq!(
        table.schema().field(0).data_type(),
        &DataType::Decimal256(39, 0)
    );
}

#[test]
fn an_empty_result_has_its_schema_and_no_batches() {
    let (_dir, conn) = common::memory();
    let stream = conn
        .query("SELECT 1::INTEGER AS a, 'x' AS b, 2.5::DOUBLE AS c WHERE false")
        .stream()
        .blocking()
        .unwrap();
    let schema = stream.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(schema.field(0).data_type(), &DataType::Int32);
    assert_eq!(schema.field(1).data_type(), &DataType::Utf8);
    assert_eq!(schema.field(2).data_type(), &DataType::Float64);
    assert_eq!(stream.into_iter().count(), 0);
}

#[test]
fn parameters_bind_as_in_query() {
    let (_dir, conn) = common::memory();
    let positional = conn
        .query("SELECT i FROM range(10000) t(i) WHERE i >= ?")
        .bind(9000_i64)
        .stream()
        .blocking()
        .unwrap()
        .into_iter()
        .map(|b| b.unwrap().num_rows())
        .sum::<usize>();
    assert_eq!(positional, 1000);
    let named = conn
        .query("SELECT i FROM range(10000) t(i) WHERE i < $below")
        .param("below", 10_i64)
        .stream()
        .blocking()
        .unwrap()
        .into_iter()
        .map(|b| b.unwrap().num_rows())
        .sum::<usize>();
    assert_eq!(named, 10);
}

#[test]
fn a_statement_that_writes_streams_once_and_drops_cached_reads() {
    let (_dir, conn) = common::memory();
    conn.execute_batch("CREATE TABLE t (i BIGINT)")
        .blocking()
        .unwrap();
    let count = || {
        let table = conn
            .query("SELECT count(*) AS n FROM t")
            .blocking()
            .unwrap();
        table.batches()[0]
            .column(0)
            .as_primitive::<Int64Type>()
            .value(0)
    };
    assert_eq!(count(), 0);
    let returned: usize = conn
        .query("INSERT INTO t SELECT * FROM range(5000) RETURNING i")
        .stream()
        .blocking()
        .unwrap()
        .into_iter()
        .map(|b| b.unwrap().num_rows())
        .sum();
    assert_eq!(returned, 5000);
    // Run once, and the cached count (0) is gone.
    assert_eq!(count(), 5000);
    // Dropped after its first batch, a streamed write is still applied whole: DuckDB
    // would roll back a streamed statement whose last chunk was never fetched.
    let mut stream = conn
        .query("INSERT INTO t SELECT * FROM range(100000) RETURNING i")
        .prefetch(1)
        .stream()
        .blocking()
        .unwrap();
    assert!(stream.next_blocking().unwrap().unwrap().num_rows() > 0);
    drop(stream);
    assert_eq!(count(), 105_000);
}

#[test]
fn an_error_after_the_first_batches_ends_the_stream_with_duckdbs_text() {
    let (_dir, conn) = common::memory();
    let pool = conn.pool().blocking().unwrap();
    // A million rows: DuckDB computes a streamed result some way ahead of its reader
    // (with 10 000 rows the failing row is reached before the first batch; see
    // an_error_before_any_batch_fails_the_stream_call).
    let sql = "SELECT (CASE WHEN i < 500000 THEN i::VARCHAR ELSE 'x' END)::INTEGER AS v \
               FROM range(1000000) t(i)";
    let mut stream = conn.query(sql).stream().blocking().unwrap().into_iter();
    let mut rows = 0;
    let err = loop {
        match stream.next().expect("an error before the end") {
            Ok(batch) => rows += batch.num_rows(),
            Err(err) => break err,
        }
    };
    eprintln!("{rows} rows before the error");
    assert!(rows > 0 && rows <= 500_000, "{rows} rows before the error");
    let text = err.to_string();
    assert!(
        text.starts_with(
            "duckdb connection \"mem\", query: Conversion Error: Could not convert string \
             'x' to INT32"
        ),
        "{text}"
    );
    assert!(stream.next().is_none());
    assert!(stream.next().is_none());
    drop(stream);
    assert!(wait_until_idle(&pool));
    let again = conn
        .query("SELECT 42 AS x")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    assert_eq!(again.num_rows(), 1);
}

#[test]
fn an_error_before_any_batch_fails_the_stream_call() {
    let (_dir, conn) = common::memory();
    let err = conn
        .query("SELECT * FROM no_such_table")
        .stream()
        .blocking()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        err.to_string()
            .contains("Table with name no_such_table does not exist"),
        "{err}"
    );
    // DuckDB reaches row 5000 while it fills its first chunks: the call fails, with
    // DuckDB's text, before any batch.
    let err = conn
        .query(
            "SELECT (CASE WHEN i < 5000 THEN i::VARCHAR ELSE 'x' END)::INT FROM range(10000) t(i)",
        )
        .stream()
        .blocking()
        .unwrap_err();
    assert!(
        err.to_string().starts_with(
            "duckdb connection \"mem\", query: Conversion Error: Could not convert string \
             'x' to INT32"
        ),
        "{err}"
    );
}

#[test]
fn dropping_a_stream_after_one_batch_stops_the_query_and_frees_its_connection() {
    let (_dir, conn) = common::memory();
    let pool = conn.pool().blocking().unwrap();
    // 10^11 rows: read to the end (or fetched whole, as query() does) it would take
    // hours; the time limit makes a producer that does not stream fail here.
    let mut stream = conn
        .query("SELECT i, i * 2 AS j FROM range(100000000000) t(i)")
        .timeout(Duration::from_secs(30))
        .stream()
        .blocking()
        .unwrap()
        .into_iter();
    let first = stream.next().unwrap().unwrap();
    assert_eq!(first.num_rows(), 2048);
    assert_eq!(pool.connections_in_use(), 1);
    let dropped = Instant::now();
    drop(stream);
    // The producer stops and the connection leaves its checkout (back to the pool with
    // no transaction open, or closed if it may carry the interrupt).
    assert!(
        wait_until_idle(&pool),
        "the stream's connection is still in use"
    );
    let stopped = dropped.elapsed();
    // The pool serves the next queries, and DuckDB's threads are free: a count over a
    // million rows takes well under the seconds a still-running scan would hold them.
    for _ in 0..3 {
        let table = conn
            .query("SELECT 42 AS x")
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap();
        assert_eq!(table.num_rows(), 1);
    }
    let started = Instant::now();
    conn.query("SELECT count(*) FROM range(1000000)")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    // A fresh BEGIN works: no transaction was left open on a pooled connection.
    conn.execute_batch("BEGIN; CREATE TABLE after_stream AS SELECT 1 AS x; COMMIT")
        .blocking()
        .unwrap();
    eprintln!("dropped stream released its connection in {stopped:?}");
}

#[test]
fn a_stream_is_read_with_await_too() {
    let (_dir, conn) = common::memory();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let total = runtime.block_on(async {
        use futures::StreamExt;
        let mut stream = conn
            .query("SELECT i FROM range(50000) t(i)")
            .prefetch(1)
            .stream()
            .await
            .unwrap();
        let mut total = 0_i64;
        while let Some(batch) = stream.next().await {
            let batch = batch.unwrap();
            total += batch
                .column(0)
                .as_primitive::<Int64Type>()
                .values()
                .iter()
                .sum::<i64>();
        }
        total
    });
    assert_eq!(total, (0..50_000_i64).sum::<i64>());
}

/// A field of /proc/self/status, in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024
}

/// Runs `work` and returns how far it raised the process's resident memory at its
/// peak (Linux: the peak is reset first, through /proc/self/clear_refs).
fn peak_growth(work: impl FnOnce()) -> u64 {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let base = status_bytes("VmRSS:");
    work();
    status_bytes("VmHWM:").saturating_sub(base)
}

/// Figures for docs and reports (run by hand: `cargo test -p conn-duckdb --test stream
/// -- --ignored --nocapture`): streaming 20 million rows keeps the peak memory far below
/// what `query()` of them needs.
#[test]
#[ignore = "a measurement: slow in debug builds, run by hand"]
fn streaming_a_large_result_keeps_memory_bounded() {
    let (_dir, conn) = common::memory();
    let sql = "SELECT i, i::VARCHAR || ' and some text' AS s FROM range(20000000) t(i)";
    let mut rows = 0;
    let started = Instant::now();
    let stream_peak = peak_growth(|| {
        for batch in conn.query(sql).stream().blocking().unwrap() {
            rows += batch.unwrap().num_rows();
        }
    });
    let streamed = started.elapsed();
    let mut table = None;
    let started = Instant::now();
    let query_peak = peak_growth(|| {
        table = Some(conn.query(sql).ttl(Ttl::ZERO).blocking().unwrap());
    });
    let queried = started.elapsed();
    let table = table.unwrap();
    assert_eq!(table.num_rows(), rows);
    eprintln!(
        "{rows} rows: stream {streamed:?}, peak +{} MB; query() {queried:?}, peak +{} MB",
        stream_peak >> 20,
        query_peak >> 20
    );
    assert!(
        stream_peak < query_peak / 4,
        "{stream_peak} vs {query_peak}"
    );
}
