//! The `sql` type against the real MySQL/MariaDB server named by CONN_TEST_MYSQL_URL.
//! Skipped with a message when it is unset; `.ci/run` sets it and makes it required.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Decimal128Type, TimeUnit};
use common::{MYSQL_VAR, MySqlScratch, Project};
use conn_core::{ErrorClass, Table, Ttl, arrow};
use conn_sql::{SqlConnection, WriteMode};

fn scratch() -> Option<(MySqlScratch, Project)> {
    let base = conn_testkit::server_url(MYSQL_VAR, "MySQL/MariaDB")?;
    let scratch = MySqlScratch::new(&base);
    let project = Project::new(&format!(
        "[connections.my]\ntype = \"sql\"\nurl = \"{}\"\nretry = {{ attempts = 3, wait = \"50ms\" }}\n\
         create_engine_kwargs = {{ pool_pre_ping = false }}\n",
        scratch.url
    ));
    Some((scratch, project))
}

const ALL_TYPES: &str = "
    CREATE TABLE everything (
        b BOOLEAN, ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT,
        miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
        f FLOAT, d DOUBLE, num DECIMAL(12, 2), vc VARCHAR(20), ch CHAR(3), tx TEXT,
        en ENUM('sad', 'happy'), js JSON, bin VARBINARY(8), bl BLOB, dt DATE, tm TIME(6),
        dtm DATETIME(6), ts TIMESTAMP(6) NULL, yr YEAR
    );
    INSERT INTO everything VALUES (
        TRUE, -8, 250, -16, -8388608, 16777215, -2147483648, 4294967295,
        -9223372036854775808, 18446744073709551615, 1.5, 2.25, 1234567890.12, 'varchar',
        'ab', 'text', 'happy', '{\"a\": 1}', x'0102', x'ff', '2024-02-29',
        '13:14:15.123456', '2024-02-29 13:14:15.5', '2024-02-29 13:14:15', 2024
    );
    INSERT INTO everything () VALUES ();
";

#[test]
fn every_type_maps_faithfully() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("my");
    for statement in ALL_TYPES.split(';').filter(|s| !s.trim().is_empty()) {
        conn.execute(statement).blocking().unwrap();
    }
    conn.execute("SET time_zone = '+00:00'").blocking().unwrap();
    let table = conn
        .query("SELECT * FROM everything ORDER BY i DESC")
        .blocking()
        .unwrap();
    let types: Vec<DataType> = table
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(
        types,
        vec![
            DataType::Boolean,
            DataType::Int8,
            DataType::UInt8,
            DataType::Int16,
            DataType::Int32,
            DataType::UInt32,
            DataType::Int32,
            DataType::UInt32,
            DataType::Int64,
            DataType::UInt64,
            DataType::Float32,
            DataType::Float64,
            DataType::Decimal128(38, 2),
            DataType::Utf8,
            DataType::Utf8,
            DataType::Utf8,
            DataType::Utf8,
            DataType::Utf8,
            DataType::Binary,
            DataType::Binary,
            DataType::Date32,
            DataType::Time64(TimeUnit::Microsecond),
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            DataType::UInt16,
        ]
    );
    assert_eq!(table.num_rows(), 2);
    let batch = table.to_record_batch().unwrap();
    let values_row = (0..2).find(|&r| !batch.column(0).is_null(r)).unwrap();
    let null_row = 1 - values_row;
    for column in batch.columns() {
        assert!(column.is_null(null_row), "{column:?}");
    }
    let text = |name: &str| {
        let array = table.column(name).unwrap();
        arrow::util::display::ArrayFormatter::try_new(array.as_ref(), &Default::default())
            .unwrap()
            .value(values_row)
            .to_string()
    };
    assert_eq!(text("b"), "true");
    assert_eq!(text("biu"), "18446744073709551615");
    assert_eq!(text("bi"), "-9223372036854775808");
    assert_eq!(text("num"), "1234567890.12");
    assert_eq!(text("en"), "happy");
    assert_eq!(text("bin"), "0102");
    assert_eq!(text("dt"), "2024-02-29");
    assert_eq!(text("tm"), "13:14:15.123456");
    assert_eq!(text("dtm"), "2024-02-29T13:14:15.500");
    assert_eq!(text("yr"), "2024");
    let num = table.column("num").unwrap();
    assert_eq!(
        num.as_primitive::<Decimal128Type>().value(values_row),
        123_456_789_012
    );
}

