//! The `snowflake` type against a Snowflake-protocol server on 127.0.0.1 (fakesnow,
//! wrapped by tests/peer/snowpeer.py for what it lacks): started per test, required in
//! CI (CONN_TEST_REQUIRE_SERVERS=1), skipped with a message without Python.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use conn_core::arrow::array::{Array, AsArray as _};
use conn_core::arrow::datatypes::{DataType, Int64Type, TimeUnit};
use conn_core::arrow::util::display::{ArrayFormatter, FormatOptions};
use conn_core::{ErrorKind, Table, Ttl, WriteMode};
use conn_snowflake::SnowflakeConnection;
use serde_json::Value;

use common::{PASSWORD, Setup};

fn sf(setup: &Setup, extra_keys: &str) -> Arc<SnowflakeConnection> {
    setup
        .factory(extra_keys, "")
        .get::<SnowflakeConnection>("sf")
        .unwrap()
}

fn int_column(table: &Table, name: &str) -> Vec<Option<i64>> {
    let column = arrow::compute::cast(&table.column(name).unwrap(), &DataType::Int64).unwrap();
    let column = column.as_primitive::<Int64Type>();
    (0..column.len())
        .map(|i| column.is_valid(i).then(|| column.value(i)))
        .collect()
}

/// The rows of `table`, read past the result cache.
fn count(conn: &SnowflakeConnection, table: &str) -> Option<i64> {
    let counted = conn
        .query(format!("select count(*) as n from {table}"))
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    int_column(&counted, "N")[0]
}

/// Asserts that no staging table of write_table is left.
fn assert_no_staging_tables(conn: &SnowflakeConnection) {
    let tables = conn
        .query(
            "select table_name from information_schema.tables where table_name like '%CONN_STAGE%'",
        )
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    assert_eq!(tables.num_rows(), 0, "staging tables left: {tables}");
}

/// The conformance suite: lazy login, health check, reset, 32 concurrent first reads
/// with one login, the result cache, no secret in Debug or errors.
#[test]
fn conformance() {
    let Some(setup) = Setup::start() else { return };
    let factory = setup.factory("", &format!(
        "[connections.refused]\ntype = \"snowflake\"\n{}password = \"{PASSWORD}\"\nuser = \"mallory\"\n",
        setup.keys().replace("user = \"ada\"\n", "")
    ));
    setup.peer.control(
        "/conn-test/set_password",
        r#"{"user": "mallory", "password": "other"}"#,
    );
    conn_testkit::Conformance::<SnowflakeConnection> {
        factory,
        name: "sf".into(),
        read: |conn, ttl| conn.query("select 1 as one").ttl(ttl).blocking(),
        stats: SnowflakeConnection::stats,
        health_check: |conn| conn.health_check().blocking(),
        secret: Some(PASSWORD.into()),
        failing_name: Some("refused".into()),
    }
    .run();
}

/// 32 threads asking at once for a fresh connection's first result log in once.
#[test]
fn concurrent_first_reads_log_in_once() {
    let Some(setup) = Setup::start() else { return };
    let conn = sf(&setup, "");
    let barrier = std::sync::Barrier::new(32);
    std::thread::scope(|scope| {
        for i in 0..32 {
            let (conn, barrier) = (&conn, &barrier);
            scope.spawn(move || {
                barrier.wait();
                let table = conn
                    .query("select ? as n")
                    .bind(i64::from(i))
                    .blocking()
                    .unwrap();
                assert_eq!(int_column(&table, "N"), vec![Some(i64::from(i))]);
            });
        }
    });
    let logins = setup.records("logins");
    assert_eq!(logins.len(), 1, "{logins:?}");
}

