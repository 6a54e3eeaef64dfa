//! The `duckdb` type against real DuckDB files and in-memory databases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use conn_core::arrow::datatypes::DataType;
use conn_core::{ConnectionFactory, Env, Table, Ttl};
use conn_duckdb::{DuckDbConnection, WriteMode};

fn factory(dir: &Path, secrets: &str) -> Arc<ConnectionFactory> {
    std::fs::create_dir_all(dir.join(".streamlit")).unwrap();
    std::fs::write(dir.join(".streamlit/secrets.toml"), secrets).unwrap();
    Arc::new(
        ConnectionFactory::builder()
            .env(Env::from_pairs([(
                "HOME",
                dir.join("home").display().to_string(),
            )]))
            .project_dir(dir)
            .build(),
    )
}

fn file_db(dir: &Path) -> Arc<ConnectionFactory> {
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
    conn.execute_batch_blocking(
        "CREATE TABLE birds (name VARCHAR); INSERT INTO birds VALUES ('a'), ('b'), ('c');",
    )
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
    conn.execute_batch_blocking("CREATE TABLE t AS SELECT range AS x FROM range(10)")
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
    conn.execute_batch_blocking("CREATE TABLE t (x INTEGER)")
        .unwrap();
    factory.clear();
    drop(conn);
    let ro = factory.get::<DuckDbConnection>("ducks_ro").unwrap();
    assert_eq!(count(&ro, "t"), 0);
    let err = ro
        .execute_batch_blocking("INSERT INTO t VALUES (1)")
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
    let pool = futures::executor::block_on(conn.pool()).unwrap();
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
        conn.write_table_blocking("copied", &source, WriteMode::Create)
            .unwrap(),
        5000
    );
    assert_eq!(count(&conn, "copied"), 5000);
    assert_eq!(
        conn.write_table_blocking("copied", &source, WriteMode::Append)
            .unwrap(),
        5000
    );
    assert_eq!(count(&conn, "copied"), 10_000);
    assert_eq!(
        conn.write_table_blocking("copied", &source, WriteMode::Replace)
            .unwrap(),
        5000
    );
    assert_eq!(count(&conn, "copied"), 5000);

    conn.execute_batch_blocking(
        "CREATE TABLE keyed (id BIGINT PRIMARY KEY, name VARCHAR); \
         INSERT INTO keyed VALUES (1, 'kept'), (2, 'kept');",
    )
    .unwrap();
    let clash = conn
        .query("SELECT * FROM (VALUES (3::BIGINT, 'new'), (1::BIGINT, 'dup')) v(id, name)")
        .blocking()
        .unwrap();
    let err = conn
        .write_table_blocking("keyed", &clash, WriteMode::Append)
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
        health_check: |conn| futures::executor::block_on(conn.health_check()),
        secret: Some("/tmp/Duck-S3cret-1".into()),
        failing_name: Some("failing".into()),
    }
    .run();
}
