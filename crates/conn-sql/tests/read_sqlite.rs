//! SQLite results read back exactly at every batch size: column types settle over the
//! whole result (never the first batch), and a value no type holds unchanged is an
//! error naming its column, row and kind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use arrow::datatypes::TimestampMicrosecondType;
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type, TimeUnit};
use common::Project;
use common::columns::{
    batches_for, binaries, bools, data_type, days, float_bits, micros, strings, values,
};
use conn_core::{Param, Table, arrow};
use conn_sql::SqlConnection;

/// A project with one SQLite file and connections to it: `default` (batch size 65,536)
/// and `b2` to `b7` (batch sizes 2 to 7).
fn project() -> Project {
    Project::with(|dir| {
        let url = format!("sqlite:///{}", dir.join("read.db").display());
        let mut secrets = format!("[connections.default]\ntype = \"sql\"\nurl = \"{url}\"\n");
        for size in 2..=7 {
            secrets.push_str(&format!(
                "[connections.b{size}]\ntype = \"sql\"\nurl = \"{url}\"\nbatch_size = {size}\n"
            ));
        }
        secrets
    })
}

/// The error of `outcome`, whose text must contain `text`.
fn error_containing<T: std::fmt::Debug>(
    outcome: conn_core::Result<T>,
    text: &str,
) -> conn_core::Error {
    let err = outcome.unwrap_err();
    assert!(err.to_string().contains(text), "{err}");
    err
}

fn read(conn: &SqlConnection, sql: &str) -> conn_core::Result<Table> {
    conn.query(sql).ttl(conn_core::Ttl::ZERO).blocking()
}

/// Every batch size from 2 to 7, with its connection.
fn small_batches(project: &Project) -> impl Iterator<Item = (usize, Arc<SqlConnection>)> + '_ {
    (2..=7).map(|size| (size, project.sql(&format!("b{size}"))))
}

const ROWS: usize = 17;

/// Rows whose every value (but the id) is NULL: the start, the middle and the end.
fn null_row(r: usize) -> bool {
    [0, 8, ROWS - 1].contains(&r)
}

fn pick<T: Clone>(r: usize, cycle: &[T]) -> Option<T> {
    (!null_row(r)).then(|| cycle[r % cycle.len()].clone())
}

const INTS: [i64; 5] = [i64::MIN, i64::MAX, 0, -1, 42];
const REALS: [f64; 6] = [f64::INFINITY, f64::NEG_INFINITY, 0.1, 1e308, 5e-324, -2.5];
const TEXTS: [&str; 4] = ["", "héllo ✓ 漢字 🎉", "plain", "it's"];
const BLOBS: [&[u8]; 3] = [b"", b"\x00\xff\x01", b"bytes"];
const DATES: [&str; 4] = ["0001-01-01", "9999-12-31", "1970-01-01", "2024-02-29"];
const STAMPS: [&str; 3] = [
    "0001-01-01 00:00:00",
    "9999-12-31 23:59:59.999999",
    "2024-02-29 13:14:15.5",
];

/// `n` (NUMERIC) holds integers in the first rows and reals later.
fn numeric(r: usize) -> Option<Param> {
    (!null_row(r)).then(|| {
        if r < 9 {
            Param::Int(i64::try_from(r).unwrap() * 1000)
        } else {
            Param::Float(r as f64 + 0.25)
        }
    })
}

/// `x` (no type) holds integers, then text.
fn untyped(r: usize) -> Option<Param> {
    (!null_row(r)).then(|| {
        if r < 12 {
            Param::Int(-(i64::try_from(r).unwrap()))
        } else {
            Param::Text(format!("t{r}"))
        }
    })
}

/// `y` (no type) holds text, then UTF-8 blobs.
fn text_then_blob(r: usize) -> Option<Param> {
    (!null_row(r)).then(|| {
        if r < 10 {
            Param::Text(format!("é{r}"))
        } else {
            Param::Bytes(format!("é{r}").into_bytes())
        }
    })
}

