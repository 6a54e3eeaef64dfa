//! Time limits, cancellation, fail-fast connects and retries that never repeat a write,
//! against the real PostgreSQL and MariaDB servers (CONN_TEST_POSTGRES_URL,
//! CONN_TEST_MYSQL_URL) and SQLite.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use common::{MYSQL_VAR, MySqlScratch, POSTGRES_VAR, PgScratch, Project};
use conn_core::{ErrorKind, Ttl};
use conn_sql::SqlConnection;

/// Polls `done` every 50 ms for up to `within`; whether it became true.
fn eventually(within: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}

fn pg() -> Option<(PgScratch, Project)> {
    let base = conn_testkit::server_url(POSTGRES_VAR, "PostgreSQL")?;
    let scratch = PgScratch::new(&base);
    let project = Project::new(&format!(
        "[connections.pg]\ntype = \"sql\"\nurl = \"{}\"\nretry = {{ attempts = 3, wait = \"50ms\" }}\n\
         [connections.pg_limited]\ntype = \"sql\"\nurl = \"{}\"\ntimeout = \"400ms\"\n",
        scratch.url, scratch.url
    ));
    Some((scratch, project))
}

/// How many statements holding `marker` run on the PostgreSQL server now.
fn pg_running(scratch: &PgScratch, marker: &str) -> i64 {
    scratch
        .admin()
        .query(
            "SELECT count(*) AS n FROM pg_stat_activity \
             WHERE state = 'active' AND query LIKE :pattern AND pid <> pg_backend_pid()",
        )
        .param("pattern", format!("%{marker}%"))
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(i64,)>()
        .unwrap()[0]
        .0
}

#[test]
fn a_postgres_query_past_its_limit_is_stopped_on_the_server() {
    let Some((scratch, project)) = pg() else {
        return;
    };
    // The connection's `timeout`, and what its error says.
    let limited = project.sql("pg_limited");
    let started = Instant::now();
    let err = limited
        .query("SELECT 1 AS one FROM pg_sleep(30)")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(
        err.to_string().starts_with(
            "connection \"pg_limited\": query timed out after 400ms (`timeout` set at "
        ),
        "{err}"
    );
    // A limit on one query, long enough to see the statement run, then stop.
    let conn = project.sql("pg");
    let marker = conn_testkit::unique_name("slow_read");
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            conn.query(format!("SELECT 1 AS one /* {marker} */ FROM pg_sleep(30)"))
                .ttl(Ttl::ZERO)
                .timeout(Duration::from_secs(2))
                .blocking()
        });
        assert!(
            eventually(Duration::from_secs(2), || pg_running(&scratch, &marker)
                == 1),
            "the statement was never seen running"
        );
        let err = reader.join().unwrap().unwrap_err();
        assert!(
            err.to_string().ends_with(
                "query timed out after 2s (the limit given to this call with .timeout())"
            ),
            "{err}"
        );
    });
    assert!(
        eventually(Duration::from_secs(5), || pg_running(&scratch, &marker)
            == 0),
        "the server still runs the statement"
    );
    // The pool is fine afterwards.
    let one = conn
        .query("SELECT 1 AS one")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    assert_eq!(one.num_rows(), 1);
}

#[test]
fn a_dropped_postgres_write_is_stopped_and_nothing_is_committed() {
    let Some((scratch, project)) = pg() else {
        return;
    };
    let conn = project.sql("pg");
    conn.execute("CREATE TABLE landed (x integer)")
        .blocking()
        .unwrap();
    let marker = conn_testkit::unique_name("slow_write");
    // One implicit transaction: the rows go in, then the statement sleeps.
    let write = conn
        .execute(format!(
            "INSERT INTO landed SELECT g FROM generate_series(1, 100) g; \
             SELECT 1 /* {marker} */ FROM pg_sleep(30)"
        ))
        .into_future();
    let (give_up, gave_up) = tokio::sync::oneshot::channel::<()>();
    std::thread::scope(|scope| {
        let caller = scope.spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                tokio::select! {
                    outcome = write => panic!("the write ended: {outcome:?}"),
                    _ = gave_up => {}
                }
            });
        });
        assert!(
            eventually(Duration::from_secs(5), || pg_running(&scratch, &marker)
                == 1),
            "the write was never seen running"
        );
        give_up.send(()).unwrap();
        caller.join().unwrap();
    });
    assert!(
        eventually(Duration::from_secs(5), || pg_running(&scratch, &marker)
            == 0),
        "the server still runs the dropped write"
    );
    let rows = conn
        .query("SELECT count(*) AS n FROM landed")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(i64,)>()
        .unwrap();
    assert_eq!(
        rows,
        vec![(0,)],
        "nothing of the dropped write was committed"
    );
}