/// Every type Snowflake has, with NULLs, in proper Arrow types.
#[test]
fn every_type_and_nulls() {
    let Some(setup) = Setup::start() else { return };
    let conn = sf(&setup, "");
    conn.execute(
        "create table types (i number(38,0), d number(10,2), f float, s varchar, b boolean, \
         dt date, t time, ntz timestamp_ntz, tz timestamp_tz, bin binary, v variant)",
    )
    .blocking()
    .unwrap();
    conn.execute(
        "insert into types select 9223372036854775807, -12345678.91, -0.5, 'héllo', true, \
         '0001-01-01', '23:59:59.999999', '1969-12-31 23:59:59.5', '2024-02-29 12:00:00+02:00', \
         to_binary('00ff', 'HEX'), parse_json('{\"a\": [1, 2]}')",
    )
    .blocking()
    .unwrap();
    conn.execute("insert into types (i) values (null)")
        .blocking()
        .unwrap();
    let table = conn
        .query("select * from types order by i nulls last")
        .blocking()
        .unwrap();
    let schema = table.schema();
    let types: Vec<(&str, DataType)> = schema
        .fields()
        .iter()
        .map(|f| (f.name().as_str(), f.data_type().clone()))
        .collect();
    assert_eq!(types[0], ("I", DataType::Int64));
    assert_eq!(types[1], ("D", DataType::Decimal128(10, 2)));
    assert_eq!(types[2], ("F", DataType::Float64));
    assert_eq!(types[3], ("S", DataType::Utf8));
    assert_eq!(types[4], ("B", DataType::Boolean));
    assert_eq!(types[5], ("DT", DataType::Date32));
    assert_eq!(types[6], ("T", DataType::Time64(TimeUnit::Nanosecond)));
    assert!(
        matches!(types[7].1, DataType::Timestamp(_, None)),
        "{types:?}"
    );
    assert!(
        matches!(&types[8].1, DataType::Timestamp(_, Some(z)) if z.as_ref() == "UTC"),
        "{types:?}"
    );
    assert_eq!(types[9], ("BIN", DataType::Binary));
    assert_eq!(types[10], ("V", DataType::Utf8));
    assert_eq!(
        schema
            .field(10)
            .metadata()
            .get("ARROW:extension:name")
            .map(String::as_str),
        Some("arrow.json")
    );
    let shown: Vec<String> = (0..schema.fields().len())
        .map(|c| {
            let batch = table.to_record_batch().unwrap();
            let formatter =
                ArrayFormatter::try_new(batch.column(c).as_ref(), &FormatOptions::default())
                    .unwrap();
            formatter.value(0).to_string()
        })
        .collect();
    let shown = shown.join(" | ");
    for expected in [
        "9223372036854775807",
        "-12345678.91",
        "-0.5",
        "héllo",
        "true",
        "0001-01-01",
        "23:59:59.999999",
        "1969-12-31T23:59:59.500",
        "2024-02-29T10:00:00",
        "00ff",
        "{\"a\":[1,2]}",
    ] {
        assert!(shown.contains(expected), "{expected} missing in\n{shown}");
    }
    // The second row is NULL in every column.
    let batch = table.to_record_batch().unwrap();
    for (index, column) in batch.columns().iter().enumerate() {
        assert!(column.is_null(1), "column {index} row 1 is not NULL");
        assert!(column.is_valid(0), "column {index} row 0 is NULL");
    }
    // The query id is on the result.
    assert!(
        schema
            .metadata()
            .get("snowflake:query_id")
            .is_some_and(|id| !id.is_empty()),
        "{:?}",
        schema.metadata()
    );
}

/// A result without rows keeps its columns and their types.
#[test]
fn zero_rows_keep_the_schema() {
    let Some(setup) = Setup::start() else { return };
    let conn = sf(&setup, "");
    conn.execute("create table empty_t (id number(38,0), name varchar, created timestamp_ntz)")
        .blocking()
        .unwrap();
    let table = conn.query("select * from empty_t").blocking().unwrap();
    assert_eq!(table.num_rows(), 0);
    assert_eq!(table.column_names(), vec!["ID", "NAME", "CREATED"]);
    assert_eq!(table.schema().field(0).data_type(), &DataType::Int64);
    assert!(matches!(
        table.schema().field(2).data_type(),
        DataType::Timestamp(_, None)
    ));
}