fn fill(conn: &SqlConnection) {
    conn.execute(
        "CREATE TABLE t (id INTEGER, i INTEGER, r REAL, s TEXT, b BLOB, d DATE, ts DATETIME, \
         flag BOOLEAN, n NUMERIC, x, y)",
    )
    .blocking()
    .unwrap();
    let mut session = conn.session().blocking().unwrap();
    for r in 0..ROWS {
        let row: Vec<Param> = vec![
            Param::Int(i64::try_from(r).unwrap()),
            pick(r, &INTS).into(),
            pick(r, &REALS).into(),
            pick(r, &TEXTS).into(),
            pick(r, &BLOBS).into(),
            pick(r, &DATES).into(),
            pick(r, &STAMPS).into(),
            pick(r, &[true, false]).into(),
            numeric(r).unwrap_or(Param::Null),
            untyped(r).unwrap_or(Param::Null),
            text_then_blob(r).unwrap_or(Param::Null),
        ];
        let mut statement =
            session.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        for value in row {
            statement = statement.bind(value);
        }
        statement.blocking().unwrap();
    }
    session.commit().blocking().unwrap();
}

fn check(table: &Table, batch_size: usize) {
    let rows = 0..ROWS;
    assert_eq!(table.num_rows(), ROWS);
    assert_eq!(table.batches().len(), batches_for(ROWS, batch_size));
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
            DataType::Int64,
            DataType::Float64,
            DataType::Utf8,
            DataType::Binary,
            DataType::Date32,
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Boolean,
            DataType::Float64,
            DataType::Utf8,
            DataType::Utf8,
        ],
        "batch size {batch_size}"
    );
    let ids: Vec<Option<i64>> = rows
        .clone()
        .map(|r| Some(i64::try_from(r).unwrap()))
        .collect();
    assert_eq!(values::<Int64Type>(table, "id"), ids);
    let ints: Vec<_> = rows.clone().map(|r| pick(r, &INTS)).collect();
    assert_eq!(values::<Int64Type>(table, "i"), ints);
    let reals: Vec<_> = rows.clone().map(|r| pick(r, &REALS)).collect();
    assert_eq!(
        float_bits(&values::<Float64Type>(table, "r")),
        float_bits(&reals)
    );
    let texts: Vec<_> = rows
        .clone()
        .map(|r| pick(r, &TEXTS).map(str::to_owned))
        .collect();
    assert_eq!(strings(table, "s"), texts);
    let blobs: Vec<_> = rows
        .clone()
        .map(|r| pick(r, &BLOBS).map(<[u8]>::to_vec))
        .collect();
    assert_eq!(binaries(table, "b"), blobs);
    let dates: Vec<_> = rows.clone().map(|r| pick(r, &DATES).map(days)).collect();
    assert_eq!(values::<Date32Type>(table, "d"), dates);
    let stamps: Vec<_> = rows.clone().map(|r| pick(r, &STAMPS).map(micros)).collect();
    assert_eq!(values::<TimestampMicrosecondType>(table, "ts"), stamps);
    let flags: Vec<_> = rows.clone().map(|r| pick(r, &[true, false])).collect();
    assert_eq!(bools(table, "flag"), flags);
    let numbers: Vec<Option<f64>> = rows
        .clone()
        .map(|r| {
            numeric(r).map(|p| match p {
                Param::Int(i) => i as f64,
                Param::Float(f) => f,
                other => panic!("{other:?}"),
            })
        })
        .collect();
    assert_eq!(values::<Float64Type>(table, "n"), numbers);
    let untyped: Vec<Option<String>> = rows
        .clone()
        .map(|r| {
            untyped(r).map(|p| match p {
                Param::Int(i) => i.to_string(),
                Param::Text(t) => t,
                other => panic!("{other:?}"),
            })
        })
        .collect();
    assert_eq!(strings(table, "x"), untyped);
    let mixed: Vec<Option<String>> = rows
        .map(|r| (!null_row(r)).then(|| format!("é{r}")))
        .collect();
    assert_eq!(strings(table, "y"), mixed);
}

#[test]
fn every_value_reads_back_at_every_batch_size() {
    let project = project();
    fill(&project.sql("default"));
    check(
        &read(&project.sql("default"), "SELECT * FROM t ORDER BY id").unwrap(),
        65_536,
    );
    for (size, conn) in small_batches(&project) {
        check(&read(&conn, "SELECT * FROM t ORDER BY id").unwrap(), size);
    }
}

