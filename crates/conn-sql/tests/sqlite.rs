//! The `sql` type against real SQLite files (no server needed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::{DataType, TimeUnit};
use common::Project;
use conn_core::{StatsSnapshot, Table, Ttl, arrow};
use conn_sql::{SqlConnection, WriteMode};
use serde::Deserialize;

fn pets_project() -> Project {
    Project::with(|dir| {
        format!(
            "[connections.pets_db]\ntype = \"sql\"\nurl = \"sqlite:///{}\"\n",
            dir.join("pets.db").display()
        )
    })
}

fn pets(project: &Project) -> Arc<SqlConnection> {
    project.sql("pets_db")
}

#[derive(Deserialize, Debug, PartialEq)]
struct Pet {
    person: String,
    pet: String,
}

/// The example from Streamlit's docs, end to end.
#[test]
fn the_pets_example() {
    let project = pets_project();
    let conn = pets(&project);
    let mut session = conn.session().blocking().unwrap();
    session
        .execute("CREATE TABLE IF NOT EXISTS pet_owners (person TEXT, pet TEXT);")
        .blocking()
        .unwrap();
    session
        .execute("DELETE FROM pet_owners;")
        .blocking()
        .unwrap();
    for (person, pet) in [("jerry", "fish"), ("barbara", "cat"), ("alex", "puppy")] {
        session
            .execute("INSERT INTO pet_owners (person, pet) VALUES (:owner, :pet);")
            .param("owner", person)
            .param("pet", pet)
            .blocking()
            .unwrap();
    }
    session.commit().blocking().unwrap();

    let table = conn
        .query("select * from pet_owners")
        .ttl(Duration::from_secs(600))
        .blocking()
        .unwrap();
    let rows: Vec<Pet> = table.rows().unwrap();
    assert_eq!(
        rows[1],
        Pet {
            person: "barbara".into(),
            pet: "cat".into()
        }
    );
    assert_eq!(table.num_rows(), 3);
    assert!(table.to_string().contains("barbara"));
    assert!(
        project.path("pets.db").exists(),
        "the database file was created"
    );
}

#[test]
fn a_session_dropped_without_commit_rolls_back() {
    let project = pets_project();
    let conn = pets(&project);
    conn.execute("CREATE TABLE t (x INTEGER)")
        .blocking()
        .unwrap();
    {
        let mut session = conn.session().blocking().unwrap();
        session
            .execute("INSERT INTO t VALUES (1)")
            .blocking()
            .unwrap();
        let inside = session
            .query("SELECT count(*) AS n FROM t")
            .blocking()
            .unwrap();
        assert_eq!(inside.rows::<(i64,)>().unwrap(), vec![(1,)]);
    }
    let after = conn
        .query("SELECT count(*) AS n FROM t")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    assert_eq!(after.rows::<(i64,)>().unwrap(), vec![(0,)]);
}

#[test]
fn declared_types_map_to_arrow() {
    let project = pets_project();
    let conn = pets(&project);
    conn.execute(
        "CREATE TABLE typed (i INTEGER, r REAL, t TEXT, b BLOB, flag BOOLEAN, d DATE, \
         ts DATETIME, n NUMERIC)",
    )
    .blocking()
    .unwrap();
    conn.execute(
        "INSERT INTO typed VALUES (1, 2.5, 'x', x'0102', 1, '2024-02-29', '2024-02-29 13:14:15', 7), \
         (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    )
    .blocking()
    .unwrap();
    let table = conn.query("SELECT * FROM typed").blocking().unwrap();
    let types: Vec<DataType> = table
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(
        types,
        vec![
            DataType::Int64,
            DataType::Float64,
            DataType::Utf8,
            DataType::Binary,
            DataType::Boolean,
            DataType::Date32,
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Int64,
        ]
    );
    #[derive(Deserialize, Debug)]
    struct Row {
        i: Option<i64>,
        flag: Option<bool>,
        d: Option<String>,
        ts: Option<String>,
    }
    let rows: Vec<Row> = table.rows().unwrap();
    assert_eq!(rows[0].i, Some(1));
    assert_eq!(rows[0].flag, Some(true));
    assert_eq!(rows[0].d.as_deref(), Some("2024-02-29"));
    assert_eq!(rows[0].ts.as_deref(), Some("2024-02-29T13:14:15"));
    assert!(rows[1].i.is_none() && rows[1].flag.is_none() && rows[1].ts.is_none());
}

#[test]
fn expressions_take_their_type_from_the_values() {
    let project = pets_project();
    let conn = pets(&project);
    let table = conn
        .query("SELECT 1 AS one, 2.5 AS half, 'a' AS letter, NULL AS missing")
        .blocking()
        .unwrap();
    let types: Vec<&DataType> = table
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type())
        .collect();
    assert_eq!(
        types,
        vec![
            &DataType::Int64,
            &DataType::Float64,
            &DataType::Utf8,
            &DataType::Null
        ]
    );
}