/// Positional binds of every kind, with `?` and `:1`; named ones are refused.
#[test]
fn binds_of_every_kind() {
    let Some(setup) = Setup::start() else { return };
    let conn = sf(&setup, "");
    conn.execute("create table b (i number(38,0), f float, s varchar, ok boolean, bin binary)")
        .blocking()
        .unwrap();
    let inserted = conn
        .execute("insert into b values (?, ?, ?, ?, ?)")
        .bind(i64::MIN)
        .bind(0.1_f64)
        .bind("it's \"quoted\"")
        .bind(false)
        .bind(vec![0_u8, 1, 254, 255])
        .blocking()
        .unwrap();
    assert_eq!(inserted.rows, 1);
    assert!(!inserted.query_id.is_empty());
    conn.execute("insert into b values (:1, :2, :3, :4, :5)")
        .bind(Option::<i64>::None)
        .bind(Option::<f64>::None)
        .bind(Option::<String>::None)
        .bind(Option::<bool>::None)
        .bind(Option::<Vec<u8>>::None)
        .blocking()
        .unwrap();
    let table = conn
        .query("select * from b where i = ? or i is null order by i")
        .bind(i64::MIN)
        .blocking()
        .unwrap();
    assert_eq!(int_column(&table, "I"), vec![Some(i64::MIN), None]);
    let shown = table.to_string();
    assert!(
        shown.contains("0.1") && shown.contains("it's \"quoted\"") && shown.contains("0001feff"),
        "{shown}"
    );

    let err = conn
        .query("select * from b where s = :s")
        .param("s", "x")
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(err.contains("named parameter \"s\""), "{err}");
}

/// A result in chunks comes back whole and in order, whichever way the chunks are
/// protected, gzipped or not, streamed or not.
#[test]
fn chunks_arrive_in_order() {
    let Some(setup) = Setup::start() else { return };
    let conn = sf(&setup, "client_prefetch_threads = 3");
    conn.execute("create table seq as select seq4() as id, uniform(1, 1000, random()) as r from table(generator(rowcount => 5500))")
        .blocking()
        .unwrap();
    for (mode, gzip) in [("headers", true), ("qrmk", false), ("qrmk", true)] {
        setup.control(&format!("{{\"chunk_rows\": 500, \"chunk_mode\": \"{mode}\", \"gzip\": {gzip}, \"chunk_delay_ms\": 40, \"chunk_delay_reverse\": true}}"));
        let table = conn
            .query("select id from seq order by id")
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap();
        let ids = int_column(&table, "ID");
        assert_eq!(ids.len(), 5500, "{mode} gzip={gzip}");
        assert!(
            ids.iter().enumerate().all(|(i, id)| *id == Some(i as i64)),
            "{mode} gzip={gzip}: out of order"
        );
    }
    let chunks = setup.records("chunks");
    assert!(chunks.len() >= 30, "{}", chunks.len());
    assert!(chunks.iter().all(|c| c["status"] == 200), "{chunks:?}");
    // At most three downloads at once, and more than one at some point.
    let mut most = 0;
    for c in &chunks {
        let (start, end) = (c["start"].as_f64().unwrap(), c["end"].as_f64().unwrap());
        let _ = end;
        let overlapping = chunks
            .iter()
            .filter(|o| o["start"].as_f64().unwrap() <= start && o["end"].as_f64().unwrap() > start)
            .count();
        most = most.max(overlapping);
    }
    assert!((2..=3).contains(&most), "{most} chunk downloads at once");

    // Streamed: the same rows, batch by batch.
    setup.control("{\"chunk_rows\": 500, \"chunk_mode\": \"headers\", \"gzip\": true}");
    let stream = conn
        .query("select id from seq order by id")
        .stream()
        .blocking()
        .unwrap();
    let mut next = 0_i64;
    let mut batches = 0;
    for batch in stream {
        let batch = batch.unwrap();
        batches += 1;
        let ids = arrow::compute::cast(batch.column(0), &DataType::Int64).unwrap();
        for id in ids.as_primitive::<Int64Type>().values() {
            assert_eq!(*id, next);
            next += 1;
        }
    }
    assert_eq!(next, 5500);
    assert!(batches >= 11, "{batches} batches");
}