/// `big(id, n NUMERIC)`: 70,000 integers (1 to 70,000), then `tail` from row 70,000 on.
fn seventy_thousand_then(conn: &SqlConnection, tail: &str) {
    conn.execute("DROP TABLE IF EXISTS big").blocking().unwrap();
    conn.execute("CREATE TABLE big (id INTEGER, n NUMERIC)")
        .blocking()
        .unwrap();
    conn.execute(
        "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < 70000) \
         INSERT INTO big SELECT x, x FROM g",
    )
    .blocking()
    .unwrap();
    conn.execute(format!("INSERT INTO big VALUES {tail}"))
        .blocking()
        .unwrap();
}

#[test]
fn seventy_thousand_integers_then_a_real_read_every_value() {
    let project = project();
    let conn = project.sql("default");
    seventy_thousand_then(
        &conn,
        "(70001, 4.5), (70002, NULL), (70003, -9007199254740992)",
    );
    let table = read(&conn, "SELECT n FROM big ORDER BY id").unwrap();
    assert_eq!(table.batches().len(), 2, "the 4.5 is in the second batch");
    assert_eq!(data_type(&table, "n"), DataType::Float64);
    let n = values::<Float64Type>(&table, "n");
    assert_eq!(n.len(), 70_003);
    assert!((0..70_000).all(|i| n[i] == Some((i + 1) as f64)));
    assert_eq!(
        n[70_000..],
        [Some(4.5), None, Some(-9_007_199_254_740_992.0)]
    );
}

#[test]
fn the_same_shape_at_small_batch_sizes() {
    let project = project();
    let conn = project.sql("default");
    conn.execute("CREATE TABLE small (id INTEGER, n NUMERIC)")
        .blocking()
        .unwrap();
    conn.execute(
        "INSERT INTO small VALUES (0, NULL), (1, 1), (2, 2), (3, NULL), (4, 4), (5, 5), \
         (6, 6), (7, 7), (8, 4.5), (9, NULL)",
    )
    .blocking()
    .unwrap();
    for (size, conn) in small_batches(&project) {
        let table = read(&conn, "SELECT n FROM small ORDER BY id").unwrap();
        assert_eq!(table.batches().len(), batches_for(10, size));
        assert_eq!(
            values::<Float64Type>(&table, "n"),
            vec![
                None,
                Some(1.0),
                Some(2.0),
                None,
                Some(4.0),
                Some(5.0),
                Some(6.0),
                Some(7.0),
                Some(4.5),
                None
            ],
            "batch size {size}"
        );
    }
}

#[test]
fn an_integer_no_float_holds_mixed_with_reals_is_an_error_naming_both_rows() {
    let project = project();
    let conn = project.sql("default");
    seventy_thousand_then(&conn, "(0, 9007199254740993), (70001, 4.5)");
    let err = read(&conn, "SELECT n FROM big ORDER BY id").unwrap_err();
    assert_eq!(
        common::data_message(&err, &conn),
        "column \"n\": row 70001 holds the REAL 4.5 but row 0 holds the INTEGER \
         9007199254740993: a REAL (Float64) column cannot hold that integer exactly (only \
         up to 2^53); cast the column in the query, to TEXT for example"
    );
    // The same at small batch sizes, the real first this time.
    conn.execute("CREATE TABLE few (id INTEGER, n NUMERIC)")
        .blocking()
        .unwrap();
    conn.execute(
        "INSERT INTO few VALUES (0, NULL), (1, 0.5), (2, 1), (3, 2), (4, 3), (5, 4), (6, 5), \
         (7, 6), (8, -9223372036854775807 - 1)",
    )
    .blocking()
    .unwrap();
    for (size, conn) in small_batches(&project) {
        let err = read(&conn, "SELECT n FROM few ORDER BY id").unwrap_err();
        assert!(
            common::data_message(&err, &conn).starts_with(
                "column \"n\": row 8 holds the INTEGER -9223372036854775808 but row 1 holds \
                 the REAL 0.5: a REAL (Float64) column cannot hold that integer exactly"
            ),
            "batch size {size}: {err}"
        );
    }
}