#[test]
fn in_memory_databases_keep_their_tables_across_statements() {
    let project = Project::new("[connections.mem]\ntype = \"sql\"\nurl = \"sqlite://\"\n");
    let conn = project.sql("mem");
    conn.execute("CREATE TABLE m (x INTEGER)")
        .blocking()
        .unwrap();
    conn.execute("INSERT INTO m VALUES (42)")
        .blocking()
        .unwrap();
    let table = conn.query("SELECT x FROM m").blocking().unwrap();
    assert_eq!(table.rows::<(i64,)>().unwrap(), vec![(42,)]);
}

#[test]
fn write_table_creates_appends_and_replaces() {
    let project = pets_project();
    let conn = pets(&project);
    conn.execute("CREATE TABLE src (id INTEGER, name TEXT, score REAL)")
        .blocking()
        .unwrap();
    conn.execute("INSERT INTO src VALUES (1, 'a', 0.5), (2, 'b', NULL)")
        .blocking()
        .unwrap();
    let source = conn.query("SELECT * FROM src").blocking().unwrap();

    assert_eq!(
        conn.write_table("copy", &source, WriteMode::Create)
            .blocking()
            .unwrap(),
        2
    );
    let err = conn
        .write_table("copy", &source, WriteMode::Create)
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(
        conn.write_table("copy", &source, WriteMode::Append)
            .blocking()
            .unwrap(),
        2
    );
    let count = |c: &SqlConnection| -> i64 {
        c.query("SELECT count(*) FROM copy")
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap()
            .rows::<(i64,)>()
            .unwrap()[0]
            .0
    };
    assert_eq!(count(&conn), 4);
    assert_eq!(
        conn.write_table("copy", &source, WriteMode::Replace)
            .blocking()
            .unwrap(),
        2
    );
    assert_eq!(count(&conn), 2);
    let back = conn
        .query("SELECT * FROM copy ORDER BY id")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    assert_eq!(back.to_string(), source.to_string());
}

#[test]
fn a_failed_write_leaves_the_table_as_it_was() {
    let project = pets_project();
    let conn = pets(&project);
    conn.execute("CREATE TABLE keyed (id INTEGER PRIMARY KEY, name TEXT)")
        .blocking()
        .unwrap();
    conn.execute("INSERT INTO keyed VALUES (1, 'kept'), (2, 'kept')")
        .blocking()
        .unwrap();
    let clash = conn
        .query("SELECT 3 AS id, 'new' AS name UNION ALL SELECT 1, 'dup'")
        .blocking()
        .unwrap();
    let err = conn
        .write_table("keyed", &clash, WriteMode::Append)
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(err.contains("UNIQUE constraint failed"), "{err}");
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
fn syntax_errors_fail_at_once_without_retry() {
    let project = pets_project();
    let conn = pets(&project);
    let err = conn.query("SELEC 1").blocking().unwrap_err();
    assert!(err.to_string().contains("syntax error"), "{err}");
    assert!(
        err.to_string()
            .starts_with("sql connection \"pets_db\", query: "),
        "{err}"
    );
    let stats: StatsSnapshot = conn.stats();
    assert_eq!((stats.queries, stats.retries), (1, 0));
}

#[test]
fn blocking_works_inside_runtimes_and_awaiting_works_too() {
    let project = pets_project();
    let conn = pets(&project);
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let table: Table = current
        .block_on(async { conn.query("SELECT 1 AS x").ttl(Ttl::ZERO).blocking() })
        .unwrap();
    assert_eq!(table.num_rows(), 1);
    let multi = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let awaited = multi
        .block_on(async { conn.query("SELECT 2 AS x").await })
        .unwrap();
    assert_eq!(awaited.rows::<(i64,)>().unwrap(), vec![(2,)]);
    let nested = multi
        .block_on(async {
            let conn = conn.clone();
            tokio::spawn(async move { conn.query("SELECT 3 AS x").blocking() }).await
        })
        .unwrap()
        .unwrap();
    assert_eq!(nested.rows::<(i64,)>().unwrap(), vec![(3,)]);
}

#[test]
fn conformance() {
    let project = Project::new("[connections.lite]\ntype = \"sql\"\nurl = \"sqlite://\"\n");
    conn_testkit::Conformance::<SqlConnection> {
        factory: project.factory,
        name: "lite".into(),
        read: |conn, ttl| conn.query("SELECT 1 AS one").ttl(ttl).blocking(),
        stats: SqlConnection::stats,
        health_check: |conn| conn.health_check().blocking(),
        secret: None,
        failing_name: None,
    }
    .run();
}

/// Holds an exclusive lock on the database at `path` from a connection of its own until
/// `release` says so; `locked` tells when it holds it.
fn hold_exclusive_lock(
    path: std::path::PathBuf,
    locked: std::sync::mpsc::Sender<()>,
    release: std::sync::mpsc::Receiver<()>,
) {
    use sqlx::Connection as _;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
        let mut locker = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        sqlx::raw_sql("BEGIN EXCLUSIVE")
            .execute(&mut locker)
            .await
            .unwrap();
        locked.send(()).unwrap();
        let _ = tokio::task::spawn_blocking(move || release.recv()).await;
        sqlx::raw_sql("COMMIT").execute(&mut locker).await.unwrap();
        locker.close().await.unwrap();
    });
}