/// A statement the server keeps running is polled until it ends; one running past
/// `query_timeout` is aborted on the server and fails with a timeout naming the key.
#[test]
fn long_statements_are_polled_or_aborted() {
    let Some(setup) = Setup::start() else { return };
    let conn = sf(&setup, "query_timeout = 1");
    setup.control("{\"pending_polls\": 3}");
    let table = conn.query("select 42 as answer").blocking().unwrap();
    assert_eq!(int_column(&table, "ANSWER"), vec![Some(42)]);
    assert!(setup.records("polls").len() >= 2);

    setup.control("{\"hang\": true}");
    let started = std::time::Instant::now();
    let err = conn.query("select 43").blocking().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.to_string().contains("query_timeout"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // The abort goes out in the background, after the call returned.
    let aborted = setup.wait_for("aborts", |a| a["matched"] == true);
    assert!(aborted, "{:?}", setup.records("aborts"));
}

/// An expired session token is renewed and the statement sent again; an expired
/// master token means a new login; neither shows as an error.
#[test]
fn expired_sessions_recover() {
    let Some(setup) = Setup::start() else { return };
    let conn = sf(&setup, "");
    conn.query("select 1").ttl(Ttl::ZERO).blocking().unwrap();
    setup.peer.control("/conn-test/expire_sessions", "{}");
    conn.query("select 2").ttl(Ttl::ZERO).blocking().unwrap();
    let renewals = setup.records("token-requests");
    assert_eq!(renewals.len(), 1, "{renewals:?}");
    assert_eq!(setup.records("logins").len(), 1);

    setup.peer.control("/conn-test/expire_sessions", "{}");
    setup.peer.control("/conn-test/expire_masters", "{}");
    conn.query("select 3").ttl(Ttl::ZERO).blocking().unwrap();
    assert_eq!(
        setup.records("logins").len(),
        2,
        "a new login after the master token expired"
    );
}

/// A request that failed with 5xx is sent again with the same request id, marked as
/// a retry, and runs once.
#[test]
fn failed_requests_are_resent_with_the_same_request_id() {
    let Some(setup) = Setup::start() else { return };
    let conn = sf(&setup, "");
    conn.execute("create table once_t (id number(38,0))")
        .blocking()
        .unwrap();
    setup.control("{\"fail_next\": {\"count\": 2, \"status\": 503}}");
    conn.execute("insert into once_t values (1)")
        .blocking()
        .unwrap();
    setup.control("{\"fail_next\": {\"count\": 1, \"status\": 502, \"after_run\": true}}");
    conn.execute("insert into once_t values (2)")
        .blocking()
        .unwrap();
    let queries = setup.records("queries");
    let inserts: Vec<&Value> = queries
        .iter()
        .filter(|q| {
            q["sqlText"]
                .as_str()
                .is_some_and(|s| s.starts_with("insert"))
        })
        .collect();
    assert_eq!(inserts.len(), 5, "{inserts:?}");
    assert!(
        inserts[..3]
            .iter()
            .all(|q| q["requestId"] == inserts[0]["requestId"])
    );
    assert!(
        inserts[3..]
            .iter()
            .all(|q| q["requestId"] == inserts[3]["requestId"])
    );
    assert_eq!(inserts[1]["retry"], "true");
    assert_eq!(inserts[4]["outcome"], "replayed");
    let table = conn
        .query("select id from once_t order by id")
        .blocking()
        .unwrap();
    assert_eq!(
        int_column(&table, "ID"),
        vec![Some(1), Some(2)],
        "each insert applied once"
    );
}

/// execute drops the cached reads; rows affected are reported for each kind of DML.
#[test]
fn execute_reports_rows_and_invalidates_the_cache() {
    let Some(setup) = Setup::start() else { return };
    let conn = sf(&setup, "");
    conn.execute("create table pets (name varchar, age number(38,0))")
        .blocking()
        .unwrap();
    assert_eq!(
        conn.execute("insert into pets values ('rex', 3), ('tom', 5)")
            .blocking()
            .unwrap()
            .rows,
        2
    );
    let count = || {
        int_column(
            &conn
                .query("select count(*) as n from pets")
                .blocking()
                .unwrap(),
            "N",
        )
    };
    assert_eq!(count(), vec![Some(2)]);
    assert_eq!(
        conn.execute("update pets set age = age + 1")
            .blocking()
            .unwrap()
            .rows,
        2
    );
    assert_eq!(
        conn.execute("delete from pets where name = ?")
            .bind("rex")
            .blocking()
            .unwrap()
            .rows,
        1
    );
    assert_eq!(count(), vec![Some(1)], "the cached count was dropped");
}

/// A session is a transaction of its own: commit makes it visible, dropping it rolls
/// back; temporary tables live in it; DDL after a change is refused.
#[test]
fn sessions_commit_or_roll_back() {
    let Some(setup) = Setup::start() else { return };
    let conn = sf(&setup, "");
    conn.execute("create table acct (id number(38,0), balance number(38,0))")
        .blocking()
        .unwrap();
    conn.execute("insert into acct values (1, 100)")
        .blocking()
        .unwrap();
    let balance = || {
        int_column(
            &conn
                .query("select balance from acct")
                .ttl(Ttl::ZERO)
                .blocking()
                .unwrap(),
            "BALANCE",
        )
    };

    let mut session = conn.session().blocking().unwrap();
    session
        .execute("create temporary table scratch (x number(38,0))")
        .blocking()
        .unwrap();
    session
        .execute("insert into scratch values (1)")
        .blocking()
        .unwrap();
    session
        .execute("update acct set balance = balance - 30")
        .blocking()
        .unwrap();
    assert_eq!(
        int_column(
            &session
                .query("select balance from acct")
                .blocking()
                .unwrap(),
            "BALANCE"
        ),
        vec![Some(70)]
    );
    let err = session
        .execute("create table late (x int)")
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(err.contains("commits the open transaction"), "{err}");
    drop(session);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        balance(),
        vec![Some(100)],
        "dropping the session rolled back"
    );
    let sent: Vec<String> = setup
        .records("queries")
        .iter()
        .filter_map(|q| q["sqlText"].as_str().map(str::to_owned))
        .collect();
    let update = sent
        .iter()
        .position(|q| q.starts_with("update acct"))
        .unwrap();
    assert!(
        sent[update..].iter().any(|q| q == "ROLLBACK"),
        "no ROLLBACK after the update: {sent:?}"
    );

    let mut session = conn.session().blocking().unwrap();
    session
        .execute("update acct set balance = balance - 30")
        .blocking()
        .unwrap();
    session.commit().blocking().unwrap();
    assert_eq!(balance(), vec![Some(70)]);
    let err = conn.query("select * from scratch").blocking().unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::NotFound,
        "the temporary table went with its session: {err}"
    );
}