#[test]
fn a_write_that_reached_the_server_is_never_run_twice() {
    let Some((scratch, project)) = pg() else {
        return;
    };
    let conn = project.sql("pg");
    conn.execute("CREATE TABLE once (x integer)")
        .blocking()
        .unwrap();
    let marker = conn_testkit::unique_name("terminated_write");
    let pid_of = |marker: &str| -> Option<i32> {
        scratch
            .admin()
            .query(
                "SELECT pid FROM pg_stat_activity WHERE state = 'active' \
                 AND query LIKE :pattern AND pid <> pg_backend_pid()",
            )
            .param("pattern", format!("%{marker}%"))
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap()
            .rows::<(i32,)>()
            .unwrap()
            .first()
            .map(|r| r.0)
    };
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            conn.query(format!(
                "INSERT INTO once SELECT 1 /* {marker} */ FROM pg_sleep(2) RETURNING x"
            ))
            .ttl(Ttl::ZERO)
            .blocking()
        });
        let seen = eventually(Duration::from_secs(5), || {
            pid_of(&marker).is_some() || writer.is_finished()
        });
        assert!(seen && !writer.is_finished(), "{:?}", writer.is_finished());
        let pid = pid_of(&marker).unwrap();
        scratch
            .admin()
            .query("SELECT pg_terminate_backend(:pid) AS done")
            .param("pid", pid)
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap();
        let err = writer.join().unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Stale, "{err}");
    });
    let stats = conn.stats();
    assert_eq!(
        stats.retries, 0,
        "an INSERT ... RETURNING is not retried: {stats:?}"
    );
    let rows = conn
        .query("SELECT count(*) AS n FROM once")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(i64,)>()
        .unwrap();
    assert_eq!(rows, vec![(0,)]);

    // The same for a read: it is retried, and comes through.
    let marker = conn_testkit::unique_name("terminated_read");
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            conn.query(format!("SELECT 7 AS seven /* {marker} */ FROM pg_sleep(3)"))
                .ttl(Ttl::ZERO)
                .blocking()
        });
        let seen = eventually(Duration::from_secs(5), || {
            pid_of(&marker).is_some() || reader.is_finished()
        });
        assert!(
            seen && !reader.is_finished(),
            "{:?}",
            reader.is_finished().then(|| reader.join())
        );
        scratch
            .admin()
            .query("SELECT pg_terminate_backend(:pid) AS done")
            .param("pid", pid_of(&marker).unwrap())
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap();
        let table = reader.join().unwrap().unwrap();
        assert_eq!(table.rows::<(i32,)>().unwrap(), vec![(7,)]);
    });
    assert_eq!(conn.stats().retries, 1);
}

#[test]
fn a_closed_port_fails_fast_and_says_why() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let project = Project::new(&format!(
        "[connections.down_pg]\ntype = \"sql\"\nurl = \"postgresql://ada:S3cret-pw@127.0.0.1:{port}/db\"\n\
         [connections.down_my]\ntype = \"sql\"\nurl = \"mysql://ada:S3cret-pw@127.0.0.1:{port}/db\"\n"
    ));
    for name in ["down_pg", "down_my"] {
        let conn = project.sql(name);
        let started = Instant::now();
        let err = conn.query("SELECT 1").blocking().unwrap_err();
        let took = started.elapsed();
        let text = err.to_string();
        assert!(took < Duration::from_secs(10), "{name} took {took:?}");
        assert!(
            text.starts_with(&format!("sql connection \"{name}\", connect: ")),
            "{text}"
        );
        assert!(text.contains("Connection refused"), "{text}");
        assert!(!text.contains("pool timed out"), "{text}");
        assert!(!text.contains("S3cret-pw"), "{text}");
        assert_eq!(err.kind(), ErrorKind::Transient);
        assert!(!err.may_have_reached_server());
        // Refused connects were retried with a short backoff: three connects, no query.
        assert_eq!(conn.stats().retries, 2, "{:?}", conn.stats());
        eprintln!("{name}: a refused connection reported in {took:?}");
    }
}

#[test]
fn a_wrong_password_is_permanent_and_says_authentication() {
    let Some(base) = conn_testkit::server_url(MYSQL_VAR, "MySQL/MariaDB") else {
        return;
    };
    let (server, _) = base.rsplit_once('/').unwrap();
    let host = server.rsplit_once('@').map_or(server, |(_, host)| host);
    let project = Project::new(&format!(
        "[connections.badpw]\ntype = \"sql\"\nurl = \"mysql://nobody_here:Wr0ng-pw@{host}/test\"\n"
    ));
    let conn = project.sql("badpw");
    let err = conn.query("SELECT 1").blocking().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Authentication, "{err}");
    assert_eq!(conn.stats().retries, 0);
    assert!(!err.to_string().contains("Wr0ng-pw"), "{err}");
}