#[test]
fn named_parameters_and_backtick_identifiers() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("my");
    let table = conn
        .query("SELECT :n + 1 AS `next:col`, ':skip' AS lit, :name AS name, :n AS again")
        .param("n", 41)
        .param("name", "Ada")
        .blocking()
        .unwrap();
    let rows: Vec<(i64, String, String, i64)> = table.rows().unwrap();
    assert_eq!(rows, vec![(42, ":skip".into(), "Ada".into(), 41)]);
}

#[test]
fn a_killed_connection_is_recovered_without_the_caller_seeing_it() {
    let Some((scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("my");
    let id = |conn: &SqlConnection| {
        conn.query("SELECT CONNECTION_ID() AS id")
            .ttl(Ttl::ZERO)
            .blocking()
            .expect("the caller never sees the killed connection")
            .rows::<(u64,)>()
            .unwrap()[0]
            .0
    };
    let before = id(&conn);
    scratch
        .admin()
        .execute(format!("KILL {before}"))
        .blocking()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_ne!(id(&conn), before);
    let stats = conn.stats();
    assert_eq!((stats.retries, stats.connects), (1, 2), "{stats:?}");
}

#[test]
fn syntax_errors_are_not_retried() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("my");
    let err = conn.query("SELEC 1").blocking().unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert_eq!(err.code(), Some("42000"));
    assert!(
        err.to_string()
            .contains("You have an error in your SQL syntax"),
        "{err}"
    );
    let stats = conn.stats();
    assert_eq!((stats.queries, stats.retries), (1, 0));
}

#[test]
fn write_table_round_trips_and_failures_change_nothing() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("my");
    conn.execute(
        "CREATE TABLE src (id INT PRIMARY KEY, name VARCHAR(20), score DOUBLE, price DECIMAL(10,2), at DATETIME(6))",
    )
    .blocking()
    .unwrap();
    conn.execute(
        "INSERT INTO src VALUES (1, 'a', 0.5, 1.25, '2024-01-01 10:00:00'), (2, NULL, NULL, NULL, NULL)",
    )
    .blocking()
    .unwrap();
    let source = conn
        .query("SELECT * FROM src ORDER BY id")
        .blocking()
        .unwrap();
    assert_eq!(
        conn.write_table("copied", &source, WriteMode::Create)
            .blocking()
            .unwrap(),
        2
    );
    let back = conn
        .query("SELECT * FROM copied ORDER BY id")
        .blocking()
        .unwrap();
    assert_eq!(back.to_string(), source.to_string());

    // A duplicate key in an append rolls the whole append back.
    let clash = conn
        .query("SELECT 3 AS id, 'new' AS name UNION ALL SELECT 1, 'dup'")
        .blocking()
        .unwrap();
    let err = conn
        .write_table(
            "src",
            &Table::from_batch(clash.to_record_batch().unwrap()),
            WriteMode::Append,
        )
        .blocking()
        .unwrap_err();
    assert_eq!(err.code(), Some("23000"), "{err}");
    // A replace that fails mid-fill (a year MySQL cannot store) keeps the old table.
    let bad = conn
        .query("SELECT CAST('9999-12-31 23:59:59' AS DATETIME(6)) AS at")
        .blocking()
        .unwrap();
    let far = shift_years(&bad);
    let err = conn
        .write_table("src", &far, WriteMode::Replace)
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(err.contains("at"), "{err}");
    let rows = conn
        .query("SELECT id FROM src ORDER BY id")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(i32,)>()
        .unwrap();
    assert_eq!(rows, vec![(1,), (2,)]);
    let leftovers = conn
        .query("SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE 'src__conn%'")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(i64,)>()
        .unwrap();
    assert_eq!(
        leftovers,
        vec![(0,)],
        "the half-filled new table was dropped"
    );
}

