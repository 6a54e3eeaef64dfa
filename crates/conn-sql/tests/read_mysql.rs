//! MySQL/MariaDB results read back exactly at every batch size: `DECIMAL` scales settle
//! over the whole result (sqlx does not report them), decimals beyond 38 digits are
//! `Decimal256`, and nothing is rounded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use arrow::datatypes::{
    DataType, Date32Type, Float32Type, Float64Type, Int64Type, Time64MicrosecondType, TimeUnit,
    TimestampMicrosecondType, UInt64Type,
};
use common::columns::{
    batches_for, binaries, bools, data_type, days, displayed, micros, strings, values,
};
use common::{MYSQL_VAR, MySqlScratch, Project};
use conn_core::{Table, Ttl, arrow};
use conn_sql::SqlConnection;

/// A scratch database and a project with connections to it: `default` (batch size
/// 65,536) and `b2` to `b7` (batch sizes 2 to 7).
fn scratch() -> Option<(MySqlScratch, Project)> {
    let base = conn_testkit::server_url(MYSQL_VAR, "MySQL/MariaDB")?;
    let scratch = MySqlScratch::new(&base);
    let url = scratch.url.clone();
    let mut secrets = format!("[connections.default]\ntype = \"sql\"\nurl = \"{url}\"\n");
    for size in 2..=7 {
        secrets.push_str(&format!(
            "[connections.b{size}]\ntype = \"sql\"\nurl = \"{url}\"\nbatch_size = {size}\n"
        ));
    }
    Some((scratch, Project::new(&secrets)))
}

fn read(conn: &SqlConnection, sql: &str) -> conn_core::Result<Table> {
    conn.query(sql).ttl(Ttl::ZERO).blocking()
}

fn small_batches(project: &Project) -> impl Iterator<Item = (usize, Arc<SqlConnection>)> + '_ {
    (2..=7).map(|size| (size, project.sql(&format!("b{size}"))))
}

const ROWS: usize = 17;

fn null_row(r: usize) -> bool {
    [0, 8, ROWS - 1].contains(&r)
}

fn pick<T: Clone>(r: usize, cycle: &[T]) -> Option<T> {
    (!null_row(r)).then(|| cycle[r % cycle.len()].clone())
}

const INTS: [i64; 5] = [i64::MIN, i64::MAX, 0, -1, 42];
const UNSIGNED: [u64; 2] = [u64::MAX, 0];
/// MySQL's DOUBLE has no infinities or NaN.
const DOUBLES: [f64; 5] = [0.1, 1e308, -2.2250738585072014e-308, -2.5, 0.0];
const FLOATS: [f32; 3] = [1.5, -3.25, 3.4e38];
const TEXTS: [&str; 4] = ["", "héllo ✓ 漢字 🎉", "plain", "it's"];
const BLOBS: [&[u8]; 3] = [b"", b"\x00\xff\x01", b"bytes"];
const DATES: [&str; 4] = ["0001-01-01", "9999-12-31", "1970-01-01", "2024-02-29"];
const STAMPS: [&str; 3] = [
    "0001-01-01 00:00:00",
    "9999-12-31 23:59:59.999999",
    "2024-02-29 13:14:15.5",
];
const TIMES: [(&str, i64); 2] = [("00:00:00", 0), ("23:59:59.999999", 86_399_999_999)];
/// DECIMAL(10, 2): NULL in the first rows (so early batches see no scale).
fn price(r: usize) -> Option<&'static str> {
    if r < 4 {
        None
    } else {
        pick(r, &["12345678.90", "-0.01", "0.00"])
    }
}
/// DECIMAL(65, 30): beyond 38 digits, beyond what rust_decimal holds.
const WIDE: [&str; 3] = [
    "12345678901234567890123456789012345.123456789012345678901234567890",
    "-0.000000000000000000000000000001",
    "1",
];
/// How WIDE reads back, at scale 30.
const WIDE_READ: [&str; 3] = [
    "12345678901234567890123456789012345.123456789012345678901234567890",
    "-0.000000000000000000000000000001",
    "1.000000000000000000000000000000",
];

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