/// A table of `id`s and `day`s (a date; the one at `bad_at` is beyond year 9999, which
/// conn cannot send).
fn wide(ids: std::ops::Range<i64>, bad_at: Option<i64>) -> Table {
    use conn_core::arrow::array::{ArrayRef, Date32Array, Int64Array, RecordBatch};
    let columns: Vec<(String, ArrayRef)> = vec![
        (
            "id".into(),
            Arc::new(Int64Array::from_iter_values(ids.clone())),
        ),
        (
            "day".into(),
            Arc::new(Date32Array::from_iter_values(
                ids.map(|i| if Some(i) == bad_at { i32::MAX } else { 19_000 }),
            )),
        ),
    ];
    Table::from_batch(RecordBatch::try_from_iter(columns).unwrap())
}

/// write_table creates, appends and replaces, in statements of `write_chunk_rows`
/// rows; a failure in a later statement leaves the table as it was and no staging
/// table behind.
#[test]
fn write_table_all_or_nothing() {
    let Some(setup) = Setup::start() else { return };
    // Small statements: the peer inserts row by row, slowly.
    let conn = sf(&setup, "write_chunk_rows = 100");
    assert_eq!(
        conn.write_table("w", &wide(0..250, None), WriteMode::Create)
            .blocking()
            .unwrap(),
        250
    );
    assert_eq!(count(&conn, "w"), Some(250));
    let inserts = setup
        .records("queries")
        .iter()
        .filter(|q| {
            q["sqlText"]
                .as_str()
                .is_some_and(|s| s.starts_with("INSERT INTO w"))
        })
        .count();
    assert_eq!(inserts, 3, "three statements of array binds");
    let err = conn
        .write_table("w", &wide(0..1, None), WriteMode::Create)
        .blocking()
        .unwrap_err();
    assert!(err.to_string().to_ascii_uppercase().contains("W"), "{err}");
    conn.write_table("w", &wide(250..260, None), WriteMode::Append)
        .blocking()
        .unwrap();
    assert_eq!(count(&conn, "w"), Some(260));
    conn.write_table("w", &wide(100..103, None), WriteMode::Replace)
        .blocking()
        .unwrap();
    assert_eq!(count(&conn, "w"), Some(3));
    assert_eq!(
        int_column(
            &conn
                .query("select id from w order by id")
                .ttl(Ttl::ZERO)
                .blocking()
                .unwrap(),
            "ID"
        ),
        vec![Some(100), Some(101), Some(102)]
    );

    let bad = wide(0..250, Some(210));
    for mode in [WriteMode::Append, WriteMode::Replace] {
        let err = conn
            .write_table("w", &bad, mode)
            .blocking()
            .unwrap_err()
            .to_string();
        assert!(err.contains("column \"day\", row 210"), "{mode:?}: {err}");
        assert_eq!(
            count(&conn, "w"),
            Some(3),
            "{mode:?} left the table as it was"
        );
    }
    let err = conn
        .write_table("neu", &bad, WriteMode::Create)
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(err.contains("row 210"), "{err}");
    let missing = conn
        .query("select count(*) from neu")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap_err();
    assert_eq!(
        missing.kind(),
        ErrorKind::NotFound,
        "the failed create left no table: {missing}"
    );
    assert_no_staging_tables(&conn);
}