/// The same timestamps 100 000 years later: valid Arrow, out of MySQL's range.
fn shift_years(table: &Table) -> Table {
    let batch = table.to_record_batch().unwrap();
    let original = batch
        .column(0)
        .as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
    let shifted: arrow::array::TimestampMicrosecondArray = original
        .iter()
        .map(|v| v.map(|micros| micros + 100_000 * 365 * 86_400 * 1_000_000))
        .collect();
    Table::from_batch(
        arrow::array::RecordBatch::try_new(batch.schema(), vec![Arc::new(shifted)]).unwrap(),
    )
}

#[test]
fn passwords_with_url_characters_work_and_never_show() {
    let Some((scratch, _project)) = scratch() else {
        return;
    };
    let user = conn_testkit::unique_name("u");
    let user = &user[..user.len().min(30)];
    let password = "p@ss/w#rd?:%";
    scratch
        .admin()
        .execute(format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"
        ))
        .blocking()
        .unwrap();
    let project = Project::new(&format!(
        "[connections.parts]\ntype = \"sql\"\ndialect = \"mysql\"\nhost = \"127.0.0.1\"\n\
         port = 3306\nusername = \"{user}\"\npassword = \"{password}\"\n\
         [connections.wrong]\ntype = \"sql\"\ndialect = \"mysql\"\nhost = \"127.0.0.1\"\n\
         username = \"{user}\"\npassword = \"not-{password}\"\n"
    ));
    let conn = project.sql("parts");
    let who = conn.query("SELECT CURRENT_USER() AS u").blocking().unwrap();
    assert!(who.rows::<(String,)>().unwrap()[0].0.starts_with(user));
    assert!(!format!("{conn:?}").contains(password));
    let err = project
        .sql("wrong")
        .query("SELECT 1")
        .blocking()
        .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("Access denied"), "{shown}");
    assert!(
        !shown.contains(password) && !shown.contains("p%40ss"),
        "{shown}"
    );
    assert_eq!(
        err.class(),
        ErrorClass::Permanent,
        "a bad password is not retried"
    );
    drop(project);
    scratch
        .admin()
        .execute(format!("DROP USER '{user}'@'%'"))
        .blocking()
        .unwrap();
}

#[test]
fn conformance() {
    let Some((scratch, _project)) = scratch() else {
        return;
    };
    let project = Project::new(&format!(
        "[connections.my]\ntype = \"sql\"\nurl = \"{}\"\n\
         [connections.wrong]\ntype = \"sql\"\nurl = \"mysql://root:Sup3rS3cret@127.0.0.1:3306/test\"\n",
        scratch.url
    ));
    conn_testkit::Conformance::<SqlConnection> {
        factory: project.factory,
        name: "my".into(),
        read: |conn, ttl| conn.query("SELECT 1 AS one").ttl(ttl).blocking(),
        stats: SqlConnection::stats,
        health_check: |conn| conn.health_check().blocking(),
        secret: Some("Sup3rS3cret".into()),
        failing_name: Some("wrong".into()),
    }
    .run();
}

