//! The `sql` type against the real PostgreSQL server named by CONN_TEST_POSTGRES_URL.
//! Skipped with a message when it is unset; `.ci/run` sets it and makes it required.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Decimal128Type, Int32Type, IntervalUnit, TimeUnit};
use common::{POSTGRES_VAR, PgScratch, Project};
use conn_core::{ErrorClass, Table, Ttl, arrow};
use conn_sql::{SqlConnection, WriteMode};

fn scratch() -> Option<(PgScratch, Project)> {
    let base = conn_testkit::server_url(POSTGRES_VAR, "PostgreSQL")?;
    let scratch = PgScratch::new(&base);
    let url = scratch.url.clone();
    let project = Project::new(&format!(
        "[connections.pg]\ntype = \"sql\"\nurl = \"{url}\"\nretry = {{ attempts = 3, wait = \"50ms\" }}\n"
    ));
    Some((scratch, project))
}

const ALL_TYPES: &str = "
    CREATE TYPE mood AS ENUM ('sad', 'happy');
    CREATE TABLE everything (
        i2 smallint, i4 integer, i8 bigint, f4 real, f8 double precision,
        num numeric(12, 2), free_num numeric, t text, vc varchar(10), ch char(3),
        b boolean, d date, tm time, ts timestamp, tstz timestamptz, iv interval,
        by bytea, u uuid, js json, jsb jsonb, arr integer[], tags text[], m mood
    );
    INSERT INTO everything VALUES (
        -2, 4, 8000000000, 1.5, 2.25, 1234567890.12, 3.14159, 'text', 'varchar', 'ab',
        true, '2024-02-29', '13:14:15.123456', '2024-02-29 13:14:15.5', '2024-02-29 13:14:15+02',
        '1 year 2 months 3 days 04:05:06', '\\x0102ff', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
        '{\"a\": 1}', '{\"b\": [2]}', ARRAY[1, NULL, 3], ARRAY['x', 'y'], 'happy'
    );
    INSERT INTO everything DEFAULT VALUES;
";

fn expected_types() -> Vec<DataType> {
    let list = |inner: DataType| {
        DataType::List(Arc::new(arrow::datatypes::Field::new_list_field(
            inner, true,
        )))
    };
    vec![
        DataType::Int16,
        DataType::Int32,
        DataType::Int64,
        DataType::Float32,
        DataType::Float64,
        DataType::Decimal128(12, 2),
        DataType::Decimal128(38, 5),
        DataType::Utf8,
        DataType::Utf8,
        DataType::Utf8,
        DataType::Boolean,
        DataType::Date32,
        DataType::Time64(TimeUnit::Microsecond),
        DataType::Timestamp(TimeUnit::Microsecond, None),
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        DataType::Interval(IntervalUnit::MonthDayNano),
        DataType::Binary,
        DataType::FixedSizeBinary(16),
        DataType::Utf8,
        DataType::Utf8,
        list(DataType::Int32),
        list(DataType::Utf8),
        DataType::Utf8,
    ]
}

fn check_everything(table: &Table) {
    let types: Vec<DataType> = table
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(types, expected_types());
    assert_eq!(table.num_rows(), 2);
    let batch = table.to_record_batch().unwrap();
    // Every column of the second row is NULL.
    for column in batch.columns() {
        assert!(column.is_null(1), "{column:?}");
    }
    let text = |name: &str| {
        let array = table.column(name).unwrap();
        arrow::util::display::ArrayFormatter::try_new(array.as_ref(), &Default::default())
            .unwrap()
            .value(0)
            .to_string()
    };
    assert_eq!(text("i8"), "8000000000");
    assert_eq!(text("num"), "1234567890.12");
    assert_eq!(text("free_num"), "3.14159");
    assert_eq!(text("ch"), "ab ");
    assert_eq!(text("d"), "2024-02-29");
    assert_eq!(text("tm"), "13:14:15.123456");
    assert_eq!(text("ts"), "2024-02-29T13:14:15.500");
    assert_eq!(text("tstz"), "2024-02-29T11:14:15Z");
    assert_eq!(text("by"), "0102ff");
    assert_eq!(text("u"), "a0eebc999c0b4ef8bb6d6bb9bd380a11");
    assert_eq!(text("jsb"), "{\"b\": [2]}");
    assert_eq!(text("m"), "happy");
    let num = table.column("num").unwrap();
    assert_eq!(
        num.as_primitive::<Decimal128Type>().value(0),
        123_456_789_012
    );
    let interval = table.column("iv").unwrap();
    let iv = interval
        .as_primitive::<arrow::datatypes::IntervalMonthDayNanoType>()
        .value(0);
    assert_eq!(
        (iv.months, iv.days, iv.nanoseconds),
        (14, 3, 14_706_000_000_000)
    );
    let arr = table.column("arr").unwrap();
    let first = arr.as_list::<i32>().value(0);
    assert_eq!(
        first.as_primitive::<Int32Type>().iter().collect::<Vec<_>>(),
        vec![Some(1), None, Some(3)]
    );
    let u = table.schema().field_with_name("u").unwrap();
    assert_eq!(u.extension_type_name(), Some("arrow.uuid"));
}

