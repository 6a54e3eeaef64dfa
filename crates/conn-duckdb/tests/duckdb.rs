//! The `duckdb` type against real DuckDB files and in-memory databases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use conn_core::arrow::datatypes::DataType;
use conn_core::{ConnectionFactory, Env, Table, Ttl};
use conn_duckdb::{DuckDbConnection, WriteMode};

fn factory(dir: &Path, secrets: &str) -> ConnectionFactory {
    std::fs::create_dir_all(dir.join(".streamlit")).unwrap();
    std::fs::write(dir.join(".streamlit/secrets.toml"), secrets).unwrap();
    ConnectionFactory::builder()
        .env(Env::from_pairs([(
            "HOME",
            dir.join("home").display().to_string(),
        )]))
        .project_dir(dir)
        .build()
}

fn file_db(dir: &Path) -> ConnectionFactory {
    factory(
        dir,
        &format!(
            "[connections.ducks]\ntype = \"duckdb\"\ndatabase = \"{}\"\n\
             [connections.ducks_ro]\ntype = \"duckdb\"\ndatabase = \"{}\"\nread_only = true\n",
            dir.join("ducks.duckdb").display(),
            dir.join("ducks.duckdb").display()
        ),
    )
}

fn count(conn: &DuckDbConnection, table: &str) -> i64 {
    conn.query(format!("SELECT count(*) AS n FROM {table}"))
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(i64,)>()
        .unwrap()[0]
        .0
}

#[test]
fn a_file_database_persists_across_reset_and_processes() {
    if let Ok(path) = std::env::var("CONN_DUCKDB_CHILD_DB") {
        // The child half of this test, run in a second process below.
        let dir = Path::new(&path).parent().unwrap().to_path_buf();
        let conn = file_db(&dir).get::<DuckDbConnection>("ducks_ro").unwrap();
        assert_eq!(count(&conn, "birds"), 3);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let factory = file_db(dir.path());
    let conn = factory.get::<DuckDbConnection>("ducks").unwrap();
    conn.execute_batch(
        "CREATE TABLE birds (name VARCHAR); INSERT INTO birds VALUES ('a'), ('b'), ('c');",
    )
    .blocking()
    .unwrap();
    conn.reset();
    assert_eq!(
        count(&conn, "birds"),
        3,
        "after reset the file reopens with its data"
    );
    factory.clear();
    drop(conn);
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_file_database_persists_across_reset_and_processes",
            "--nocapture",
        ])
        .env("CONN_DUCKDB_CHILD_DB", dir.path().join("ducks.duckdb"))
        .status()
        .unwrap();
    assert!(status.success(), "another process reads the same rows");
}

#[test]
fn in_memory_databases_are_shared_by_the_pool() {
    let dir = tempfile::tempdir().unwrap();
    let factory = factory(dir.path(), "[connections.mem]\ntype = \"duckdb\"\n");
    let conn = factory.get::<DuckDbConnection>("mem").unwrap();
    conn.execute_batch("CREATE TABLE t AS SELECT range AS x FROM range(10)")
        .blocking()
        .unwrap();
    // Many threads, many pooled connections, one database.
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| assert_eq!(count(&conn, "t"), 10));
        }
    });
    let typed = conn
        .query("SELECT 1::INTEGER AS i, 2.5::DOUBLE AS d, 'x' AS s, DATE '2024-02-29' AS day, 12.34::DECIMAL(10,2) AS price")
        .blocking()
        .unwrap();
    let types: Vec<&DataType> = typed
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type())
        .collect();
    assert_eq!(
        types,
        vec![
            &DataType::Int32,
            &DataType::Float64,
            &DataType::Utf8,
            &DataType::Date32,
            &DataType::Decimal128(10, 2)
        ]
    );
}

#[test]
fn parameters_positional_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let factory = factory(dir.path(), "[connections.mem]\ntype = \"duckdb\"\n");
    let conn = factory.get::<DuckDbConnection>("mem").unwrap();
    let positional = conn
        .query("SELECT ? + 1 AS x, ? AS s")
        .bind(41)
        .bind("a")
        .blocking()
        .unwrap();
    assert_eq!(
        positional.rows::<(i64, String)>().unwrap(),
        vec![(42, "a".into())]
    );
    let named = conn
        .query("SELECT $n * 2 AS x, $n AS again")
        .param("n", 21)
        .blocking()
        .unwrap();
    assert_eq!(named.rows::<(i64, i64)>().unwrap(), vec![(42, 21)]);
    let err = conn
        .query("SELECT $n")
        .param("m", 1)
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("duckdb connection \"mem\", query: "),
        "{err}"
    );
}