/// A table of 10,000 rows of several types, read in batches of 7 through a single
/// pooled connection without the pool's ping. Returns the connection and the table.
fn ten_thousand_rows(scratch: &MySqlScratch) -> (Project, Arc<SqlConnection>, Table) {
    scratch
        .admin()
        .execute(format!(
            "CREATE TABLE {}.survive (id INT PRIMARY KEY, t VARCHAR(32), n DECIMAL(12, 2), \
             ts DATETIME(6) NULL, b VARBINARY(16)) \
             WITH d(n) AS (SELECT 0 UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 \
             UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 \
             UNION ALL SELECT 8 UNION ALL SELECT 9), \
             g(id) AS (SELECT a.n * 1000 + b.n * 100 + c.n * 10 + e.n + 1 FROM d a, d b, d c, d e) \
             SELECT id, MD5(id) AS t, id * 1.25 AS n, \
             IF(id % 7 = 0, NULL, TIMESTAMP '2024-02-29 12:00:00' - INTERVAL id MINUTE) AS ts, \
             UNHEX(MD5(id)) AS b FROM g",
            scratch.database
        ))
        .blocking()
        .unwrap();
    let project = Project::new(&format!(
        "[connections.my]\ntype = \"sql\"\nurl = \"{}\"\nbatch_size = 7\n\
         retry = {{ attempts = 3, wait = \"50ms\" }}\n\
         create_engine_kwargs = {{ pool_size = 1, max_overflow = 0, pool_pre_ping = false }}\n",
        scratch.url
    ));
    let conn = project.sql("my");
    let table = conn
        .query("SELECT * FROM survive ORDER BY id")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    assert_eq!(table.num_rows(), 10_000);
    assert_eq!(table.batches().len(), 10_000_usize.div_ceil(7));
    (project, conn, table)
}

fn connection_id(conn: &SqlConnection) -> u64 {
    conn.query("SELECT CONNECTION_ID() AS id")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(u64,)>()
        .unwrap()[0]
        .0
}

#[test]
fn a_connection_killed_between_reads_is_retried_and_the_data_survives() {
    let Some((scratch, _)) = scratch() else {
        return;
    };
    let (_project, conn, before) = ten_thousand_rows(&scratch);
    let id = connection_id(&conn);
    let stats = conn.stats();
    assert_eq!((stats.connects, stats.retries, stats.resets), (1, 0, 0));
    scratch
        .admin()
        .execute(format!("KILL CONNECTION {id}"))
        .blocking()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let after = conn
        .query("SELECT * FROM survive ORDER BY id")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    common::assert_same_table(&before, &after);
    assert_ne!(connection_id(&conn), id, "a new connection serves the pool");
    let stats = conn.stats();
    let counted = (stats.connects, stats.retries, stats.resets);
    assert!(
        counted == (2, 1, 1) || counted == (1, 0, 0),
        "one reconnect, one retry, one reset (or none seen): {stats:?}"
    );
}