#[test]
fn every_type_maps_faithfully_through_copy_and_through_rows() {
    let Some((scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("pg");
    let mut session = conn.session().blocking().unwrap();
    for statement in ALL_TYPES.split(';').filter(|s| !s.trim().is_empty()) {
        session.execute(statement).blocking().unwrap();
    }
    session.commit().blocking().unwrap();
    // No parameters: the COPY path.
    let copied = conn
        .query("SELECT * FROM everything ORDER BY i4")
        .blocking()
        .unwrap();
    check_everything(&copied);
    // A parameter: the row path. Both must agree.
    let rows = conn
        .query("SELECT * FROM everything WHERE $1 ORDER BY i4")
        .bind(true)
        .blocking()
        .unwrap();
    check_everything(&rows);
    assert_eq!(copied.to_string(), rows.to_string());
    drop(scratch);
}

#[test]
fn named_parameters_casts_and_literals() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("pg");
    let table = conn
        .query("SELECT :n::int + 1 AS next, ':not_a_param' AS lit, :name AS name, :n AS again")
        .param("n", 41)
        .param("name", "Ada")
        .blocking()
        .unwrap();
    let rows: Vec<(i32, String, String, i64)> = table.rows().unwrap();
    assert_eq!(rows, vec![(42, ":not_a_param".into(), "Ada".into(), 41)]);
    let null = conn
        .query("SELECT CAST(:v AS date) AS d")
        .param("v", Option::<i64>::None)
        .blocking()
        .unwrap();
    assert!(null.column("d").unwrap().is_null(0));
}

/// Terminates the backend serving `conn`, then queries again; returns the stats.
fn terminate_then_query(scratch: &PgScratch, conn: &SqlConnection) -> conn_core::StatsSnapshot {
    let pid = |conn: &SqlConnection| {
        conn.query("SELECT pg_backend_pid() AS pid")
            .ttl(Ttl::ZERO)
            .blocking()
            .expect("the caller never sees the terminated backend")
            .rows::<(i32,)>()
            .unwrap()[0]
            .0
    };
    let before = pid(conn);
    let killed = scratch
        .admin()
        .query("SELECT pg_terminate_backend(:pid) AS done")
        .param("pid", before)
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    assert_eq!(killed.rows::<(bool,)>().unwrap(), vec![(true,)]);
    std::thread::sleep(Duration::from_millis(300));
    assert_ne!(pid(conn), before);
    conn.stats()
}

#[test]
fn a_terminated_backend_is_recovered_by_our_retry() {
    let Some((scratch, _project)) = scratch() else {
        return;
    };
    // Without the pool's ping, the dead connection reaches the query: conn's retry
    // classifies the error as stale, resets and runs the query again.
    let project = Project::new(&format!(
        "[connections.pg]\ntype = \"sql\"\nurl = \"{}\"\n\
         retry = {{ attempts = 3, wait = \"50ms\" }}\n\
         create_engine_kwargs = {{ pool_pre_ping = false }}\n",
        scratch.url
    ));
    let stats = terminate_then_query(&scratch, &project.sql("pg"));
    assert_eq!(
        (stats.retries, stats.resets, stats.connects),
        (1, 1, 2),
        "{stats:?}"
    );
}

#[test]
fn a_terminated_backend_is_recovered_by_the_pool_ping() {
    let Some((scratch, project)) = scratch() else {
        return;
    };
    // With SQLAlchemy's pool_pre_ping (sqlx's default), the pool replaces the dead
    // connection before the query runs.
    let stats = terminate_then_query(&scratch, &project.sql("pg"));
    assert_eq!((stats.retries, stats.connects), (0, 1), "{stats:?}");
}

#[test]
fn syntax_errors_are_not_retried() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("pg");
    let err = conn.query("SELEC 1").blocking().unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert_eq!(err.code(), Some("42601"));
    assert!(
        err.to_string()
            .contains("syntax error at or near \"SELEC\""),
        "{err}"
    );
    let missing = conn
        .query("SELECT * FROM no_such_table")
        .blocking()
        .unwrap_err();
    assert_eq!(missing.code(), Some("42P01"));
    let stats = conn.stats();
    assert_eq!((stats.queries, stats.retries), (2, 0));
}