#[test]
fn a_mariadb_query_past_its_limit_is_killed() {
    let Some(base) = conn_testkit::server_url(MYSQL_VAR, "MySQL/MariaDB") else {
        return;
    };
    let scratch = MySqlScratch::new(&base);
    let project = Project::new(&format!(
        "[connections.my]\ntype = \"sql\"\nurl = \"{}\"\ntimeout = \"2s\"\n",
        scratch.url
    ));
    let conn = project.sql("my");
    conn.execute("CREATE TABLE landed (x INT) ENGINE=InnoDB")
        .blocking()
        .unwrap();
    let marker = conn_testkit::unique_name("slow");
    let running = || -> i64 {
        scratch
            .admin()
            .query(
                "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST \
                 WHERE INFO LIKE ? AND ID <> CONNECTION_ID()",
            )
            .bind(format!("%{marker}%"))
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap()
            .rows::<(i64,)>()
            .unwrap()[0]
            .0
    };
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            conn.execute(format!(
                "INSERT INTO landed SELECT SLEEP(30) /* {marker} */"
            ))
            .blocking()
        });
        assert!(
            eventually(Duration::from_secs(2), || running() == 1),
            "the statement was never seen running"
        );
        let err = writer.join().unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    });
    assert!(
        eventually(Duration::from_secs(5), || running() == 0),
        "still running"
    );
    let rows = conn
        .query("SELECT COUNT(*) AS n FROM landed")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(i64,)>()
        .unwrap();
    assert_eq!(rows, vec![(0,)]);
}

#[test]
fn sqlite_is_interrupted_and_an_in_memory_database_survives() {
    let project = Project::new("[connections.mem]\ntype = \"sql\"\nurl = \"sqlite://\"\n");
    let conn: std::sync::Arc<SqlConnection> = project.sql("mem");
    conn.execute("CREATE TABLE kept (x INTEGER)")
        .blocking()
        .unwrap();
    conn.execute("INSERT INTO kept VALUES (1), (2)")
        .blocking()
        .unwrap();
    let started = Instant::now();
    let err = conn
        .query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) \
             SELECT count(*) FROM n",
        )
        .ttl(Ttl::ZERO)
        .timeout(Duration::from_millis(300))
        .blocking()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // A named parameter without a value fails (SQLite would bind NULL for it, silently),
    // and is not taken for a lost connection: the in-memory database is still there.
    let err = conn
        .query("SELECT * FROM kept WHERE x = :x")
        .blocking()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the statement uses :x but no value was given for it"
    );
    // Nor is a statement the driver refuses.
    let err = conn.query("SELEC nothing").blocking().unwrap_err();
    assert_ne!(err.kind(), ErrorKind::Stale, "{err}");
    let rows = conn
        .query("SELECT count(*) AS n FROM kept")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(i64,)>()
        .unwrap();
    assert_eq!(rows, vec![(2,)], "the in-memory database survived");
    assert_eq!(conn.stats().resets, 0);
}

#[test]
fn a_write_through_query_runs_every_time_and_drops_cached_reads() {
    let project = Project::new("[connections.lite]\ntype = \"sql\"\nurl = \"sqlite://\"\n");
    let conn = project.sql("lite");
    conn.execute("CREATE TABLE ids (x INTEGER)")
        .blocking()
        .unwrap();
    let count = || {
        conn.query("SELECT count(*) AS n FROM ids")
            .blocking()
            .unwrap()
            .rows::<(i64,)>()
            .unwrap()[0]
            .0
    };
    assert_eq!(count(), 0); // cached from now on (ttl forever)
    for expected in 1..=3 {
        let returned = conn
            .query("INSERT INTO ids VALUES (7) RETURNING x")
            .blocking()
            .unwrap();
        assert_eq!(returned.rows::<(i64,)>().unwrap(), vec![(7,)]);
        assert_eq!(
            count(),
            expected,
            "the insert ran, and the cached count was dropped"
        );
    }
}

#[test]
fn a_postgres_session_whose_statement_failed_refuses_to_commit() {
    let Some((_scratch, project)) = pg() else {
        return;
    };
    let conn = project.sql("pg");
    conn.execute("CREATE TABLE kept (x integer)")
        .blocking()
        .unwrap();
    let mut session = conn.session().blocking().unwrap();
    session
        .execute("INSERT INTO kept VALUES (1)")
        .blocking()
        .unwrap();
    session.query("SELEC broken").blocking().unwrap_err();
    // PostgreSQL would answer this COMMIT with a silent ROLLBACK.
    let err = session.commit().blocking().unwrap_err();
    assert_eq!(
        err.to_string(),
        "sql connection \"pg\": the transaction was rolled back, not committed: a statement \
         in it failed or was cut short"
    );
    let rows = conn
        .query("SELECT count(*) AS n FROM kept")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(i64,)>()
        .unwrap();
    assert_eq!(rows, vec![(0,)]);
}