/// A streamed read: a value a later chunk holds that the first batch's types cannot
/// (a timestamp beyond nanoseconds) ends the stream with an error naming it, after
/// the batches before it; the whole read widens the column instead.
#[test]
fn streams_fail_mid_way_where_a_whole_read_widens() {
    let Some(setup) = Setup::start() else { return };
    let conn = sf(&setup, "");
    conn.execute("create table late (id number(38,0), ts timestamp_ntz)")
        .blocking()
        .unwrap();
    conn.execute(
        "insert into late select seq4(), case when seq4() < 20 then '2000-01-01 00:00:00'::timestamp_ntz \
         else '3000-01-01 00:00:00.000001'::timestamp_ntz end from table(generator(rowcount => 30))",
    )
    .blocking()
    .unwrap();
    setup.control(r#"{"chunk_rows": 10}"#);
    let whole = conn
        .query("select * from late order by id")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    assert_eq!(
        whole.schema().field(1).data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, None)
    );
    assert!(
        whole.to_string().contains("3000-01-01T00:00:00.000001"),
        "{whole}"
    );

    let mut rows = 0;
    let mut failure = None;
    for batch in conn
        .query("select * from late order by id")
        .stream()
        .blocking()
        .unwrap()
    {
        match batch {
            Ok(batch) => rows += batch.num_rows(),
            Err(err) => failure = Some(err.to_string()),
        }
    }
    assert_eq!(rows, 20, "the batches before the value were handed out");
    let failure = failure.expect("the stream failed");
    assert!(
        failure.contains("column \"TS\"") && failure.contains("row 20"),
        "{failure}"
    );
}