#[test]
fn write_table_round_trips_and_a_failure_changes_nothing() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("pg");
    let source = conn
        .query(
            "SELECT g AS id, 'name ' || g AS name, g * 1.5 AS score, (g % 2 = 0) AS even, \
             now()::timestamp AS at, g::numeric(10, 2) AS price, ARRAY[g, g + 1] AS pair \
             FROM generate_series(1, 2500) g",
        )
        .blocking()
        .unwrap();
    assert_eq!(
        conn.write_table("copied", &source, WriteMode::Create)
            .blocking()
            .unwrap(),
        2500
    );
    let back = conn
        .query("SELECT * FROM copied ORDER BY id")
        .blocking()
        .unwrap();
    assert_eq!(back.schema().fields().len(), 7);
    assert_eq!(back.to_string(), source.to_string());

    // Appending Int64 data to an integer column works; a duplicate key rolls all back.
    conn.execute("CREATE TABLE keyed (id integer PRIMARY KEY, name text)")
        .blocking()
        .unwrap();
    conn.execute("INSERT INTO keyed VALUES (1, 'kept'), (2, 'kept')")
        .blocking()
        .unwrap();
    let clash = conn
        .query("SELECT * FROM (VALUES (3::bigint, 'new'), (1::bigint, 'dup')) v(id, name)")
        .blocking()
        .unwrap();
    let err = conn
        .write_table("keyed", &clash, WriteMode::Append)
        .blocking()
        .unwrap_err();
    assert_eq!(err.code(), Some("23505"), "{err}");
    // Replace fails mid-COPY (text cannot hold NUL): the old table survives whole.
    let bad = conn
        .query("SELECT 9 AS id, 'a' || chr(1) AS name")
        .blocking()
        .unwrap();
    let bad = Table::from_batch(replace_text(
        &bad.to_record_batch().unwrap(),
        "name",
        "nul\0byte",
    ));
    let err = conn
        .write_table("keyed", &bad, WriteMode::Replace)
        .blocking()
        .unwrap_err();
    assert!(err.to_string().contains("0x00"), "{err}");
    let rows = conn
        .query("SELECT id, name FROM keyed ORDER BY id")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(i32, String)>()
        .unwrap();
    assert_eq!(rows, vec![(1, "kept".into()), (2, "kept".into())]);
}

fn replace_text(
    batch: &arrow::array::RecordBatch,
    column: &str,
    value: &str,
) -> arrow::array::RecordBatch {
    let index = batch.schema().index_of(column).unwrap();
    let mut columns = batch.columns().to_vec();
    columns[index] = Arc::new(arrow::array::StringArray::from(vec![
        value;
        batch.num_rows()
    ]));
    arrow::array::RecordBatch::try_new(batch.schema(), columns).unwrap()
}

#[test]
fn passwords_with_url_characters_work_and_never_show() {
    let Some((scratch, _project)) = scratch() else {
        return;
    };
    let role = conn_testkit::unique_name("conn_role");
    let password = "p@ss/w#rd?:%";
    scratch
        .admin()
        .execute(format!("CREATE ROLE {role} LOGIN PASSWORD 'p@ss/w#rd?:%'"))
        .blocking()
        .unwrap();
    let project = Project::new(&format!(
        "[connections.parts]\ntype = \"sql\"\ndialect = \"postgresql\"\nhost = \"127.0.0.1\"\n\
         port = 5432\ndatabase = \"test\"\nusername = \"{role}\"\npassword = \"{password}\"\n\
         [connections.nodb]\ntype = \"sql\"\ndialect = \"postgresql\"\nhost = \"127.0.0.1\"\n\
         username = \"{role}\"\npassword = \"{password}\"\ndatabase = \"no_such_db_{role}\"\n"
    ));
    let conn = project.sql("parts");
    let who = conn.query("SELECT current_user AS u").blocking().unwrap();
    assert_eq!(who.rows::<(String,)>().unwrap()[0].0, role);
    assert!(!format!("{conn:?}").contains(password));
    let err = project
        .sql("nodb")
        .query("SELECT 1")
        .blocking()
        .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("does not exist"), "{shown}");
    assert!(
        !shown.contains(password) && !shown.contains("p%40ss"),
        "{shown}"
    );
    drop(project);
    scratch
        .admin()
        .execute(format!("DROP ROLE {role}"))
        .blocking()
        .unwrap();
}

