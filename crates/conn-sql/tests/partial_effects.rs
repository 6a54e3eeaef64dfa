//! Statements the database does not roll back as a whole when they fail: a script of
//! several statements (with parameters too: SQLite runs them all), a procedure that
//! commits part of its work, a MySQL session statement that commits at once. A
//! transient error of such a statement must not be taken for "nothing applied": the
//! write would be retried and applied twice, and its cache clear skipped. Found by a
//! hostile review; every test failed before the fix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use arrow::datatypes::DataType;
use common::{MYSQL_VAR, MySqlScratch, POSTGRES_VAR, PgScratch, Project};
use conn_core::{Ttl, arrow};
use conn_sql::SqlConnection;

fn count(conn: &SqlConnection, sql: &str, ttl: Ttl) -> i64 {
    let table = conn.query(sql).ttl(ttl).blocking().unwrap();
    let column = table.column("n").unwrap();
    let column = arrow::compute::cast(&column, &DataType::Int64).unwrap();
    column
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .unwrap()
        .value(0)
}

/// SQLite project: `lite` (3 attempts) and `once` (1 attempt) on main.db, `other` on
/// other.db; 50 ms busy timeout.
fn sqlite_project() -> Project {
    Project::with(|dir| {
        let main = format!("sqlite:///{}", dir.join("main.db").display());
        let other = format!("sqlite:///{}", dir.join("other.db").display());
        format!(
            "[connections.lite]\ntype = \"sql\"\nurl = \"{main}\"\n\
             retry = {{ attempts = 3, wait = \"10ms\" }}\n\
             create_engine_kwargs = {{ connect_args = {{ timeout = 0.05 }} }}\n\
             [connections.once]\ntype = \"sql\"\nurl = \"{main}\"\n\
             retry = {{ attempts = 1 }}\n\
             create_engine_kwargs = {{ connect_args = {{ timeout = 0.05 }} }}\n\
             [connections.other]\ntype = \"sql\"\nurl = \"{other}\"\n\
             create_engine_kwargs = {{ connect_args = {{ timeout = 0.05 }} }}\n"
        )
    })
}

/// Found by review (repeated write): `Prepared::is_single_statement` said "single" for
/// any statement with parameters ("the extended protocols take one statement"), but
/// sqlx's SQLite driver runs every statement of the text, binding the parameters across
/// them, each in its own autocommit transaction. The first INSERT commits, the second
/// statement finds the (attached) database busy, the error is marked not applied, and
/// the retry inserts the first row again.
#[test]
fn sqlite_script_with_parameters_is_not_one_statement_and_is_retried() {
    let project = sqlite_project();
    let conn = project.sql("lite");
    conn.execute("CREATE TABLE t (v INTEGER)")
        .blocking()
        .unwrap();
    let other = project.sql("other");
    other
        .execute("CREATE TABLE u (v INTEGER)")
        .blocking()
        .unwrap();
    // Another writer holds other.db's write lock.
    let mut session = other.session().blocking().unwrap();
    session
        .execute("INSERT INTO u VALUES (0)")
        .blocking()
        .unwrap();

    let other_path = project.path("other.db");
    let script = format!(
        "INSERT INTO t (v) VALUES (?); \
         ATTACH DATABASE '{}' AS o; \
         INSERT INTO o.u (v) VALUES (1)",
        other_path.display()
    );
    let err = conn.execute(script).bind(1_i64).blocking().unwrap_err();
    assert!(
        err.to_string().contains("locked") || err.to_string().contains("in use"),
        "{err}"
    );
    drop(session);
    let rows = count(&conn, "SELECT count(*) AS n FROM t", Ttl::ZERO);
    assert_eq!(
        rows, 1,
        "the script's first INSERT committed once; the retry applied it {rows} times \
         (last error: {err})"
    );
}