fn literal<T>(value: Option<T>, show: impl Fn(T) -> String) -> String {
    value.map_or_else(|| "NULL".to_owned(), show)
}

fn fill(conn: &SqlConnection) {
    conn.execute(
        "CREATE TABLE t (id INT, i BIGINT, u BIGINT UNSIGNED, f DOUBLE, fl FLOAT, \
         t VARCHAR(100) CHARACTER SET utf8mb4, b VARBINARY(100), d DATE, dt DATETIME(6), \
         tm TIME(6), flag BOOLEAN, price DECIMAL(10, 2), wide DECIMAL(65, 30))",
    )
    .blocking()
    .unwrap();
    let rows: Vec<String> = (0..ROWS)
        .map(|r| {
            let values = [
                r.to_string(),
                literal(pick(r, &INTS), |i| i.to_string()),
                literal(pick(r, &UNSIGNED), |i| i.to_string()),
                literal(pick(r, &DOUBLES), |f| format!("{f:e}")),
                literal(pick(r, &FLOATS), |f| format!("{f:e}")),
                literal(pick(r, &TEXTS), quote),
                literal(pick(r, &BLOBS), |b| {
                    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
                    format!("x'{hex}'")
                }),
                literal(pick(r, &DATES), quote),
                literal(pick(r, &STAMPS), quote),
                literal(pick(r, &TIMES), |(t, _)| quote(t)),
                literal(pick(r, &[true, false]), |b| b.to_string()),
                literal(price(r), str::to_owned),
                literal(pick(r, &WIDE), str::to_owned),
            ];
            format!("({})", values.join(", "))
        })
        .collect();
    conn.execute(format!("INSERT INTO t VALUES {}", rows.join(", ")))
        .blocking()
        .unwrap();
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
            DataType::Int32,
            DataType::Int64,
            DataType::UInt64,
            DataType::Float64,
            DataType::Float32,
            DataType::Utf8,
            DataType::Binary,
            DataType::Date32,
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Time64(TimeUnit::Microsecond),
            DataType::Boolean,
            DataType::Decimal128(38, 2),
            DataType::Decimal256(76, 30),
        ],
        "batch size {batch_size}"
    );
    let ints: Vec<_> = rows.clone().map(|r| pick(r, &INTS)).collect();
    assert_eq!(values::<Int64Type>(table, "i"), ints);
    let unsigned: Vec<_> = rows.clone().map(|r| pick(r, &UNSIGNED)).collect();
    assert_eq!(values::<UInt64Type>(table, "u"), unsigned);
    let doubles: Vec<_> = rows.clone().map(|r| pick(r, &DOUBLES)).collect();
    assert_eq!(values::<Float64Type>(table, "f"), doubles);
    let floats: Vec<_> = rows.clone().map(|r| pick(r, &FLOATS)).collect();
    assert_eq!(values::<Float32Type>(table, "fl"), floats);
    let texts: Vec<_> = rows
        .clone()
        .map(|r| pick(r, &TEXTS).map(str::to_owned))
        .collect();
    assert_eq!(strings(table, "t"), texts);
    let blobs: Vec<_> = rows
        .clone()
        .map(|r| pick(r, &BLOBS).map(<[u8]>::to_vec))
        .collect();
    assert_eq!(binaries(table, "b"), blobs);
    let dates: Vec<_> = rows.clone().map(|r| pick(r, &DATES).map(days)).collect();
    assert_eq!(values::<Date32Type>(table, "d"), dates);
    let stamps: Vec<_> = rows.clone().map(|r| pick(r, &STAMPS).map(micros)).collect();
    assert_eq!(values::<TimestampMicrosecondType>(table, "dt"), stamps);
    let times: Vec<_> = rows
        .clone()
        .map(|r| pick(r, &TIMES).map(|(_, m)| m))
        .collect();
    assert_eq!(values::<Time64MicrosecondType>(table, "tm"), times);
    let flags: Vec<_> = rows.clone().map(|r| pick(r, &[true, false])).collect();
    assert_eq!(bools(table, "flag"), flags);
    let prices: Vec<_> = rows.clone().map(|r| price(r).map(str::to_owned)).collect();
    assert_eq!(displayed(table, "price"), prices);
    let wide: Vec<_> = rows
        .map(|r| pick(r, &WIDE_READ).map(str::to_owned))
        .collect();
    assert_eq!(displayed(table, "wide"), wide);
}