#[test]
fn engine_kwargs_shape_the_pool() {
    let Some((scratch, _project)) = scratch() else {
        return;
    };
    let project = Project::new(&format!(
        "[connections.small]\ntype = \"sql\"\nurl = \"{}\"\n\
         create_engine_kwargs = {{ pool_size = 1, max_overflow = 1, pool_timeout = 5, pool_pre_ping = true }}\n",
        scratch.url
    ));
    let conn = project.sql("small");
    conn.query("SELECT 1").blocking().unwrap();
    let conn_sql::SqlPool::Postgres(pool) = conn.pool().blocking().unwrap() else {
        panic!("a PostgreSQL pool")
    };
    assert_eq!(pool.options().get_max_connections(), 2);
    assert!(pool.options().get_test_before_acquire());
}

#[test]
fn conformance() {
    let Some((scratch, _project)) = scratch() else {
        return;
    };
    let project = Project::new(&format!(
        "[connections.pg]\ntype = \"sql\"\nurl = \"{}\"\n\
         [connections.wrong]\ntype = \"sql\"\nurl = \"postgres://postgres:Sup3rS3cret@127.0.0.1:5432/no_such_database_xyz\"\n",
        // Trust authentication accepts any password, so the working URL can carry one.
        scratch
            .url
            .replacen("postgres@", "postgres:Sup3rS3cret@", 1)
    ));
    conn_testkit::Conformance::<SqlConnection> {
        factory: project.factory,
        name: "pg".into(),
        read: |conn, ttl| conn.query("SELECT 1 AS one").ttl(ttl).blocking(),
        stats: SqlConnection::stats,
        health_check: |conn| conn.health_check().blocking(),
        secret: Some("Sup3rS3cret".into()),
        failing_name: Some("wrong".into()),
    }
    .run();
}

/// A table of 10,000 rows of several types, read in batches of 7 through a single
/// pooled connection without the pool's ping, so that a dead connection reaches conn's
/// retry. Returns the connection and the table as read.
fn ten_thousand_rows(scratch: &PgScratch) -> (Project, Arc<SqlConnection>, Table) {
    scratch
        .admin()
        .execute(format!(
            "CREATE TABLE {}.survive AS SELECT g AS id, md5(g::text) AS t, g * 1.25 AS n, \
             CASE WHEN g % 7 = 0 THEN NULL ELSE timestamptz '2024-02-29 12:00:00+00' \
             - g * interval '1 minute' END AS ts, decode(md5(g::text), 'hex') AS b \
             FROM generate_series(1, 10000) g",
            scratch.schema
        ))
        .blocking()
        .unwrap();
    let project = Project::new(&format!(
        "[connections.pg]\ntype = \"sql\"\nurl = \"{}\"\nbatch_size = 7\n\
         retry = {{ attempts = 3, wait = \"50ms\" }}\n\
         create_engine_kwargs = {{ pool_size = 1, max_overflow = 0, pool_pre_ping = false }}\n",
        scratch.url
    ));
    let conn = project.sql("pg");
    let table = conn
        .query("SELECT * FROM survive ORDER BY id")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    assert_eq!(table.num_rows(), 10_000);
    assert_eq!(table.batches().len(), 10_000_usize.div_ceil(7));
    (project, conn, table)
}

fn backend_pid(conn: &SqlConnection) -> i32 {
    conn.query("SELECT pg_backend_pid() AS pid")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(i32,)>()
        .unwrap()[0]
        .0
}