#[test]
fn a_read_blocked_by_a_write_lock_is_retried_until_the_lock_is_released() {
    // A 50 ms busy timeout: SQLite gives up waiting quickly, and conn's retry (up to 8
    // attempts, 100 ms doubling to 400 ms apart) waits for the lock instead.
    let project = Project::with(|dir| {
        let url = format!("sqlite:///{}", dir.join("busy.db").display());
        format!(
            "[connections.lite]\ntype = \"sql\"\nurl = \"{url}\"\nbatch_size = 7\n\
             retry = {{ attempts = 8, wait = \"400ms\" }}\n\
             create_engine_kwargs = {{ connect_args = {{ timeout = 0.05 }} }}\n\
             [connections.once]\ntype = \"sql\"\nurl = \"{url}\"\n\
             retry = {{ attempts = 1 }}\n\
             create_engine_kwargs = {{ connect_args = {{ timeout = 0.05 }} }}\n"
        )
    });
    let conn = project.sql("lite");
    conn.execute(
        "CREATE TABLE survive AS WITH RECURSIVE g(id) AS \
         (SELECT 1 UNION ALL SELECT id + 1 FROM g WHERE id < 10000) \
         SELECT id, printf('row %05d', id) AS t, id * 1.25 AS n, \
         CASE WHEN id % 7 = 0 THEN NULL ELSE CAST(printf('%08x', id) AS BLOB) END AS b FROM g",
    )
    .blocking()
    .unwrap();
    let read = |conn: &SqlConnection| {
        conn.query("SELECT * FROM survive ORDER BY id")
            .ttl(Ttl::ZERO)
            .blocking()
    };
    let before = read(&conn).unwrap();
    assert_eq!(before.num_rows(), 10_000);
    assert_eq!(before.batches().len(), 10_000_usize.div_ceil(7));
    let stats_before = conn.stats();

    let (locked_tx, locked) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel();
    let path = project.path("busy.db");
    let locker = std::thread::spawn(move || hold_exclusive_lock(path, locked_tx, release_rx));
    locked.recv().unwrap();

    // Without retries the read fails at once: SQLITE_BUSY, a transient error.
    let err = read(&project.sql("once")).unwrap_err();
    assert_eq!(err.class(), conn_core::ErrorClass::Transient, "{err}");
    assert!(err.to_string().contains("database is locked"), "{err}");

    // With them, it comes through once the lock is released, 600 ms in.
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(600));
        release.send(()).unwrap();
    });
    let started = std::time::Instant::now();
    let after = read(&conn).unwrap();
    let waited = started.elapsed();
    releaser.join().unwrap();
    locker.join().unwrap();
    common::assert_same_table(&before, &after);
    assert!(waited >= Duration::from_millis(550), "{waited:?}");
    let stats = conn.stats();
    let retries = stats.retries - stats_before.retries;
    assert!(
        (2..=7).contains(&retries),
        "a busy database is retried until the lock is gone: {stats:?}"
    );
    // Busy is transient, not stale: the file's pool is kept, nothing reconnects.
    assert_eq!(
        (
            stats.connects - stats_before.connects,
            stats.resets - stats_before.resets
        ),
        (0, 0),
        "{stats:?}"
    );
}