#[test]
fn numbers_mixed_with_text_become_text_in_shortest_round_trip_form() {
    let project = project();
    let conn = project.sql("default");
    seventy_thousand_then(&conn, "(70001, 'seventy'), (70002, 0.1), (70003, 1e300)");
    let table = read(&conn, "SELECT n FROM big ORDER BY id").unwrap();
    assert_eq!(data_type(&table, "n"), DataType::Utf8);
    let n = strings(&table, "n");
    assert_eq!(n[0].as_deref(), Some("1"));
    assert_eq!(n[69_999].as_deref(), Some("70000"));
    assert_eq!(n[70_000].as_deref(), Some("seventy"));
    assert_eq!(n[70_001].as_deref(), Some("0.1"));
    assert_eq!(n[70_002], Some(format!("1{}", "0".repeat(300))));
}

#[test]
fn blobs_mixed_with_text_are_text_only_when_utf8() {
    let project = project();
    let conn = project.sql("default");
    conn.execute("CREATE TABLE words (id INTEGER, w)")
        .blocking()
        .unwrap();
    conn.execute(
        "WITH RECURSIVE g(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM g WHERE x < 69999) \
         INSERT INTO words SELECT x, 'w' || x FROM g",
    )
    .blocking()
    .unwrap();
    conn.execute("INSERT INTO words VALUES (70000, CAST('blob é' AS BLOB))")
        .blocking()
        .unwrap();
    let table = read(&conn, "SELECT w FROM words ORDER BY id").unwrap();
    assert_eq!(data_type(&table, "w"), DataType::Utf8);
    assert_eq!(strings(&table, "w")[70_000].as_deref(), Some("blob é"));

    conn.execute("INSERT INTO words VALUES (70001, x'ff00')")
        .blocking()
        .unwrap();
    let err = read(&conn, "SELECT w FROM words ORDER BY id").unwrap_err();
    assert_eq!(
        common::data_message(&err, &conn),
        "column \"w\": row 70001 holds a BLOB that is not valid UTF-8 but row 0 holds TEXT: \
         a text column cannot hold those bytes unchanged; convert the column in the query, \
         for example with hex()"
    );
    for (size, conn) in small_batches(&project) {
        let err = read(
            &conn,
            "SELECT w FROM words WHERE id < 3 OR id > 69998 ORDER BY id",
        )
        .unwrap_err();
        assert!(
            common::data_message(&err, &conn).starts_with(
                "column \"w\": row 5 holds a BLOB that is not valid UTF-8 but row 0 holds TEXT"
            ),
            "batch size {size}: {err}"
        );
    }
}

#[test]
fn blobs_mixed_with_numbers_are_an_error() {
    let project = project();
    let conn = project.sql("default");
    seventy_thousand_then(&conn, "(70001, x'00')");
    let err = read(&conn, "SELECT n FROM big ORDER BY id").unwrap_err();
    assert_eq!(
        common::data_message(&err, &conn),
        "column \"n\": row 70000 holds a BLOB but row 0 holds an INTEGER: no Arrow type \
         holds both unchanged; convert the column in the query, for example with hex() or \
         CAST(... AS TEXT)"
    );
}

#[test]
fn null_batches_take_the_later_type_and_all_null_columns_their_declared_one() {
    let project = project();
    let conn = project.sql("default");
    seventy_thousand_then(&conn, "(70001, NULL)");
    let table = read(
        &conn,
        "SELECT CASE WHEN id > 70000 THEN 'late' END AS late, \
         CASE WHEN id > 70000 THEN x'01' END AS late_blob, \
         CASE WHEN id < 0 THEN 1 END AS never, \
         n AS declared FROM big ORDER BY id",
    )
    .unwrap();
    assert_eq!(table.batches().len(), 2);
    assert_eq!(data_type(&table, "late"), DataType::Utf8);
    assert_eq!(
        strings(&table, "late").last().unwrap().as_deref(),
        Some("late")
    );
    assert_eq!(data_type(&table, "late_blob"), DataType::Binary);
    assert_eq!(data_type(&table, "never"), DataType::Null);
    for (size, conn) in small_batches(&project) {
        let table = read(&conn, "SELECT n FROM big WHERE n IS NULL").unwrap();
        assert_eq!(table.num_rows(), 1);
        // Declared NUMERIC has no Arrow type of its own: an all-NULL result is Null.
        assert_eq!(data_type(&table, "n"), DataType::Null, "batch size {size}");
        let table = read(
            &conn,
            "SELECT CASE WHEN id > 69995 THEN id END AS late FROM big WHERE id > 69990 ORDER BY id",
        )
        .unwrap();
        assert_eq!(data_type(&table, "late"), DataType::Int64);
        let late = values::<Int64Type>(&table, "late");
        assert_eq!(late[..5], [None; 5], "batch size {size}");
        assert_eq!(
            late[5..],
            [
                Some(69_996),
                Some(69_997),
                Some(69_998),
                Some(69_999),
                Some(70_000),
                Some(70_001)
            ]
        );
    }
    conn.execute("CREATE TABLE declared (i INTEGER, t TEXT)")
        .blocking()
        .unwrap();
    conn.execute("INSERT INTO declared VALUES (NULL, NULL)")
        .blocking()
        .unwrap();
    let table = read(&conn, "SELECT * FROM declared").unwrap();
    assert_eq!(data_type(&table, "i"), DataType::Int64);
    assert_eq!(data_type(&table, "t"), DataType::Utf8);
}

