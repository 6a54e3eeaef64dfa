//! Streamed reads (`stream()`) on PostgreSQL (COPY and rows), MySQL/MariaDB and
//! SQLite: every batch arrives in order with one schema and equals `query()`; a result
//! without rows has its schema; an error mid-result ends the stream after the batches
//! before it, with no retry; dropping the stream stops the statement on the server and
//! leaves the connection usable. The servers are skipped with a message when their URL
//! is unset; `.ci/run` sets them and makes them required.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int64Type, SchemaRef};
use common::{MYSQL_VAR, MySqlScratch, POSTGRES_VAR, PgScratch, Project};
use conn_core::{BatchStream, Param, Table, Ttl, arrow};
use conn_sql::SqlConnection;

/// The batch size of every streaming connection here: many batches from 1,000 rows.
const BATCH: usize = 7;

/// What a stream gave: its schema, its batches, and the error that ended it.
struct Drained {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    error: Option<String>,
}

impl Drained {
    fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// The `Int64` first column of every batch, in order.
    fn ids(&self) -> Vec<i64> {
        self.batches
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_primitive::<Int64Type>()
                    .iter()
                    .map(Option::unwrap)
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// Reads the stream to its end (blocking, as an iterator): every batch must have the
/// stream's schema, and nothing may follow an error.
fn drain(stream: BatchStream) -> Drained {
    let schema = stream.schema();
    let mut items = stream.into_iter();
    let (mut batches, mut error) = (Vec::new(), None);
    for item in items.by_ref() {
        match item {
            Ok(batch) => {
                assert_eq!(
                    batch.schema(),
                    schema,
                    "every batch has the stream's schema"
                );
                batches.push(batch);
            }
            Err(err) => {
                error = Some(err.to_string());
                break;
            }
        }
    }
    if error.is_some() {
        assert!(items.next().is_none(), "nothing follows the error");
    }
    Drained {
        schema,
        batches,
        error,
    }
}

fn stream(conn: &SqlConnection, sql: &str, params: &[Param]) -> Drained {
    let mut query = conn.query(sql);
    for param in params {
        query = query.bind(param.clone());
    }
    drain(query.stream().blocking().unwrap())
}

fn read(conn: &SqlConnection, sql: &str, params: &[Param]) -> Table {
    let mut query = conn.query(sql).ttl(Ttl::ZERO);
    for param in params {
        query = query.bind(param.clone());
    }
    query.blocking().unwrap()
}

/// Streams `sql` and reads it with `query()`: the stream arrives complete, in
/// batches of [`BATCH`] rows (the last one shorter), and equals the table.
fn streams_like_query(conn: &SqlConnection, sql: &str, params: &[Param], rows: usize) {
    let streamed = stream(conn, sql, params);
    assert_eq!(streamed.error, None, "{sql}");
    assert_eq!(streamed.rows(), rows, "{sql}");
    assert_eq!(streamed.batches.len(), rows.div_ceil(BATCH), "{sql}");
    for batch in &streamed.batches[..streamed.batches.len() - 1] {
        assert_eq!(batch.num_rows(), BATCH, "{sql}");
    }
    let ids = streamed.ids();
    assert_eq!(ids, (1..=i64::try_from(rows).unwrap()).collect::<Vec<_>>());
    let table = read(conn, sql, params);
    let streamed = Table::new(streamed.schema, streamed.batches).unwrap();
    common::assert_same_table(&table, &streamed);
}

/// A result without rows: the stream has `query()`'s schema and no batch.
fn empty_has_its_schema(conn: &SqlConnection, sql: &str, params: &[Param]) {
    let streamed = stream(conn, sql, params);
    assert_eq!(streamed.error, None, "{sql}");
    assert!(streamed.batches.is_empty(), "{sql}");
    let table = read(conn, sql, params);
    assert_eq!(streamed.schema, *table.schema(), "{sql}");
    assert!(streamed.schema.fields().len() > 1, "{sql}");
}

/// A statement that fails at its row 500 (id 500): the stream gives the 71 whole
/// batches before it (ids 1 to 497, the two rows after them never form a batch), then
/// the error, then nothing; the read is not retried.
fn error_midway(conn: &SqlConnection, sql: &str, params: &[Param], expected: &str) {
    let retries = conn.stats().retries;
    let streamed = stream(conn, sql, params);
    let error = streamed.error.as_deref().unwrap_or("no error");
    assert!(error.contains(expected), "{sql}: {error}");
    assert_eq!(streamed.ids(), (1..=497).collect::<Vec<_>>(), "{sql}");
    assert_eq!(conn.stats().retries, retries, "{sql}: retried");
}

/// Polls `count` (at most 10 s) until it is 0; returns whether it got there.
fn becomes_zero(count: impl Fn() -> i64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if count() == 0 {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// The limit on the wait for the first batch of an endless statement (a stream that
/// did not stream would wait forever).
const FIRST_BATCH_WITHIN: Duration = Duration::from_secs(30);

/// Takes one batch of the endless `sql` and drops the stream: `running` counts the
/// statement (or the connection that ran it) on the server before (1) and after (0
/// within a few seconds: cancelled and closed, not returned to the pool), and the next
/// statement on the connection (the pool's only one, a new one) is answered.
fn drop_cancels(conn: &SqlConnection, sql: &str, running: impl Fn() -> i64) {
    let mut stream = conn
        .query(sql)
        .stream()
        .timeout(FIRST_BATCH_WITHIN)
        .blocking()
        .unwrap();
    let first = stream.next_blocking().unwrap().unwrap();
    assert_eq!(first.num_rows(), BATCH);
    assert_eq!(running(), 1, "the statement runs while the stream is held");
    drop(stream);
    assert!(becomes_zero(&running), "the statement still runs: {sql}");
    let answer = conn
        .query("SELECT 41 + 1 AS x")
        .ttl(Ttl::ZERO)
        .timeout(Duration::from_secs(10))
        .blocking()
        .unwrap()
        .rows::<(i64,)>()
        .unwrap();
    assert_eq!(answer, vec![(42,)]);
    assert_eq!(conn.stats().resets, 0);
}

// ---------------------------------------------------------------------------------------
// PostgreSQL

fn pg() -> Option<(PgScratch, Project)> {
    let base = conn_testkit::server_url(POSTGRES_VAR, "PostgreSQL")?;
    let scratch = PgScratch::new(&base);
    let url = scratch.url.clone();
    Some((
        scratch,
        Project::new(&format!(
            "[connections.s]\ntype = \"sql\"\nurl = \"{url}\"\nbatch_size = {BATCH}\n\
             create_engine_kwargs = {{ pool_size = 1, max_overflow = 0 }}\n"
        )),
    ))
}

/// 1,000 rows of every kind of value, NULLs in every column but the id.
fn pg_edge_table(scratch: &PgScratch) {
    scratch
        .admin()
        .execute(format!(
            "CREATE TABLE {}.edge AS SELECT g::int8 AS id, \
               (CASE WHEN g % 5 = 0 THEN NULL WHEN g = 1 THEN -9223372036854775808 \
                     WHEN g = 2 THEN 9223372036854775807 ELSE g * 1000003 END)::int8 AS i, \
               (CASE WHEN g % 7 = 0 THEN NULL WHEN g = 3 THEN 'NaN'::float8 \
                     WHEN g = 4 THEN '-Infinity'::float8 WHEN g = 6 THEN '-0'::float8 \
                     ELSE g / 3.0 END)::float8 AS f, \
               CASE WHEN g % 11 = 0 THEN NULL ELSE repeat('é', g % 13) END AS s, \
               CASE WHEN g % 13 = 0 THEN NULL ELSE (g * 1.125)::numeric(12, 3) END AS n, \
               CASE WHEN g % 17 = 0 THEN NULL ELSE date '2024-02-29' + g END AS d, \
               CASE WHEN g % 19 = 0 THEN NULL ELSE g % 2 = 0 END AS b, \
               CASE WHEN g % 23 = 0 THEN NULL ELSE ARRAY[g, NULL, -g] END AS a \
             FROM generate_series(1, 1000) g",
            scratch.schema
        ))
        .blocking()
        .unwrap();
}

#[test]
fn pg_many_batches_arrive_in_order_and_equal_query() {
    let Some((scratch, project)) = pg() else {
        return;
    };
    pg_edge_table(&scratch);
    let conn = project.sql("s");
    // COPY, then rows (a parameter).
    streams_like_query(&conn, "SELECT * FROM edge ORDER BY id", &[], 1000);
    streams_like_query(
        &conn,
        "SELECT * FROM edge WHERE id > $1 ORDER BY id",
        &[Param::Int(0)],
        1000,
    );
}

#[test]
fn pg_a_result_without_rows_has_its_schema() {
    let Some((scratch, project)) = pg() else {
        return;
    };
    pg_edge_table(&scratch);
    let conn = project.sql("s");
    empty_has_its_schema(&conn, "SELECT * FROM edge WHERE id < 0", &[]);
    empty_has_its_schema(&conn, "SELECT * FROM edge WHERE id < $1", &[Param::Int(0)]);
}

#[test]
fn pg_an_error_midway_ends_the_stream_after_the_batches_before_it() {
    let Some((_scratch, project)) = pg() else {
        return;
    };
    let conn = project.sql("s");
    error_midway(
        &conn,
        "SELECT g::int8 AS id, 1 / (500 - g) AS d FROM generate_series(1, 1000) g",
        &[],
        "division by zero",
    );
    error_midway(
        &conn,
        "SELECT g::int8 AS id, 1 / ($1 - g) AS d FROM generate_series(1, 1000) g",
        &[Param::Int(500)],
        "division by zero",
    );
    // A value conn cannot decode (its error, not the server's), on both paths.
    for (sql, params) in [
        (
            "SELECT g::int8 AS id, \
               (CASE WHEN g = 500 THEN 'infinity' ELSE '2024-01-01' END)::date AS d \
             FROM generate_series(1, 1000) g",
            &[][..],
        ),
        (
            "SELECT g::int8 AS id, \
               (CASE WHEN g = $1 THEN 'infinity' ELSE '2024-01-01' END)::date AS d \
             FROM generate_series(1, 1000) g",
            &[Param::Int(500)][..],
        ),
    ] {
        error_midway(
            &conn,
            sql,
            params,
            "column \"d\": row 499 holds the date infinity",
        );
    }
    // The connection is in step afterwards.
    assert_eq!(read(&conn, "SELECT 1::int8 AS x", &[]).num_rows(), 1);
}

#[test]
fn pg_a_later_batch_that_does_not_fit_ends_the_stream_and_the_connection_stays_usable() {
    let Some((_scratch, project)) = pg() else {
        return;
    };
    let conn = project.sql("s");
    // An unconstrained numeric's scale comes with its values: 1 place, then 2 at id 500,
    // mid-result (the connection is mid-COPY, or mid-rows, when the batch is refused).
    for (sql, params) in [
        (
            "SELECT g::int8 AS id, (CASE WHEN g = 500 THEN 1.25 ELSE 1.5 END)::numeric AS n \
             FROM generate_series(1, 1000) g",
            &[][..],
        ),
        (
            "SELECT g::int8 AS id, (CASE WHEN g = $1 THEN 1.25 ELSE 1.5 END)::numeric AS n \
             FROM generate_series(1, 1000) g",
            &[Param::Int(500)][..],
        ),
    ] {
        let streamed = stream(&conn, sql, params);
        assert_eq!(streamed.ids(), (1..=497).collect::<Vec<_>>(), "{sql}");
        let error = streamed.error.unwrap_or_default();
        assert!(
            error.contains("column \"n\", row 499: a Decimal128(")
                && error.contains("does not fit the column's type Decimal128("),
            "{sql}: {error}"
        );
        // query() settles the scale over the whole result.
        assert_eq!(read(&conn, sql, params).num_rows(), 1000);
    }
    assert_eq!(read(&conn, "SELECT 1::int8 AS x", &[]).num_rows(), 1);
}

#[test]
fn pg_dropping_the_stream_cancels_the_query() {
    let Some((scratch, project)) = pg() else {
        return;
    };
    let conn = project.sql("s");
    for (path, params) in [("copy", ""), ("rows", " WHERE $1")] {
        // The pool's one connection, which runs the stream.
        let pid = read(&conn, "SELECT pg_backend_pid() AS pid", &[])
            .rows::<(i32,)>()
            .unwrap()[0]
            .0;
        let marker = conn_testkit::unique_name(&format!("stream_drop_{path}"));
        // A set-returning function in the select list streams (one in FROM would be
        // materialized first).
        let sql = format!(
            "SELECT * FROM (SELECT generate_series(1::int8, 1000000000) AS g, \
             '{marker}' AS m) q{params}"
        );
        let running = || {
            scratch
                .admin()
                .query(
                    "SELECT count(*) AS n FROM pg_stat_activity \
                     WHERE (query LIKE $1 OR pid = $2) AND pid <> pg_backend_pid()",
                )
                .bind(format!("%{marker}' AS m%"))
                .bind(pid)
                .ttl(Ttl::ZERO)
                .blocking()
                .unwrap()
                .rows::<(i64,)>()
                .unwrap()[0]
                .0
        };
        if params.is_empty() {
            drop_cancels(&conn, &sql, running);
        } else {
            let mut stream = conn
                .query(&sql)
                .bind(true)
                .stream()
                .timeout(FIRST_BATCH_WITHIN)
                .blocking()
                .unwrap();
            assert_eq!(stream.next_blocking().unwrap().unwrap().num_rows(), BATCH);
            assert_eq!(running(), 1, "the statement runs while the stream is held");
            drop(stream);
            assert!(becomes_zero(running), "the statement still runs: {sql}");
            assert_eq!(read(&conn, "SELECT 42::int8 AS x", &[]).num_rows(), 1);
        }
    }
}

// ---------------------------------------------------------------------------------------
// MySQL / MariaDB

fn my() -> Option<(MySqlScratch, Project)> {
    let base = conn_testkit::server_url(MYSQL_VAR, "MySQL/MariaDB")?;
    let scratch = MySqlScratch::new(&base);
    let url = scratch.url.clone();
    Some((
        scratch,
        Project::new(&format!(
            "[connections.s]\ntype = \"sql\"\nurl = \"{url}\"\nbatch_size = {BATCH}\n\
             create_engine_kwargs = {{ pool_size = 1, max_overflow = 0, pool_pre_ping = false }}\n"
        )),
    ))
}

/// 1,000 rows (MariaDB's sequence engine) of every kind of value, NULLs in every
/// column but the id.
fn my_edge_table(scratch: &MySqlScratch) {
    scratch
        .admin()
        .execute(format!(
            "CREATE TABLE {}.edge (id BIGINT PRIMARY KEY, i BIGINT, u BIGINT UNSIGNED, \
               f DOUBLE, s VARCHAR(20), n DECIMAL(12, 3), d DATE, t DATETIME(6), b BOOLEAN) \
             SELECT seq AS id, \
               CASE WHEN seq % 5 = 0 THEN NULL WHEN seq = 1 THEN -9223372036854775808 \
                    WHEN seq = 2 THEN 9223372036854775807 ELSE seq * 1000003 END AS i, \
               CASE WHEN seq % 6 = 0 THEN NULL WHEN seq = 3 THEN 18446744073709551615 \
                    ELSE seq END AS u, \
               CASE WHEN seq % 7 = 0 THEN NULL WHEN seq = 4 THEN -1.7976931348623157e308 \
                    ELSE seq / 3e0 END AS f, \
               CASE WHEN seq % 11 = 0 THEN NULL ELSE REPEAT('é', seq % 13) END AS s, \
               CASE WHEN seq % 13 = 0 THEN NULL ELSE seq * 1.125 END AS n, \
               CASE WHEN seq % 17 = 0 THEN NULL ELSE DATE '2024-02-29' + INTERVAL seq DAY END AS d, \
               CASE WHEN seq % 19 = 0 THEN NULL \
                    ELSE TIMESTAMP '2024-02-29 12:00:00.5' + INTERVAL seq MINUTE END AS t, \
               CASE WHEN seq % 23 = 0 THEN NULL ELSE seq % 2 END AS b \
             FROM seq_1_to_1000",
            scratch.database
        ))
        .blocking()
        .unwrap();
}

#[test]
fn mysql_many_batches_arrive_in_order_and_equal_query() {
    let Some((scratch, project)) = my() else {
        return;
    };
    my_edge_table(&scratch);
    let conn = project.sql("s");
    streams_like_query(&conn, "SELECT * FROM edge ORDER BY id", &[], 1000);
    streams_like_query(
        &conn,
        "SELECT * FROM edge WHERE id > ? ORDER BY id",
        &[Param::Int(0)],
        1000,
    );
}

#[test]
fn mysql_a_result_without_rows_has_its_schema() {
    let Some((scratch, project)) = my() else {
        return;
    };
    my_edge_table(&scratch);
    let conn = project.sql("s");
    empty_has_its_schema(&conn, "SELECT * FROM edge WHERE id < 0", &[]);
    empty_has_its_schema(&conn, "SELECT * FROM edge WHERE id < ?", &[Param::Int(0)]);
}

#[test]
fn mysql_an_error_midway_ends_the_stream_after_the_batches_before_it() {
    let Some((_scratch, project)) = my() else {
        return;
    };
    let conn = project.sql("s");
    // The subquery has two rows for id 500 only.
    error_midway(
        &conn,
        "SELECT CAST(seq AS SIGNED) AS id, \
           (SELECT 1 FROM seq_1_to_2 WHERE s.seq = 500) AS d \
         FROM seq_1_to_1000 s",
        &[],
        "Subquery returns more than 1 row",
    );
    assert_eq!(read(&conn, "SELECT 1 AS x", &[]).num_rows(), 1);
}

#[test]
fn mysql_dropping_the_stream_cancels_the_query() {
    let Some((scratch, project)) = my() else {
        return;
    };
    let conn = project.sql("s");
    // The pool's one connection, which runs the stream.
    let id = read(&conn, "SELECT CONNECTION_ID() AS id", &[])
        .rows::<(u64,)>()
        .unwrap()[0]
        .0;
    let marker = conn_testkit::unique_name("stream_drop");
    let sql = format!("SELECT seq AS g, '{marker}' AS m FROM seq_1_to_1000000000");
    let running = || {
        scratch
            .admin()
            .query(
                "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST \
                 WHERE (INFO LIKE ? OR ID = ?) AND ID <> CONNECTION_ID()",
            )
            .bind(format!("%{marker}' AS m%"))
            .bind(i64::try_from(id).unwrap())
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap()
            .rows::<(i64,)>()
            .unwrap()[0]
            .0
    };
    drop_cancels(&conn, &sql, running);
}

// ---------------------------------------------------------------------------------------
// SQLite

/// A SQLite file with the 1,000-row edge table, and a connection to it.
fn sqlite() -> (Project, Arc<SqlConnection>) {
    let project = Project::with(|dir| {
        let url = format!("sqlite:///{}", dir.join("stream.db").display());
        format!("[connections.s]\ntype = \"sql\"\nurl = \"{url}\"\nbatch_size = {BATCH}\n")
    });
    let conn = project.sql("s");
    conn.execute(
        "CREATE TABLE edge (id INTEGER, i INTEGER, f REAL, s TEXT, b BLOB, d DATE); \
         INSERT INTO edge WITH RECURSIVE c(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM c \
           WHERE g < 1000) \
         SELECT g, \
           CASE WHEN g % 5 = 0 THEN NULL WHEN g = 1 THEN -9223372036854775808 \
                WHEN g = 2 THEN 9223372036854775807 ELSE g * 1000003 END, \
           CASE WHEN g % 7 = 0 THEN NULL WHEN g = 4 THEN -1.7976931348623157e308 \
                ELSE g / 3.0 END, \
           CASE WHEN g % 11 = 0 THEN NULL ELSE substr('éééééééééééé', 1, g % 13) END, \
           CASE WHEN g % 13 = 0 THEN NULL ELSE randomblob(g % 5) END, \
           CASE WHEN g % 17 = 0 THEN NULL ELSE date('2024-02-29', '+' || g || ' days') END \
         FROM c",
    )
    .blocking()
    .unwrap();
    (project, conn)
}

/// SQLite's rows 1 to 1000 (`g`, as `id`), for statements with an expression on them.
const COUNT_TO_1000: &str =
    "WITH RECURSIVE c(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM c WHERE g < 1000)";

#[test]
fn sqlite_many_batches_arrive_in_order_and_equal_query() {
    let (_project, conn) = sqlite();
    streams_like_query(&conn, "SELECT * FROM edge ORDER BY id", &[], 1000);
    streams_like_query(
        &conn,
        "SELECT * FROM edge WHERE id > ? ORDER BY id",
        &[Param::Int(0)],
        1000,
    );
}

#[test]
fn sqlite_a_result_without_rows_has_its_schema() {
    let (_project, conn) = sqlite();
    empty_has_its_schema(&conn, "SELECT * FROM edge WHERE id < 0", &[]);
}

#[test]
fn sqlite_an_error_midway_ends_the_stream_after_the_batches_before_it() {
    let (_project, conn) = sqlite();
    error_midway(
        &conn,
        &format!(
            "{COUNT_TO_1000} SELECT g AS id, \
             CASE WHEN g = 500 THEN abs(-9223372036854775808) ELSE g END AS d FROM c"
        ),
        &[],
        "integer overflow",
    );
    assert_eq!(read(&conn, "SELECT 1 AS x", &[]).num_rows(), 1);
}

#[test]
fn sqlite_a_later_value_of_another_type_ends_the_stream_naming_column_and_row() {
    let (_project, conn) = sqlite();
    let sql = format!(
        "{COUNT_TO_1000} SELECT g AS id, CASE WHEN g = 500 THEN 2.5 ELSE g END AS v FROM c"
    );
    let streamed = stream(&conn, &sql, &[]);
    assert_eq!(
        streamed.schema.field_with_name("v").unwrap().data_type(),
        &DataType::Int64
    );
    // The batch holding row 499 (id 500) is refused whole: 71 batches came before it.
    assert_eq!(streamed.ids(), (1..=497).collect::<Vec<_>>());
    assert_eq!(
        streamed.error.as_deref(),
        Some(
            "connection \"s\": column \"v\", row 499: a Float64 value does not fit the \
             column's type Int64, announced by the stream's first batch; read it with query() \
             (which widens the column) or cast it in the statement"
        )
    );
    // query() widens the column instead.
    let table = read(&conn, &sql, &[]);
    assert_eq!(
        table.schema().field_with_name("v").unwrap().data_type(),
        &DataType::Float64
    );
    // The connection is usable afterwards.
    assert_eq!(
        read(&conn, "SELECT count(*) AS n FROM edge", &[]).num_rows(),
        1
    );
}

#[test]
fn sqlite_dropping_the_stream_interrupts_the_query() {
    // In memory: the database lives in the pool's one connection, which must survive.
    let project = Project::new(&format!(
        "[connections.mem]\ntype = \"sql\"\nurl = \"sqlite://\"\nbatch_size = {BATCH}\n"
    ));
    let conn = project.sql("mem");
    conn.execute("CREATE TABLE kept (x INTEGER); INSERT INTO kept VALUES (1), (2)")
        .blocking()
        .unwrap();
    let endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) \
                   SELECT i FROM n";
    let mut stream = conn
        .query(endless)
        .stream()
        .timeout(FIRST_BATCH_WITHIN)
        .blocking()
        .unwrap();
    assert_eq!(stream.next_blocking().unwrap().unwrap().num_rows(), BATCH);
    drop(stream);
    let rows = conn
        .query("SELECT count(*) AS n FROM kept")
        .ttl(Ttl::ZERO)
        .timeout(Duration::from_secs(10))
        .blocking()
        .unwrap()
        .rows::<(i64,)>()
        .unwrap();
    assert_eq!(rows, vec![(2,)], "the in-memory database survived");
    assert_eq!(conn.stats().resets, 0);
}

/// A column whose first batches hold only NULLs gets its type from its first value
/// (MySQL's DECIMAL scale comes from the values; so does an SQLite expression's type),
/// not from the NULLs' placeholder: the stream equals `query()`.
#[test]
fn columns_that_start_with_nulls_stream_like_query() {
    let (_project, conn) = sqlite();
    streams_like_query(
        &conn,
        "SELECT id, CASE WHEN id <= 20 THEN NULL ELSE f END AS f, \
           CASE WHEN id <= 30 THEN NULL ELSE i END AS i FROM edge ORDER BY id",
        &[],
        1000,
    );
    let Some((scratch, project)) = my() else {
        return;
    };
    my_edge_table(&scratch);
    let conn = project.sql("s");
    streams_like_query(
        &conn,
        "SELECT id, CASE WHEN id <= 20 THEN NULL ELSE n END AS n FROM edge ORDER BY id",
        &[],
        1000,
    );
}