#[test]
fn a_read_only_database_refuses_writes_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let factory = file_db(dir.path());
    let conn = factory.get::<DuckDbConnection>("ducks").unwrap();
    conn.execute_batch("CREATE TABLE t (x INTEGER)")
        .blocking()
        .unwrap();
    factory.clear();
    drop(conn);
    let ro = factory.get::<DuckDbConnection>("ducks_ro").unwrap();
    assert_eq!(count(&ro, "t"), 0);
    let err = ro
        .execute_batch("INSERT INTO t VALUES (1)")
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("duckdb connection \"ducks_ro\", execute: "),
        "{err}"
    );
    assert!(err.contains("read-only"), "{err}");
}

#[test]
fn sixteen_threads_query_in_parallel() {
    let dir = tempfile::tempdir().unwrap();
    let factory = factory(dir.path(), "[connections.mem]\ntype = \"duckdb\"\n");
    let conn = factory.get::<DuckDbConnection>("mem").unwrap();
    let barrier = std::sync::Barrier::new(16);
    let sums: Vec<i64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let (conn, barrier) = (&conn, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    conn.query("SELECT sum(range)::BIGINT AS s FROM range(200000 + ?)")
                        .bind(i)
                        .blocking()
                        .unwrap()
                        .rows::<(i64,)>()
                        .unwrap()[0]
                        .0
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, sum) in sums.iter().enumerate() {
        let n = 200_000 + i as i64;
        assert_eq!(*sum, n * (n - 1) / 2);
    }
    let pool = conn.pool().blocking().unwrap();
    assert!(
        pool.connections_opened() > 1,
        "queries ran on several connections"
    );
    assert_eq!(conn.stats().connects, 1, "one database opened once");
}

#[test]
fn bad_sql_is_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let factory = factory(dir.path(), "[connections.mem]\ntype = \"duckdb\"\n");
    let conn = factory.get::<DuckDbConnection>("mem").unwrap();
    let err = conn.query("SELEC 1").blocking().unwrap_err();
    assert!(err.to_string().contains("syntax error"), "{err}");
    let stats = conn.stats();
    assert_eq!((stats.queries, stats.retries), (1, 0));
}

#[test]
fn write_table_round_trips_and_a_failure_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let factory = file_db(dir.path());
    let conn = factory.get::<DuckDbConnection>("ducks").unwrap();
    let source: Table = conn
        .query("SELECT range AS id, 'n' || range AS name, range * 1.5 AS score FROM range(5000)")
        .blocking()
        .unwrap();
    assert_eq!(
        conn.write_table("copied", &source, WriteMode::Create)
            .blocking()
            .unwrap(),
        5000
    );
    assert_eq!(count(&conn, "copied"), 5000);
    assert_eq!(
        conn.write_table("copied", &source, WriteMode::Append)
            .blocking()
            .unwrap(),
        5000
    );
    assert_eq!(count(&conn, "copied"), 10_000);
    assert_eq!(
        conn.write_table("copied", &source, WriteMode::Replace)
            .blocking()
            .unwrap(),
        5000
    );
    assert_eq!(count(&conn, "copied"), 5000);

    conn.execute_batch(
        "CREATE TABLE keyed (id BIGINT PRIMARY KEY, name VARCHAR); \
         INSERT INTO keyed VALUES (1, 'kept'), (2, 'kept');",
    )
    .blocking()
    .unwrap();
    let clash = conn
        .query("SELECT * FROM (VALUES (3::BIGINT, 'new'), (1::BIGINT, 'dup')) v(id, name)")
        .blocking()
        .unwrap();
    let err = conn
        .write_table("keyed", &clash, WriteMode::Append)
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(err.to_lowercase().contains("constraint"), "{err}");
    let rows = conn
        .query("SELECT id, name FROM keyed ORDER BY id")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(i64, String)>()
        .unwrap();
    assert_eq!(rows, vec![(1, "kept".into()), (2, "kept".into())]);
}