#[test]
fn a_boolean_column_holding_something_else_is_an_error() {
    let project = project();
    let conn = project.sql("b3");
    conn.execute("CREATE TABLE flags (id INTEGER, f BOOLEAN)")
        .blocking()
        .unwrap();
    conn.execute("INSERT INTO flags VALUES (0, 1), (1, 0), (2, NULL), (3, 1), (4, 2)")
        .blocking()
        .unwrap();
    let err = read(&conn, "SELECT f FROM flags ORDER BY id").unwrap_err();
    assert_eq!(
        common::data_message(&err, &conn),
        "column \"f\": row 4 holds the INTEGER 2 in a BOOLEAN column, which holds 0 or 1; \
         cast the column in the query"
    );
    let rows = read(&conn, "SELECT f FROM flags WHERE id < 4 ORDER BY id").unwrap();
    assert_eq!(
        bools(&rows, "f"),
        vec![Some(true), Some(false), None, Some(true)]
    );
    let stats = conn.stats();
    assert_eq!(
        (stats.retries, stats.resets),
        (0, 0),
        "the error left the connection usable"
    );
}

/// The rows of `sql` read inside a session (sqlx's row API) and outside one (SQLite's
/// statement API on a pooled connection).
fn read_both_ways(conn: &SqlConnection, sql: &str) -> (Table, Table) {
    let pooled = read(conn, sql).unwrap();
    let mut session = conn.session().blocking().unwrap();
    let in_session = session.query(sql).blocking().unwrap();
    session.rollback().blocking().unwrap();
    (pooled, in_session)
}

#[test]
fn a_session_reads_every_value_as_a_pooled_read_does() {
    let project = project();
    fill(&project.sql("default"));
    for (size, conn) in small_batches(&project) {
        let (pooled, in_session) = read_both_ways(&conn, "SELECT * FROM t ORDER BY id");
        check(&pooled, size);
        common::assert_same_table(&pooled, &in_session);
    }
}

#[test]
fn dates_and_times_in_every_form_sqlite_and_sqlx_write() {
    let project = project();
    let conn = project.sql("b2");
    conn.execute("CREATE TABLE at (id INTEGER, ts DATETIME, d DATE, t TIME)")
        .blocking()
        .unwrap();
    conn.execute(
        "INSERT INTO at VALUES \
         (0, '2024-01-01 10:00:00', '2024-01-01', '10:00:00'), \
         (1, '2024-01-01T10:00:00.5', '2024-1-2', '10:30'), \
         (2, '2024-01-01 12:00:00+02:00', NULL, '23:59:59.999999'), \
         (3, '2024-01-01T10:00:00Z', '0001-01-01', NULL), \
         (4, 1704103200, '9999-12-31', '00:00:00.000001'), \
         (5, 2460311.25, NULL, '10:00'), \
         (6, NULL, '1970-01-01', '10:00:00')",
    )
    .blocking()
    .unwrap();
    let ten = micros("2024-01-01 10:00:00");
    let expected_ts = vec![
        Some(ten),
        Some(ten + 500_000),
        Some(ten),
        Some(ten),
        Some(ten),
        // Julian day 2460311.25 is 2024-01-01 18:00:00 UTC (a REAL with a fraction:
        // DATETIME's NUMERIC affinity stores a whole one as an INTEGER).
        Some(micros("2024-01-01 18:00:00")),
        None,
    ];
    let expected_d = vec![
        Some(days("2024-01-01")),
        Some(days("2024-01-02")),
        None,
        Some(days("0001-01-01")),
        Some(days("9999-12-31")),
        None,
        Some(0),
    ];
    let hour = 3_600_000_000_i64;
    let expected_t = vec![
        Some(10 * hour),
        Some(10 * hour + 30 * 60_000_000),
        Some(24 * hour - 1),
        None,
        Some(1),
        Some(10 * hour),
        Some(10 * hour),
    ];
    let (pooled, in_session) = read_both_ways(&conn, "SELECT ts, d, t FROM at ORDER BY id");
    for table in [&pooled, &in_session] {
        assert_eq!(values::<TimestampMicrosecondType>(table, "ts"), expected_ts);
        assert_eq!(values::<Date32Type>(table, "d"), expected_d);
        assert_eq!(
            values::<arrow::datatypes::Time64MicrosecondType>(table, "t"),
            expected_t
        );
    }
}