#[test]
fn a_connection_terminated_between_reads_is_retried_and_the_data_survives() {
    let Some((scratch, _)) = scratch() else {
        return;
    };
    let (_project, conn, before) = ten_thousand_rows(&scratch);
    let pid = backend_pid(&conn);
    let stats = conn.stats();
    assert_eq!((stats.connects, stats.retries, stats.resets), (1, 0, 0));
    let killed = scratch
        .admin()
        .query("SELECT pg_terminate_backend(:pid) AS done")
        .param("pid", pid)
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    assert_eq!(killed.rows::<(bool,)>().unwrap(), vec![(true,)]);
    std::thread::sleep(Duration::from_millis(300));
    let after = conn
        .query("SELECT * FROM survive ORDER BY id")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    common::assert_same_table(&before, &after);
    assert_ne!(backend_pid(&conn), pid, "a new backend serves the pool");
    // The dead connection fails the read's first statement: conn resets the pool,
    // reconnects once and reads once more. (When sqlx's pool notices the closed socket
    // first, it replaces the connection itself and conn sees no error at all.)
    let stats = conn.stats();
    let counted = (stats.connects, stats.retries, stats.resets);
    assert!(
        counted == (2, 1, 1) || counted == (1, 0, 0),
        "one reconnect, one retry, one reset (or none seen): {stats:?}"
    );
}