/// Found by the round-trip suite: duckdb-rs's appender wrote NULL intervals as
/// `0 secs` and dropped their nanoseconds, truncated the nanoseconds of zoned timestamps
/// and times, and refused negative decimal scales with a message naming no column.
#[test]
fn write_table_keeps_interval_nulls_and_refuses_what_duckdb_would_truncate() {
    use conn_core::arrow::array::{
        ArrayRef, AsArray, Decimal128Array, Int32Array, IntervalMonthDayNanoArray, RecordBatch,
        Time64NanosecondArray, TimestampNanosecondArray,
    };
    use conn_core::arrow::datatypes::{Decimal128Type, Field, IntervalMonthDayNano, Schema};

    let dir = tempfile::tempdir().unwrap();
    let conn = file_db(dir.path())
        .get::<DuckDbConnection>("ducks")
        .unwrap();
    let table = |columns: Vec<(&str, ArrayRef)>| {
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
                .collect::<Vec<_>>(),
        ));
        let batch =
            RecordBatch::try_new(schema, columns.into_iter().map(|(_, a)| a).collect()).unwrap();
        // Two batches, so that rows are counted across them.
        Table::new(
            batch.schema(),
            vec![batch.slice(0, 1), batch.slice(1, batch.num_rows() - 1)],
        )
        .unwrap()
    };
    let id: ArrayRef = Arc::new(Int32Array::from(vec![0, 1, 2]));
    let written = table(vec![
        ("id", Arc::clone(&id)),
        (
            "iv",
            Arc::new(IntervalMonthDayNanoArray::from(vec![
                Some(IntervalMonthDayNano::new(14, -3, 5_000)),
                None,
                Some(IntervalMonthDayNano::new(0, 0, -1_000)),
            ])),
        ),
        (
            "n",
            Arc::new(
                Decimal128Array::from(vec![Some(123), None, Some(-99_999)])
                    .with_precision_and_scale(5, -2)
                    .unwrap(),
            ),
        ),
        (
            "ns",
            Arc::new(TimestampNanosecondArray::from(vec![
                Some(1),
                None,
                Some(-1_999),
            ])),
        ),
    ]);
    conn.write_table("exact", &written, WriteMode::Create)
        .blocking()
        .unwrap();
    let back = conn
        .query("SELECT iv, n, ns FROM exact ORDER BY id")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    // Intervals and nanosecond timestamps come back exactly, NULLs included.
    for name in ["iv", "ns"] {
        assert_eq!(
            back.column(name).unwrap().as_ref(),
            written.column(name).unwrap().as_ref(),
            "{name}"
        );
    }
    // A negative scale is kept as integer digits: 123 x 10^2 is 12300.
    assert_eq!(
        back.schema().field(1).data_type(),
        &DataType::Decimal128(7, 0)
    );
    let n: Vec<Option<i128>> = back
        .column("n")
        .unwrap()
        .as_primitive::<Decimal128Type>()
        .iter()
        .collect();
    assert_eq!(n, vec![Some(12_300), None, Some(-9_999_900)]);
    for (column, values) in [
        (
            "iv",
            Arc::new(IntervalMonthDayNanoArray::from(vec![
                None,
                Some(IntervalMonthDayNano::new(0, 0, 1_000)),
                Some(IntervalMonthDayNano::new(0, 0, 1_001)),
            ])) as ArrayRef,
        ),
        (
            "t",
            Arc::new(Time64NanosecondArray::from(vec![
                None,
                Some(1_000),
                Some(1),
            ])),
        ),
        (
            "tz",
            Arc::new(
                TimestampNanosecondArray::from(vec![None, Some(1_000), Some(-1)])
                    .with_timezone("UTC"),
            ),
        ),
    ] {
        let err = conn
            .write_table(
                "refused",
                &table(vec![("id", Arc::clone(&id)), (column, values)]),
                WriteMode::Create,
            )
            .blocking()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("column \"{column}\" ("))
                && err.contains("), row 2: a value with nanoseconds; DuckDB keeps microseconds"),
            "{err}"
        );
        // Nothing was written: not even the table.
        assert!(
            conn.query("SELECT * FROM refused")
                .ttl(Ttl::ZERO)
                .blocking()
                .is_err()
        );
    }
}