#[test]
fn a_value_a_typed_column_cannot_hold_unchanged_is_an_error_naming_it() {
    let project = project();
    let conn = project.sql("b2");
    conn.execute("CREATE TABLE odd (id INTEGER, ts DATETIME, d DATE, s TEXT)")
        .blocking()
        .unwrap();
    conn.execute(
        "INSERT INTO odd VALUES (0, '2024-01-01 00:00:00', '2024-01-01', 'a'), \
         (1, '2024-01-01 00:00:00.1234567', 7, CAST(x'ff00' AS TEXT)), \
         (2, 'soon', x'00', 'c')",
    )
    .blocking()
    .unwrap();
    let cases = [
        (
            "SELECT ts FROM odd ORDER BY id",
            "column \"ts\": row 1 holds the TEXT \"2024-01-01 00:00:00.1234567\", whose \
             fraction of a second is finer than the microseconds an Arrow column holds; cast \
             the column to TEXT in the query",
        ),
        (
            "SELECT ts FROM odd WHERE id <> 1 ORDER BY id",
            "column \"ts\": row 1 holds the TEXT \"soon\", which is not a date and time \
             (YYYY-MM-DD HH:MM:SS.ffffff, optionally with an offset)",
        ),
        (
            "SELECT d FROM odd ORDER BY id",
            "column \"d\": row 1 holds an INTEGER in a DATE column; cast the column in the \
             query",
        ),
        (
            "SELECT d FROM odd WHERE id <> 1 ORDER BY id",
            "column \"d\": row 1 holds a BLOB in a DATE column; cast the column in the query",
        ),
        (
            "SELECT s FROM odd ORDER BY id",
            "column \"s\": row 1 holds TEXT that is not valid UTF-8; cast the column to BLOB \
             in the query",
        ),
    ];
    for (sql, expected) in cases {
        let err = read(&conn, sql).unwrap_err();
        assert_eq!(common::data_message(&err, &conn), expected, "{sql}");
        let mut session = conn.session().blocking().unwrap();
        let err = session.query(sql).blocking().unwrap_err().to_string();
        assert!(err.ends_with(expected), "{sql} in a session: {err}");
    }
    // The errors left the connection usable.
    let ok = read(&conn, "SELECT hex(s) AS h FROM odd ORDER BY id").unwrap();
    assert_eq!(
        strings(&ok, "h"),
        vec![Some("61".into()), Some("FF00".into()), Some("63".into())]
    );
}