/// Found by review (stale read): the same script without retries. Its first INSERT
/// committed, but the busy error is marked not applied, so `Base::write` disarms the
/// cache guard: the cached count keeps saying 0 although the table holds a row.
#[test]
fn sqlite_partial_script_marked_not_applied_leaves_a_stale_cache() {
    let project = sqlite_project();
    let conn = project.sql("once");
    conn.execute("CREATE TABLE t (v INTEGER)")
        .blocking()
        .unwrap();
    let other = project.sql("other");
    other
        .execute("CREATE TABLE u (v INTEGER)")
        .blocking()
        .unwrap();
    let cached = "SELECT count(*) AS n FROM t";
    assert_eq!(count(&conn, cached, Ttl::Forever), 0);
    let mut session = other.session().blocking().unwrap();
    session
        .execute("INSERT INTO u VALUES (0)")
        .blocking()
        .unwrap();
    let script = format!(
        "INSERT INTO t (v) VALUES (?); ATTACH DATABASE '{}' AS o; INSERT INTO o.u (v) VALUES (1)",
        project.path("other.db").display()
    );
    let err = conn.execute(script).bind(1_i64).blocking().unwrap_err();
    drop(session);
    let fresh = count(&conn, "SELECT count(*) AS n FROM t WHERE 1 = 1", Ttl::ZERO);
    assert_eq!(fresh, 1, "the first INSERT committed ({err})");
    assert_eq!(
        count(&conn, cached, Ttl::Forever),
        fresh,
        "the cached read still predates a write that was applied ({err})"
    );
}

fn pg_project(attempts: u32) -> Option<(PgScratch, Project)> {
    let base = conn_testkit::server_url(POSTGRES_VAR, "PostgreSQL")?;
    let scratch = PgScratch::new(&base);
    let url = scratch.url.clone();
    let project = Project::new(&format!(
        "[connections.pg]\ntype = \"sql\"\nurl = \"{url}\"\n\
         retry = {{ attempts = {attempts}, wait = \"10ms\" }}\n"
    ));
    Some((scratch, project))
}

/// A procedure that commits a row, then fails with a deadlock SQLSTATE (as a real
/// deadlock in its second transaction would).
const PG_PROCEDURE: &str = "CREATE TABLE log (v integer); \
     CREATE PROCEDURE p() LANGUAGE plpgsql AS $$ BEGIN \
       INSERT INTO log VALUES (1); COMMIT; \
       RAISE EXCEPTION USING ERRCODE = '40P01', MESSAGE = 'deadlock detected (simulated)'; \
     END $$";

/// Found by review (repeated write): `CALL p()` is one statement, but a procedure may
/// COMMIT inside (PostgreSQL 11+); a deadlock after that commit rolls back only the
/// procedure's last transaction. `rolled_back_as_a_whole` marks the 40P01 not applied,
/// and the retry commits the first row again.
#[test]
fn pg_call_that_committed_before_a_deadlock_is_retried() {
    let Some((_scratch, project)) = pg_project(3) else {
        return;
    };
    let conn = project.sql("pg");
    conn.execute(PG_PROCEDURE).blocking().unwrap();
    let err = conn.execute("CALL p()").blocking().unwrap_err();
    assert!(err.to_string().contains("deadlock"), "{err}");
    let rows = count(&conn, "SELECT count(*) AS n FROM log", Ttl::ZERO);
    assert_eq!(rows, 1, "committed once, applied {rows} times ({err})");
}

/// Found by review (stale read): the same without retries: the committed row is there,
/// but the error, marked not applied, disarms the cache guard.
#[test]
fn pg_call_that_committed_before_a_deadlock_leaves_a_stale_cache() {
    let Some((_scratch, project)) = pg_project(1) else {
        return;
    };
    let conn = project.sql("pg");
    conn.execute(PG_PROCEDURE).blocking().unwrap();
    let cached = "SELECT count(*) AS n FROM log";
    assert_eq!(count(&conn, cached, Ttl::Forever), 0);
    let err = conn.execute("CALL p()").blocking().unwrap_err();
    let fresh = count(&conn, "SELECT count(*) AS n FROM log WHERE true", Ttl::ZERO);
    assert_eq!(fresh, 1, "{err}");
    assert_eq!(
        count(&conn, cached, Ttl::Forever),
        fresh,
        "the cached read predates a write that was applied ({err})"
    );
}