#[test]
fn init_statements_and_extension_errors() {
    let dir = tempfile::tempdir().unwrap();
    let factory = factory(
        dir.path(),
        "[connections.init]\ntype = \"duckdb\"\ninit = [\"SET threads = 1\", \"CREATE TEMP TABLE seen AS SELECT 7 AS x\"]\n\
         [connections.noext]\ntype = \"duckdb\"\nextensions = [\"no_such_extension_xyz\"]\n",
    );
    let conn = factory.get::<DuckDbConnection>("init").unwrap();
    let threads = conn
        .query("SELECT current_setting('threads')::BIGINT AS t, (SELECT x FROM seen) AS x")
        .blocking()
        .unwrap();
    assert_eq!(threads.rows::<(i64, i32)>().unwrap(), vec![(1, 7)]);
    let err = factory
        .get::<DuckDbConnection>("noext")
        .unwrap()
        .query("SELECT 1")
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("duckdb connection \"noext\", loading extension no_such_extension_xyz: "),
        "{err}"
    );
}

#[test]
fn conformance() {
    let dir = tempfile::tempdir().unwrap();
    // The value of a secret-named setting shows in no Debug output and no error, even
    // when DuckDB's own message repeats it.
    let factory = factory(
        dir.path(),
        "[connections.mem]\ntype = \"duckdb\"\nconfig = { secret_directory = \"/tmp/Duck-S3cret-1\" }\n\
         [connections.failing]\ntype = \"duckdb\"\nconfig = { secret_directory = \"/tmp/Duck-S3cret-1\" }\n\
         init = [\"SELECT * FROM read_csv('/tmp/Duck-S3cret-1/missing.csv')\"]\n",
    );
    let err = factory
        .get::<DuckDbConnection>("failing")
        .unwrap()
        .query("SELECT 1")
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("***/missing.csv"),
        "the secret was removed from: {err}"
    );
    conn_testkit::Conformance::<DuckDbConnection> {
        factory,
        name: "mem".into(),
        read: |conn, ttl| conn.query("SELECT 1 AS one").ttl(ttl).blocking(),
        stats: DuckDbConnection::stats,
        health_check: |conn| conn.health_check().blocking(),
        secret: Some("/tmp/Duck-S3cret-1".into()),
        failing_name: Some("failing".into()),
    }
    .run();
}