#[test]
fn statement_errors_name_what_is_wrong() {
    let project = project();
    let conn = project.sql("default");
    error_containing(
        read(&conn, "SELECT 1; SELECT 2"),
        "the query holds more than one statement that returns rows",
    );
    let err = error_containing(
        read(&conn, "SELECT * FROM nope"),
        "error returned from database: (code: 1) no such table: nope",
    );
    assert_eq!(err.kind(), conn_core::ErrorKind::NotFound);
    assert_eq!(err.code(), Some("1"));
    error_containing(
        conn.query("SELECT ? + ?")
            .bind(1)
            .ttl(conn_core::Ttl::ZERO)
            .blocking(),
        "the statement uses parameter 2 but 1 value(s) were given",
    );
    // In a session and in execute() alike (sqlx alone binds NULL to the rest).
    conn.execute("CREATE TABLE two (a INTEGER, b INTEGER)")
        .blocking()
        .unwrap();
    error_containing(
        conn.execute("INSERT INTO two VALUES (?, ?)")
            .bind(1)
            .blocking(),
        "the statement has 2 parameter(s) but 1 value(s) were given",
    );
    let mut session = conn.session().blocking().unwrap();
    error_containing(
        session.query("SELECT ? + ?").bind(1).blocking(),
        "the statement has 2 parameter(s) but 1 value(s) were given",
    );
    drop(session);
    error_containing(
        conn.execute("INSERT INTO two VALUES (?, ?)").blocking(),
        "the statement has 2 parameter(s) but 0 value(s) were given",
    );
    // A script's values are checked from its text before it runs (sqlx alone binds
    // NULL to a parameter without a value): nothing is inserted.
    error_containing(
        conn.execute("INSERT INTO two VALUES (?, 1); INSERT INTO two VALUES (?, 2)")
            .bind(1)
            .blocking(),
        "the script uses parameter 2 but 1 value(s) were given",
    );
    error_containing(
        conn.execute("INSERT INTO two VALUES (?, 1); INSERT INTO two VALUES (?, 2)")
            .bind(1)
            .bind(2)
            .bind(3)
            .blocking(),
        "3 value(s) were given but no parameter of the script takes value 3",
    );
    // Without values (sqlx would run it and bind NULL).
    error_containing(
        conn.execute("INSERT INTO two VALUES (1, 1); INSERT INTO two VALUES (?, 2)")
            .blocking(),
        "the script uses parameter 1 but 0 value(s) were given",
    );
    // A numbered parameter: sqlx's numbering over a script depends on the slots SQLite
    // gives each statement (`INSERT ... (?, ?); INSERT ... (?2)` with two values bound
    // NULL to the last one).
    error_containing(
        conn.execute("INSERT INTO two VALUES (?, ?); INSERT INTO two VALUES (?2, 2)")
            .bind(1)
            .bind(2)
            .blocking(),
        "the script's parameter ?2 cannot be bound",
    );
    error_containing(
        conn.execute("INSERT INTO two VALUES (1, 1); INSERT INTO two VALUES (#a, 2)")
            .blocking(),
        "the script's parameter #a cannot be bound",
    );
    // One statement mixing ? with ?NNN (sqlx would bind value 1 to both).
    error_containing(
        conn.execute("INSERT INTO two VALUES (?1, ?)")
            .bind(1)
            .bind(2)
            .blocking(),
        "the statement mixes ? with ?1",
    );
    // A script still runs statement by statement (the INSERT needs the table the
    // CREATE makes).
    conn.execute("CREATE TABLE three (a INTEGER); INSERT INTO three VALUES (?)")
        .bind(3)
        .blocking()
        .unwrap();
    let rows = read(&conn, "SELECT count(*) AS n FROM two").unwrap();
    assert_eq!(
        values::<Int64Type>(&rows, "n"),
        vec![Some(0)],
        "nothing was inserted"
    );
    // A trailing semicolon and comment are one statement.
    let one = read(&conn, "SELECT 1 AS one; -- done").unwrap();
    assert_eq!(values::<Int64Type>(&one, "one"), vec![Some(1)]);
}