/// Found by review (repeated write), MySQL/MariaDB: in autocommit mode every statement
/// inside a stored procedure commits on its own; a deadlock (1213) or lock wait timeout
/// (1205) in a later statement leaves the earlier ones applied, yet `CALL p()` is
/// retried as "rolled back as a whole".
#[test]
fn mysql_call_that_committed_before_a_deadlock_is_retried() {
    let Some(base) = conn_testkit::server_url(MYSQL_VAR, "MySQL") else {
        return;
    };
    let scratch = MySqlScratch::new(&base);
    let url = scratch.url.clone();
    let project = Project::new(&format!(
        "[connections.my]\ntype = \"sql\"\nurl = \"{url}\"\n\
         retry = {{ attempts = 3, wait = \"10ms\" }}\n"
    ));
    let conn = project.sql("my");
    conn.execute("CREATE TABLE log (v integer) ENGINE = InnoDB")
        .blocking()
        .unwrap();
    conn.execute(
        "CREATE PROCEDURE p() BEGIN \
           INSERT INTO log VALUES (1); \
           SIGNAL SQLSTATE '40001' SET MYSQL_ERRNO = 1213, \
             MESSAGE_TEXT = 'Deadlock found (simulated)'; \
         END",
    )
    .blocking()
    .unwrap();
    let err = conn.execute("CALL p()").blocking().unwrap_err();
    assert!(err.to_string().contains("Deadlock"), "{err}");
    let rows = count(&conn, "SELECT count(*) AS n FROM log", Ttl::ZERO);
    assert_eq!(rows, 1, "committed once, applied {rows} times ({err})");
}

/// Found by review (stale read), MySQL/MariaDB sessions: a session clears the cache only
/// when it commits. `refuse_implicit_commit` refuses DDL, COMMIT and the like by their
/// first words, but a stored procedure may commit (`CALL p()` where p runs COMMIT or
/// DDL; also `EXECUTE` of a prepared DDL): the session's earlier writes are committed
/// behind its back; rolled back afterwards, the session never clears, and the cache
/// keeps serving what those committed writes changed.
#[test]
fn mysql_session_call_that_commits_then_rollback_leaves_a_stale_cache() {
    let Some(base) = conn_testkit::server_url(MYSQL_VAR, "MySQL") else {
        return;
    };
    let scratch = MySqlScratch::new(&base);
    let url = scratch.url.clone();
    let project = Project::new(&format!(
        "[connections.my]\ntype = \"sql\"\nurl = \"{url}\"\n"
    ));
    let conn = project.sql("my");
    conn.execute("CREATE TABLE s (v integer) ENGINE = InnoDB")
        .blocking()
        .unwrap();
    conn.execute("CREATE PROCEDURE c() COMMIT")
        .blocking()
        .unwrap();
    let cached = "SELECT count(*) AS n FROM s";
    assert_eq!(count(&conn, cached, Ttl::Forever), 0);
    let mut session = conn.session().blocking().unwrap();
    session
        .execute("INSERT INTO s VALUES (1)")
        .blocking()
        .unwrap();
    session.execute("CALL c()").blocking().unwrap();
    session.rollback().blocking().unwrap();
    let fresh = count(&conn, "SELECT count(*) AS n FROM s WHERE 1 = 1", Ttl::ZERO);
    assert_eq!(fresh, 1, "the procedure committed the INSERT");
    assert_eq!(
        count(&conn, cached, Ttl::Forever),
        fresh,
        "the cache serves a count from before a committed write"
    );
}