/// Runs `read` on `n` pooled connections at once: each holds its connection until all
/// have one, so they are `n` different connections.
fn on_distinct_connections<T: Send + 'static>(
    conn: &DuckDbConnection,
    n: usize,
    read: fn(&duckdb::Connection) -> duckdb::Result<T>,
) -> Vec<conn_core::Result<T>> {
    let barrier = Arc::new(std::sync::Barrier::new(n));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let barrier = Arc::clone(&barrier);
                scope.spawn(move || {
                    conn.with_raw(move |raw| {
                        barrier.wait();
                        read(raw)
                    })
                    .blocking()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn a_connection_returned_inside_a_transaction_is_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let factory = factory(
        dir.path(),
        "[connections.mem]\ntype = \"duckdb\"\nmax_idle_connections = 2\n",
    );
    let conn = factory.get::<DuckDbConnection>("mem").unwrap();
    conn.execute_batch("CREATE TABLE t (id BIGINT PRIMARY KEY)")
        .blocking()
        .unwrap();
    // BEGIN through with_raw, never committed: the connection goes back to the pool
    // (the idle list is last-in first-out, so the next use takes it again).
    conn.with_raw(|raw| raw.execute_batch("BEGIN; INSERT INTO t VALUES (1)"))
        .blocking()
        .unwrap();
    conn.execute_batch("INSERT INTO t VALUES (2)")
        .blocking()
        .unwrap();
    // Every connection sees exactly the committed row: the open transaction was rolled
    // back, and the INSERT after it was not swallowed by it.
    let seen = on_distinct_connections(&conn, 2, |raw| {
        raw.query_row("SELECT count(*), max(id) FROM t", [], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })
    });
    for rows in seen {
        assert_eq!(rows.unwrap(), (1, 2));
    }

    // A statement failing inside a transaction leaves it aborted; the next use of the
    // connection works all the same.
    let err = conn
        .with_raw(|raw| raw.execute_batch("BEGIN; INSERT INTO t VALUES (2)"))
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(err.to_lowercase().contains("constraint"), "{err}");
    for _ in 0..3 {
        assert_eq!(count(&conn, "t"), 1);
    }
    conn.execute_batch("INSERT INTO t VALUES (3)")
        .blocking()
        .unwrap();
    let seen = on_distinct_connections(&conn, 2, |raw| {
        raw.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
    });
    for rows in seen {
        assert_eq!(rows.unwrap(), 2);
    }

    // A session that is dropped or fails to commit leaves nothing behind either.
    let session = conn.session().blocking().unwrap();
    session
        .execute_batch("INSERT INTO t VALUES (4)")
        .blocking()
        .unwrap();
    drop(session);
    let session = conn.session().blocking().unwrap();
    assert!(
        session
            .execute_batch("INSERT INTO t VALUES (3)")
            .blocking()
            .is_err()
    );
    // DuckDB answers COMMIT of an aborted transaction by rolling it back silently;
    // conn says so.
    let err = session.commit().blocking().unwrap_err().to_string();
    assert!(
        err.ends_with("the transaction was rolled back, not committed: a statement in it failed"),
        "{err}"
    );
    assert_eq!(count(&conn, "t"), 2);
}

#[test]
fn database_wide_init_runs_once_and_per_connection_init_on_each() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.duckdb");
    let factory = factory(
        dir.path(),
        &format!(
            "[connections.maker]\ntype = \"duckdb\"\ndatabase = \"{other}\"\n\
             [connections.att]\ntype = \"duckdb\"\n\
             init = [\"ATTACH '{other}' AS other (READ_ONLY)\", \"CREATE MACRO twice(x) AS x * 2\", \
                     \"SET search_path = 'other.main,memory.main'\"]\n\
             [connections.explicit]\ntype = \"duckdb\"\n\
             init_once = [\"ATTACH '{other}' AS other (READ_ONLY)\"]\n\
             init_each = [\"SET TimeZone = 'Asia/Tokyo'\"]\n",
            other = other.display()
        ),
    );
    let maker = factory.get::<DuckDbConnection>("maker").unwrap();
    maker
        .execute_batch("CREATE TABLE birds AS SELECT range AS id FROM range(5)")
        .blocking()
        .unwrap();
    factory.clear();
    drop(maker);

    // Eight threads at once, each on a connection of its own (seven of them new
    // clones): the database attached once is there for all of them.
    let conn = factory.get::<DuckDbConnection>("att").unwrap();
    let seen = on_distinct_connections(&conn, 8, |raw| {
        raw.query_row(
            "SELECT (SELECT count(*) FROM other.birds), current_setting('search_path'), \
             (SELECT count(*) FROM birds), twice(21)",
            [],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            },
        )
    });
    for row in seen {
        assert_eq!(
            row.unwrap(),
            (5, "other.main,memory.main".to_owned(), 5, 42)
        );
    }
    let pool = conn.pool().blocking().unwrap();
    assert!(
        pool.connections_opened() >= 8,
        "{}",
        pool.connections_opened()
    );

    // Plain queries from eight threads through the same connection.
    std::thread::scope(|scope| {
        for i in 0..8_i64 {
            let conn = &conn;
            scope.spawn(move || {
                let n = conn
                    .query("SELECT count(*) + ? AS n FROM other.birds")
                    .bind(i)
                    .blocking()
                    .unwrap()
                    .rows::<(i64,)>()
                    .unwrap()[0]
                    .0;
                assert_eq!(n, 5 + i);
            });
        }
    });

    // The explicit lists: init_once once, init_each on every connection.
    let explicit = factory.get::<DuckDbConnection>("explicit").unwrap();
    let seen = on_distinct_connections(&explicit, 4, |raw| {
        raw.query_row(
            "SELECT (SELECT count(*) FROM other.birds), current_setting('TimeZone')",
            [],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
        )
    });
    for row in seen {
        assert_eq!(row.unwrap(), (5, "Asia/Tokyo".to_owned()));
    }
}

#[test]
fn with_raw_writes_and_commits_invalidate_cached_results() {
    let dir = tempfile::tempdir().unwrap();
    let factory = factory(dir.path(), "[connections.mem]\ntype = \"duckdb\"\n");
    let conn = factory.get::<DuckDbConnection>("mem").unwrap();
    conn.execute_batch("CREATE TABLE t AS SELECT 1 AS x")
        .blocking()
        .unwrap();
    let cached = |conn: &DuckDbConnection| {
        conn.query("SELECT count(*) AS n FROM t")
            .blocking()
            .unwrap()
            .rows::<(i64,)>()
            .unwrap()[0]
            .0
    };
    assert_eq!(cached(&conn), 1);
    assert_eq!(cached(&conn), 1);
    assert_eq!(conn.stats().cache_hits, 1);
    conn.with_raw(|raw| raw.execute("INSERT INTO t VALUES (2)", []))
        .blocking()
        .unwrap();
    assert_eq!(cached(&conn), 2, "re-read after a with_raw write");
    let session = conn.session().blocking().unwrap();
    session
        .execute_batch("INSERT INTO t VALUES (3)")
        .blocking()
        .unwrap();
    assert_eq!(cached(&conn), 2, "uncommitted: not visible");
    session.commit().blocking().unwrap();
    assert_eq!(cached(&conn), 3, "re-read after a commit");
}