#[test]
fn parameters_bind_as_sqlx_binds_them_and_scripts_run_in_order() {
    let project = project();
    let conn = project.sql("default");
    let both = |sql: &str| {
        let pooled = conn
            .query(sql)
            .bind(10)
            .bind(20)
            .ttl(conn_core::Ttl::ZERO)
            .blocking()
            .unwrap();
        let mut session = conn.session().blocking().unwrap();
        let in_session = session.query(sql).bind(10).bind(20).blocking().unwrap();
        common::assert_same_table(&pooled, &in_session);
        (
            values::<Int64Type>(&pooled, "a"),
            values::<Int64Type>(&pooled, "b"),
        )
    };
    // `$N` and `?N` by number, `?` in order.
    assert_eq!(
        both("SELECT $2 AS a, $1 AS b"),
        (vec![Some(20)], vec![Some(10)])
    );
    assert_eq!(
        both("SELECT ?2 AS a, ?1 AS b"),
        (vec![Some(20)], vec![Some(10)])
    );
    assert_eq!(
        both("SELECT ? AS a, ? AS b"),
        (vec![Some(10)], vec![Some(20)])
    );
    error_containing(
        conn.query("SELECT @x AS a")
            .bind(1)
            .ttl(conn_core::Ttl::ZERO)
            .blocking(),
        "the parameter @x cannot be bound",
    );

    // Statements without rows run in order around the one with rows.
    let table = read(
        &conn,
        "CREATE TABLE tmp AS SELECT 7 AS v; SELECT v FROM tmp; DROP TABLE tmp",
    )
    .unwrap();
    assert_eq!(values::<Int64Type>(&table, "v"), vec![Some(7)]);
    error_containing(read(&conn, "SELECT v FROM tmp"), "no such table: tmp");
    // A value no parameter takes is an error before the statement runs.
    conn.execute("CREATE TABLE kept (v INTEGER)")
        .blocking()
        .unwrap();
    error_containing(
        conn.query("INSERT INTO kept VALUES (?) RETURNING v")
            .bind(1)
            .bind(2)
            .ttl(conn_core::Ttl::ZERO)
            .blocking(),
        "2 value(s) were given but no parameter of the query takes value 2",
    );
    // A transaction the query leaves open is rolled back, not left on the pooled
    // connection.
    error_containing(
        read(&conn, "BEGIN"),
        "the query left a transaction open, which was rolled back",
    );
    // A script runs under a savepoint: a failure undoes its earlier statements.
    error_containing(
        read(&conn, "INSERT INTO kept VALUES (4); SELECT * FROM missing"),
        "no such table: missing",
    );
    error_containing(
        read(
            &conn,
            "BEGIN; INSERT INTO kept VALUES (5); SELECT v FROM kept",
        ),
        "cannot start a transaction within a transaction",
    );
    error_containing(
        conn.query("INSERT INTO kept VALUES (6); SELECT ? AS v")
            .bind(1)
            .bind(2)
            .ttl(conn_core::Ttl::ZERO)
            .blocking(),
        "takes value 2",
    );
    let kept = read(&conn, "SELECT count(*) AS n FROM kept").unwrap();
    assert_eq!(
        values::<Int64Type>(&kept, "n"),
        vec![Some(0)],
        "nothing was inserted"
    );
    // Another writer is not blocked by a transaction left behind.
    let mut session = conn.session().blocking().unwrap();
    session
        .execute("INSERT INTO kept VALUES (7)")
        .blocking()
        .unwrap();
    session.commit().blocking().unwrap();
    // Two statements with rows: an error in a session as outside one, never one table
    // of both statements' rows.
    // Whatever conn's own count of the statements says (SQLite's `[...]` identifiers and
    // unnested comments split these in two).
    for sql in [
        "SELECT 1 AS a; SELECT 2 AS a",
        "SELECT 1 AS a; SELECT 'x' AS b, 2 AS c",
        "SELECT 1 AS [a'b]; SELECT 2 AS a; --'",
        "SELECT 1 AS a; /* /* */ SELECT 2 AS a",
    ] {
        let expected = "the query holds more than one statement that returns rows";
        error_containing(read(&conn, sql), expected);
        let mut session = conn.session().blocking().unwrap();
        error_containing(session.query(sql).blocking(), expected);
        // The session goes on.
        let after = session.query("SELECT 3 AS a").blocking().unwrap();
        assert_eq!(values::<Int64Type>(&after, "a"), vec![Some(3)], "{sql}");
    }
    // A script's parameters are checked in a session as outside one.
    let mut session = conn.session().blocking().unwrap();
    error_containing(
        session
            .query("CREATE TEMP TABLE s AS SELECT 1 AS v; SELECT ? AS a, ? AS b")
            .bind(1)
            .blocking(),
        "uses parameter 2 but 1 value(s) were given",
    );
    // Checked before any of it ran.
    error_containing(
        session.query("SELECT * FROM s").blocking(),
        "no such table: s",
    );
    error_containing(
        session.query("SELECT ? AS a").bind(1).bind(2).blocking(),
        "2 value(s) were given but no parameter of the query takes value 2",
    );
    drop(session);
    // Nothing to run: an empty result.
    let empty = read(&conn, "-- nothing").unwrap();
    assert_eq!((empty.num_rows(), empty.schema().fields().len()), (0, 0));
}