#[test]
fn every_value_reads_back_at_every_batch_size() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    fill(&project.sql("default"));
    let sql = "SELECT * FROM t ORDER BY id";
    check(&read(&project.sql("default"), sql).unwrap(), 65_536);
    for (size, conn) in small_batches(&project) {
        check(&read(&conn, sql).unwrap(), size);
        // A parameter changes nothing (MySQL reads every result as prepared rows).
        let bound = conn
            .query("SELECT * FROM t WHERE id >= ? ORDER BY id")
            .bind(0)
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap();
        check(&bound, size);
    }
}

#[test]
fn a_decimal_after_70000_nulls_keeps_its_scale() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("default");
    conn.execute("CREATE TABLE big (id INT, d DECIMAL(10, 2))")
        .blocking()
        .unwrap();
    conn.execute("INSERT INTO big SELECT seq, NULL FROM seq_1_to_70000")
        .blocking()
        .unwrap();
    conn.execute("INSERT INTO big VALUES (70001, 1.50), (70002, -0.25)")
        .blocking()
        .unwrap();
    let table = read(&conn, "SELECT d FROM big ORDER BY id").unwrap();
    assert_eq!(table.batches().len(), 2);
    assert_eq!(data_type(&table, "d"), DataType::Decimal128(38, 2));
    let d = displayed(&table, "d");
    assert!(d[..70_000].iter().all(Option::is_none));
    assert_eq!(d[70_000..], [Some("1.50".into()), Some("-0.25".into())]);
    // A computed decimal whose values' scales differ by batch.
    let table = read(
        &conn,
        "SELECT CASE WHEN id <= 70000 THEN CAST(id AS DECIMAL(10, 0)) ELSE 0.125 END AS n \
         FROM big ORDER BY id",
    )
    .unwrap();
    let n = displayed(&table, "n");
    assert_eq!(n[0].as_deref(), Some("1.000"));
    assert_eq!(n[70_000].as_deref(), Some("0.125"));
    for (size, conn) in small_batches(&project) {
        let table = read(&conn, "SELECT d FROM big WHERE id > 69995 ORDER BY id").unwrap();
        assert_eq!(data_type(&table, "d"), DataType::Decimal128(38, 2));
        assert_eq!(
            displayed(&table, "d")[5..],
            [Some("1.50".into()), Some("-0.25".into())],
            "batch size {size}"
        );
    }
}

#[test]
fn a_zero_date_is_an_error_not_a_null() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("b3");
    conn.execute(
        "CREATE TABLE z (id INT, d DATE); \
         SET SESSION sql_mode = ''; \
         INSERT INTO z VALUES (0, '2024-01-01'), (1, NULL), (2, '9999-12-31'), (3, '0001-01-01'), \
         (4, '0000-00-00'), (5, '2024-01-02')",
    )
    .blocking()
    .unwrap();
    let err = read(&conn, "SELECT d FROM z ORDER BY id").unwrap_err();
    assert_eq!(
        common::data_message(&err, &conn),
        "column \"d\": row 4 holds the zero date 0000-00-00, which is no date (conn does not \
         read it as NULL); use NULLIF(column, '0000-00-00') or CAST(column AS CHAR) in the query"
    );
    let table = read(
        &conn,
        "SELECT NULLIF(d, '0000-00-00') AS d FROM z WHERE id > 1 ORDER BY id",
    )
    .unwrap();
    assert_eq!(
        values::<Date32Type>(&table, "d"),
        vec![
            Some(days("9999-12-31")),
            Some(days("0001-01-01")),
            None,
            Some(days("2024-01-02"))
        ]
    );
    let stats = conn.stats();
    assert_eq!(
        (stats.retries, stats.resets),
        (0, 0),
        "the error left the connection usable"
    );
    conn.execute(
        "CREATE TABLE zt (id INT, t DATETIME); SET SESSION sql_mode = ''; \
         INSERT INTO zt VALUES (0, NULL), (1, '0000-00-00 00:00:00')",
    )
    .blocking()
    .unwrap();
    let err = read(&conn, "SELECT t FROM zt ORDER BY id").unwrap_err();
    assert!(
        common::data_message(&err, &conn)
            .starts_with("column \"t\": row 1 holds the zero date-time 0000-00-00 00:00:00"),
        "{err}"
    );
}