#[test]
fn results_longer_than_one_vector_keep_nulls_and_types() {
    let dir = tempfile::tempdir().unwrap();
    let factory = factory(dir.path(), "[connections.mem]\ntype = \"duckdb\"\n");
    let conn = factory.get::<DuckDbConnection>("mem").unwrap();
    // 10,000 rows (five DuckDB vectors of 2048): NULLs only in the first vectors,
    // values after; a UNION of an INTEGER and a VARCHAR branch.
    let table = conn
        .query(
            "SELECT range AS id, \
                    CASE WHEN range < 5000 THEN NULL ELSE range * 2 END AS late, \
                    CASE WHEN range < 5000 THEN NULL ELSE 'v' || range END AS late_text \
             FROM range(10000) ORDER BY id",
        )
        .blocking()
        .unwrap();
    assert!(
        table.batches().len() > 1,
        "{} batches",
        table.batches().len()
    );
    assert_eq!(table.num_rows(), 10_000);
    let rows = table.rows::<(i64, Option<i64>, Option<String>)>().unwrap();
    for (i, (id, late, text)) in rows.iter().enumerate() {
        let i = i as i64;
        assert_eq!(*id, i);
        if i < 5000 {
            assert_eq!((late, text), (&None, &None), "row {i}");
        } else {
            assert_eq!(late, &Some(i * 2), "row {i}");
            assert_eq!(text.as_deref(), Some(format!("v{i}").as_str()), "row {i}");
        }
    }
    let union = conn
        .query(
            "SELECT * FROM (SELECT range::INTEGER AS v FROM range(3000) \
             UNION ALL SELECT 'x' || range FROM range(3000)) ORDER BY v",
        )
        .blocking()
        .unwrap();
    assert_eq!(union.schema().field(0).data_type(), &DataType::Utf8);
    assert_eq!(union.num_rows(), 6000);
    let values = union.rows::<(String,)>().unwrap();
    assert!(values.iter().any(|(v,)| v == "2999"));
    assert!(values.iter().any(|(v,)| v == "x2999"));
}

#[test]
fn a_timeout_interrupts_duckdb_and_the_pool_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    let factory = factory(
        dir.path(),
        "[connections.slow]\ntype = \"duckdb\"\ntimeout = \"300ms\"\n",
    );
    let conn = factory.get::<DuckDbConnection>("slow").unwrap();
    let long = "SELECT count(*) FROM range(100000000000) a";
    let started = std::time::Instant::now();
    let err = conn.query(long).ttl(Ttl::ZERO).blocking().unwrap_err();
    assert_eq!(err.kind(), conn_core::ErrorKind::Timeout);
    assert!(
        err.to_string()
            .starts_with("connection \"slow\": query timed out after 300ms (`timeout` set at "),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // The interrupted statement stopped: the pool serves the next query at once, on a
    // connection that carries no pending interrupt.
    for _ in 0..4 {
        let table = conn
            .query("SELECT 42 AS x")
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap();
        assert_eq!(table.num_rows(), 1);
    }
    // A shorter limit for one call beats the connection's.
    let err = conn
        .query(long)
        .ttl(Ttl::ZERO)
        .timeout(std::time::Duration::from_millis(50))
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("timed out after 50ms (the limit given to this call with .timeout())"),
        "{err}"
    );
    // The interrupt reached DuckDB: its worker threads are free again within the
    // timeout's margin (a still-running count over 10^11 rows would take minutes).
    let started = std::time::Instant::now();
    conn.query("SELECT count(*) FROM range(1000000)")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn an_in_memory_database_is_never_reset_by_a_retry() {
    let dir = tempfile::tempdir().unwrap();
    let factory = factory(dir.path(), "[connections.mem2]\ntype = \"duckdb\"\n");
    let conn = factory.get::<DuckDbConnection>("mem2").unwrap();
    conn.execute_batch("CREATE TABLE kept AS SELECT 1 AS x")
        .blocking()
        .unwrap();
    conn.query("SELECT * FROM no_such_table")
        .blocking()
        .unwrap_err();
    assert_eq!(count(&conn, "kept"), 1);
    assert_eq!(conn.stats().resets, 0);
}