#[test]
fn a_connection_killed_in_the_middle_of_a_read_is_read_again_from_the_start() {
    let Some((scratch, _)) = scratch() else {
        return;
    };
    let (_project, conn, before) = ten_thousand_rows(&scratch);
    let marker = conn_testkit::unique_name("mid_read");
    // The primary key's order needs no sort: rows stream out, and the read sleeps at
    // row 5000, 4,999 rows in, where another connection kills it, once.
    let sql = format!(
        "SELECT *, IF(id = 5000, SLEEP(0.5), 0) AS slept, '{marker}' AS marker \
         FROM survive ORDER BY id"
    );
    let stats_before = conn.stats();
    let after = std::thread::scope(|scope| {
        let killer = scope.spawn(|| {
            for _ in 0..500 {
                let found = scratch
                    .admin()
                    .query(
                        "SELECT ID AS id FROM information_schema.PROCESSLIST \
                         WHERE STATE = 'User sleep' AND INFO LIKE :marker \
                         AND ID <> CONNECTION_ID()",
                    )
                    .param("marker", format!("%{marker}%"))
                    .ttl(Ttl::ZERO)
                    .blocking()
                    .unwrap()
                    .rows::<(u64,)>()
                    .unwrap();
                if let Some((id,)) = found.first() {
                    scratch
                        .admin()
                        .execute(format!("KILL CONNECTION {id}"))
                        .blocking()
                        .unwrap();
                    return true;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            false
        });
        let table = conn.query(sql.clone()).ttl(Ttl::ZERO).blocking().unwrap();
        assert!(killer.join().unwrap(), "the read was never seen sleeping");
        table
    });
    let columns: Vec<usize> = (0..before.num_columns()).collect();
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
        "read again once, on a new connection: {stats:?}"
    );
}

#[test]
fn a_dropped_session_whose_statement_failed_leaves_no_transaction_in_the_pool() {
    let Some((scratch, _)) = scratch() else {
        return;
    };
    scratch
        .admin()
        .execute(format!(
            "CREATE TABLE {d}.kept (n INT); CREATE TABLE {d}.dropped (n INT NOT NULL PRIMARY KEY)",
            d = scratch.database
        ))
        .blocking()
        .unwrap();
    // Two pooled connections: the session holds one, everyone else shares the other.
    let project = Project::new(&format!(
        "[connections.my]\ntype = \"sql\"\nurl = \"{}\"\n\
         create_engine_kwargs = {{ pool_size = 2, max_overflow = 0 }}\n",
        scratch.url
    ));
    let conn = project.sql("my");
    let barrier = std::sync::Barrier::new(2);
    let session_id = std::thread::scope(|scope| {
        let session = scope.spawn(|| {
            let mut session = conn.session().blocking().unwrap();
            let id = session
                .query("SELECT CONNECTION_ID() AS id")
                .blocking()
                .unwrap()
                .rows::<(u64,)>()
                .unwrap()[0]
                .0;
            session
                .execute("INSERT INTO dropped VALUES (1)")
                .blocking()
                .unwrap();
            barrier.wait(); // The other connection starts working.
            // A failed statement leaves MySQL's transaction open (with the first insert).
            let err = session
                .execute("INSERT INTO dropped VALUES (1)")
                .blocking()
                .unwrap_err();
            assert!(err.to_string().contains("Duplicate entry"), "{err}");
            let inside = session
                .query("SELECT @@in_transaction AS t")
                .blocking()
                .unwrap()
                .rows::<(i64,)>()
                .unwrap();
            assert_eq!(inside, vec![(1,)]);
            barrier.wait();
            drop(session); // Never committed nor rolled back.
            id
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
    // The dropped session's transaction ends on the server at once (it holds the
    // row locks of its insert), not whenever its connection is next used.
    let mut lingering = 1;
    for _ in 0..40 {
        lingering = scratch
            .admin()
            .query(
                "SELECT count(*) AS n FROM information_schema.INNODB_TRX \
                 WHERE trx_mysql_thread_id = :id",
            )
            .param("id", i64::try_from(session_id).unwrap())
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
    // transaction, and the server has no open transaction for either.
    let states: Vec<(u64, i64)> = std::thread::scope(|scope| {
        let probes: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    conn.query(
                        "SELECT CONNECTION_ID() AS id, @@in_transaction AS t, SLEEP(0.3) AS s",
                    )
                    .ttl(Ttl::ZERO)
                    .blocking()
                    .unwrap()
                    .rows::<(u64, i64, i64)>()
                    .unwrap()
                    .into_iter()
                    .map(|(id, t, _)| (id, t))
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
    for (id, in_transaction) in &states {
        assert_eq!(*in_transaction, 0, "connection {id}: {states:?}");
    }
    let open = scratch
        .admin()
        .query(
            "SELECT count(*) AS n FROM information_schema.INNODB_TRX \
             WHERE trx_mysql_thread_id IN (:a, :b)",
        )
        .param("a", i64::try_from(states[0].0).unwrap())
        .param("b", i64::try_from(states[1].0).unwrap())
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
            "SELECT (SELECT count(*) FROM kept) AS kept, (SELECT count(*) FROM dropped) AS dropped",
        )
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(i64, i64)>()
        .unwrap();
    assert_eq!(counts, vec![(20, 0)]);
}