#[test]
fn a_time_that_is_no_time_of_day_is_an_error() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("b2");
    conn.execute(
        "CREATE TABLE tm (id INT, t TIME(6)); \
         INSERT INTO tm VALUES (0, '23:59:59.999999'), (1, NULL), (2, '00:00:00'), \
         (3, '-01:00:00'), (4, '838:59:59')",
    )
    .blocking()
    .unwrap();
    let err = read(&conn, "SELECT t FROM tm ORDER BY id").unwrap_err();
    assert!(
        common::data_message(&err, &conn)
            .starts_with("column \"t\": row 3 holds the TIME -1:00:00, which is not a time of day"),
        "{err}"
    );
    let err = read(&conn, "SELECT t FROM tm WHERE id <> 3 ORDER BY id").unwrap_err();
    assert!(
        common::data_message(&err, &conn)
            .starts_with("column \"t\": row 3 holds the TIME 838:59:59"),
        "{err}"
    );
    let table = read(&conn, "SELECT t FROM tm WHERE id < 3 ORDER BY id").unwrap();
    assert_eq!(
        values::<Time64MicrosecondType>(&table, "t"),
        vec![Some(86_399_999_999), None, Some(0)]
    );
}

#[test]
fn bits_partial_zero_dates_and_every_datetime_width_on_the_wire() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("b2");
    conn.execute(
        "CREATE TABLE w (id INT, one BIT(1), wide BIT(64), d DATE, t DATETIME(6), \
         s TIMESTAMP(6) NULL); \
         SET SESSION sql_mode = ''; \
         INSERT INTO w VALUES \
         (0, b'1', b'1111111111111111111111111111111111111111111111111111111111111111', \
             '2024-01-01', '2024-01-01 00:00:00', '2024-01-01 00:00:00'), \
         (1, b'0', b'0000000000000000000000000000000000000000000000000000000100000001', \
             NULL, '2024-01-01 10:11:12', '1970-01-01 00:00:01'), \
         (2, NULL, NULL, '2024-02-29', '2024-01-01 10:11:12.000001', NULL), \
         (3, b'1', b'10', '2024-00-15', NULL, NULL)",
    )
    .blocking()
    .unwrap();
    let table = read(&conn, "SELECT one, wide, t, s FROM w ORDER BY id").unwrap();
    assert_eq!(
        values::<UInt64Type>(&table, "one"),
        vec![Some(1), Some(0), None, Some(1)]
    );
    assert_eq!(
        values::<UInt64Type>(&table, "wide"),
        vec![Some(u64::MAX), Some(257), None, Some(2)]
    );
    // Lengths 4 (midnight), 7 (seconds) and 11 (microseconds) on the wire.
    assert_eq!(
        values::<TimestampMicrosecondType>(&table, "t"),
        vec![
            Some(micros("2024-01-01 00:00:00")),
            Some(micros("2024-01-01 10:11:12")),
            Some(micros("2024-01-01 10:11:12.000001")),
            None
        ]
    );
    assert_eq!(
        values::<TimestampMicrosecondType>(&table, "s"),
        vec![
            Some(micros("2024-01-01 00:00:00")),
            Some(1_000_000),
            None,
            None
        ]
    );
    let err = read(&conn, "SELECT d FROM w ORDER BY id").unwrap_err();
    assert_eq!(
        common::data_message(&err, &conn),
        "column \"d\": row 3 could not be decoded: error occurred while decoding column 0: \
         server returned invalid date: 2024/0/15"
    );
    let dates = read(&conn, "SELECT d FROM w WHERE id < 3 ORDER BY id").unwrap();
    assert_eq!(
        values::<Date32Type>(&dates, "d"),
        vec![Some(days("2024-01-01")), None, Some(days("2024-02-29"))]
    );
}