/// Dropping a stream stops the chunk downloads; a statement still running when its
/// call gives up is aborted on the server.
#[test]
fn dropped_reads_stop_on_the_server() {
    let Some(setup) = Setup::start() else { return };
    let conn = sf(&setup, "client_prefetch_threads = 1");
    conn.execute(
        "create table many as select seq4() as id from table(generator(rowcount => 2000))",
    )
    .blocking()
    .unwrap();
    setup.control(r#"{"chunk_rows": 100, "chunk_delay_ms": 100}"#);
    let mut stream = conn
        .query("select id from many order by id")
        .prefetch(1)
        .stream()
        .blocking()
        .unwrap();
    let first = stream.next_blocking().unwrap().unwrap();
    assert_eq!(first.num_rows(), 100);
    drop(stream);
    std::thread::sleep(Duration::from_millis(800));
    let fetched = setup.records("chunks").len();
    assert!(
        fetched < 10,
        "{fetched} of 19 chunks downloaded after the stream was dropped"
    );

    setup.control(r#"{"hang": true}"#);
    let err = conn
        .query("select 'slow'")
        .timeout(Duration::from_millis(500))
        .blocking()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    let aborted = setup.wait_for("aborts", |a| a["matched"] == true);
    assert!(aborted, "{:?}", setup.records("aborts"));
}

/// With keep-alive on, heartbeats keep the session alive; a reset closes the session on
/// the server.
#[test]
fn heartbeats_and_close() {
    let Some(setup) = Setup::start() else { return };
    let conn = sf(
        &setup,
        "client_session_keep_alive = true\nclient_session_keep_alive_heartbeat_frequency = 1",
    );
    conn.query("select 1").blocking().unwrap();
    std::thread::sleep(Duration::from_millis(2600));
    let beats = setup.records("heartbeats").len();
    assert!((1..=4).contains(&beats), "{beats} heartbeats in 2.6 s");
    conn.reset();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        setup.records("deletes").len(),
        1,
        "the reset closed the session"
    );
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(
        setup.records("heartbeats").len(),
        beats,
        "no heartbeat after the close"
    );
}

/// A session whose token cannot be renewed fails its next statement (Stale) instead of
/// continuing, without its transaction, on a new login; nothing of it is committed.
#[test]
fn a_session_that_cannot_be_renewed_fails_instead_of_logging_in_again() {
    let Some(setup) = Setup::start() else { return };
    let conn = sf(&setup, "");
    conn.execute("create table t (x number(38,0))")
        .blocking()
        .unwrap();
    let mut session = conn.session().blocking().unwrap();
    session
        .execute("insert into t values (1)")
        .blocking()
        .unwrap();
    let logins = setup.records("logins").len();
    setup.peer.control("/conn-test/expire_sessions", "{}");
    setup.peer.control("/conn-test/expire_masters", "{}");
    let err = session
        .execute("insert into t values (2)")
        .blocking()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Stale, "{err}");
    assert!(err.to_string().contains("could not be renewed"), "{err}");
    assert_eq!(
        setup.records("logins").len(),
        logins,
        "no new login for the session"
    );
    drop(session);
    // The connection's own client may log in again; the table holds nothing.
    assert_eq!(count(&conn, "t"), Some(0));
}