/// Reads `sql` on `conn` (through the row path when `rows`, a parameter forcing it)
/// while an admin connection terminates the backend running it once, when it sleeps at
/// row 5000 (4,999 rows have arrived by then).
fn terminated_mid_read(scratch: &PgScratch, conn: &SqlConnection, sql: &str, rows: bool) -> Table {
    let marker = conn_testkit::unique_name("mid_read");
    // No ORDER BY: a sort would run every pg_sleep before the first row is sent. The
    // table was filled in id order, and a scan of it returns that order.
    let sql = format!(
        "SELECT *, CASE WHEN id = 5000 THEN pg_sleep(0.5)::text || '{marker}' END AS slept \
         FROM ({sql}) AS s"
    );
    std::thread::scope(|scope| {
        let killer = scope.spawn(|| {
            for _ in 0..500 {
                let found = scratch
                    .admin()
                    .query(
                        "SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep' \
                         AND query LIKE :marker AND pid <> pg_backend_pid()",
                    )
                    .param("marker", format!("%{marker}%"))
                    .ttl(Ttl::ZERO)
                    .blocking()
                    .unwrap()
                    .rows::<(i32,)>()
                    .unwrap();
                if let Some((pid,)) = found.first() {
                    scratch
                        .admin()
                        .query("SELECT pg_terminate_backend(:pid) AS done")
                        .param("pid", *pid)
                        .ttl(Ttl::ZERO)
                        .blocking()
                        .unwrap();
                    return true;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            false
        });
        let query = if rows {
            conn.query(format!("SELECT * FROM ({sql}) AS q WHERE $1"))
                .bind(true)
        } else {
            conn.query(sql.clone())
        };
        let table = query.ttl(Ttl::ZERO).blocking().unwrap();
        assert!(killer.join().unwrap(), "the read was never seen sleeping");
        table
    })
}

#[test]
fn a_connection_terminated_in_the_middle_of_a_read_is_read_again_from_the_start() {
    let Some((scratch, _)) = scratch() else {
        return;
    };
    let (_project, conn, before) = ten_thousand_rows(&scratch);
    let columns: Vec<usize> = (0..before.num_columns()).collect();
    for (path, rows) in [("COPY", false), ("rows", true)] {
        let stats_before = conn.stats();
        let after = terminated_mid_read(&scratch, &conn, "SELECT * FROM survive", rows);
        let after = Table::from_batch(after.to_record_batch().unwrap().project(&columns).unwrap());
        common::assert_same_table(&before, &after);
        let stats = conn.stats();
        assert_eq!(
            (
                stats.connects - stats_before.connects,
                stats.retries - stats_before.retries,
                stats.resets - stats_before.resets
            ),
            (1, 1, 1),
            "{path}: read again once, on a new connection: {stats:?}"
        );
    }
}

#[test]
fn a_dropped_session_with_an_aborted_transaction_leaves_no_transaction_in_the_pool() {
    let Some((scratch, _)) = scratch() else {
        return;
    };
    scratch
        .admin()
        .execute(format!(
            "CREATE TABLE {s}.kept (n int); CREATE TABLE {s}.aborted (n int)",
            s = scratch.schema
        ))
        .blocking()
        .unwrap();
    // Two pooled connections: the session holds one, everyone else shares the other.
    let project = Project::new(&format!(
        "[connections.pg]\ntype = \"sql\"\nurl = \"{}\"\n\
         create_engine_kwargs = {{ pool_size = 2, max_overflow = 0 }}\n",
        scratch.url
    ));
    let conn = project.sql("pg");
    let barrier = std::sync::Barrier::new(2);
    let session_pid = std::thread::scope(|scope| {
        let session = scope.spawn(|| {
            let mut session = conn.session().blocking().unwrap();
            let pid = session
                .query("SELECT pg_backend_pid() AS pid")
                .blocking()
                .unwrap()
                .rows::<(i32,)>()
                .unwrap()[0]
                .0;
            session
                .execute("INSERT INTO aborted VALUES (1)")
                .blocking()
                .unwrap();
            barrier.wait(); // The other connection starts working.
            let err = session.execute("SELECT 1 / 0").blocking().unwrap_err();
            assert_eq!(err.code(), Some("22012"), "{err}");
            // The transaction is aborted: every statement fails until it ends.
            let err = session.query("SELECT 1 AS one").blocking().unwrap_err();
            assert_eq!(err.code(), Some("25P02"), "{err}");
            barrier.wait();
            drop(session); // Never committed nor rolled back.
            pid
        });
        barrier.wait();
        for n in 0..20 {
            conn.execute(format!("INSERT INTO kept VALUES ({n})"))
                .blocking()
                .unwrap();
            let count = conn
                .query("SELECT count(*) AS c FROM kept")
                .ttl(Ttl::ZERO)
                .blocking()
                .unwrap()
                .rows::<(i64,)>()
                .unwrap()[0]
                .0;
            assert_eq!(count, n + 1);
        }
        barrier.wait();
        session.join().unwrap()
    });
    // The dropped session's transaction ends on the server at once, not whenever its
    // connection is next used.
    let mut lingering = 1;
    for _ in 0..40 {
        lingering = scratch
            .admin()
            .query(
                "SELECT count(*) AS n FROM pg_stat_activity \
                 WHERE pid = :pid AND state LIKE 'idle in transaction%'",
            )
            .param("pid", session_pid)
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap()
            .rows::<(i64,)>()
            .unwrap()[0]
            .0;
        if lingering == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        lingering, 0,
        "the dropped session's transaction is still open"
    );
    // Both pooled connections at once (each holds its own for 300 ms): neither is in a
    // transaction (no transaction id, `now()` is this statement's start) and none is
    // `idle in transaction (aborted)` on the server.
    let states: Vec<(i32, Option<i64>, bool)> = std::thread::scope(|scope| {
        let probes: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    conn.query(
                        "SELECT pg_backend_pid() AS pid, \
                         txid_current_if_assigned()::text::bigint AS txid, \
                         now() = statement_timestamp() AS fresh, pg_sleep(0.3)::text AS s",
                    )
                    .ttl(Ttl::ZERO)
                    .blocking()
                    .unwrap()
                    .rows::<(i32, Option<i64>, bool, String)>()
                    .unwrap()
                    .into_iter()
                    .map(|(pid, txid, fresh, _)| (pid, txid, fresh))
                    .next()
                    .unwrap()
                })
            })
            .collect();
        probes.into_iter().map(|p| p.join().unwrap()).collect()
    });
    assert_ne!(
        states[0].0, states[1].0,
        "both pooled connections: {states:?}"
    );
    for (pid, txid, fresh) in &states {
        assert_eq!((*txid, *fresh), (None, true), "backend {pid}: {states:?}");
    }
    let open = scratch
        .admin()
        .query(
            "SELECT count(*) AS n FROM pg_stat_activity \
             WHERE pid IN (:a, :b) AND state LIKE 'idle in transaction%'",
        )
        .param("a", states[0].0)
        .param("b", states[1].0)
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(i64,)>()
        .unwrap()[0]
        .0;
    assert_eq!(open, 0);
    // The session's insert was rolled back; every other one is there.
    let counts = conn
        .query(
            "SELECT (SELECT count(*) FROM kept) AS kept, (SELECT count(*) FROM aborted) AS aborted",
        )
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(i64, i64)>()
        .unwrap();
    assert_eq!(counts, vec![(20, 0)]);
}