/// An insert whose answer was lost after it ran, followed by refused connections, is
/// not run again under a new request id: it is applied once.
#[test]
fn a_write_is_not_sent_again_after_its_outcome_became_unknown() {
    use conn_testkit::faults::{Fault, FaultProxy, Refusal};
    let Some(setup) = Setup::start() else { return };
    let peer: std::net::SocketAddr = format!("127.0.0.1:{}", setup.peer.port()).parse().unwrap();
    let proxy = FaultProxy::start(peer).unwrap();
    let keys = setup.keys().replace(
        &format!("port = {}", setup.peer.port()),
        &format!("port = {}", proxy.addr().port()),
    );
    let secrets =
        format!("[connections.sf]\ntype = \"snowflake\"\n{keys}password = \"{PASSWORD}\"\n");
    let conn = common::factory(setup.dir.path(), &secrets, &[])
        .get::<SnowflakeConnection>("sf")
        .unwrap();
    conn.execute("create table once (x number(38,0))")
        .blocking()
        .unwrap();
    setup.control(r#"{"answer_delay_ms": 1500}"#);
    // The insert runs at once; its answer is cut off, then connections are refused
    // while the client sends it again and gives up.
    proxy.inject_in(Duration::from_millis(500), Fault::CutAll);
    proxy.inject_in(
        Duration::from_millis(500),
        Fault::Refuse(Duration::from_millis(3800), Refusal::Unbound),
    );
    let outcome = conn.execute("insert into once values (1)").blocking();
    if let Err(err) = &outcome {
        assert!(err.may_have_reached_server(), "{err}");
    }
    std::thread::sleep(Duration::from_millis(4500));
    proxy.heal();
    setup.control(r#"{"answer_delay_ms": 0}"#);
    assert_eq!(count(&conn, "once"), Some(1), "outcome {outcome:?}");
}

/// A write dropped half-way (its time limit) leaves no table behind and the target as
/// it was.
#[test]
fn a_dropped_write_leaves_nothing_behind() {
    let Some(setup) = Setup::start() else { return };
    let conn = sf(&setup, "write_chunk_rows = 5");
    conn.write_table("w", &wide(0..3, None), WriteMode::Create)
        .blocking()
        .unwrap();
    // Each statement's answer waits 100 ms: the writes cannot finish within their limit.
    setup.control(r#"{"answer_delay_ms": 100}"#);
    for (name, mode) in [("w", WriteMode::Replace), ("neu", WriteMode::Create)] {
        let err = conn
            .write_table(name, &wide(0..400, None), mode)
            .timeout(Duration::from_millis(1500))
            .blocking()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    }
    std::thread::sleep(Duration::from_millis(3000));
    setup.control(r#"{"answer_delay_ms": 0}"#);
    assert_eq!(count(&conn, "w"), Some(3));
    let missing = conn
        .query("select count(*) from neu")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");
    assert_no_staging_tables(&conn);
}

/// In a session, a statement the server refused changes nothing, so DDL may still run;
/// DDL run in a session commits at once and drops the connection's cached results.
#[test]
fn session_ddl_after_a_refused_statement_and_the_cache() {
    let Some(setup) = Setup::start() else { return };
    let conn = sf(&setup, "");
    conn.execute("create table gone_soon (x number(38,0))")
        .blocking()
        .unwrap();
    let cached = conn
        .query("select count(*) as n from gone_soon")
        .blocking()
        .unwrap();
    assert_eq!(int_column(&cached, "N"), vec![Some(0)]);
    let mut session = conn.session().blocking().unwrap();
    let err = session
        .execute("insert into no_such_table values (1)")
        .blocking()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    session.execute("drop table gone_soon").blocking().unwrap();
    session.commit().blocking().unwrap();
    let err = conn
        .query("select count(*) as n from gone_soon")
        .blocking()
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::NotFound,
        "the cached count was dropped: {err}"
    );
}
