//! REVIEW FINDINGS (hostile review of 282f2a7 / c01d8a9): `write::fitted` checks a
//! lossless cast only when both the Arrow type and the column's type are numbers or
//! times (`may_round`); any other pair is handed to DuckDB's appender, which casts
//! with DuckDB's own rules and rounds or re-types without a word. Each test appends to
//! an existing table and fails when a value reads back changed (a refusal passes).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use conn_core::arrow::array::{ArrayRef, AsArray, Int64Array, RecordBatch, StringArray};
use conn_core::arrow::datatypes::Int64Type;
use conn_core::{ConnectionFactory, Env, Table, Ttl};
use conn_duckdb::{DuckDbConnection, WriteMode};

fn memory() -> (tempfile::TempDir, Arc<DuckDbConnection>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".streamlit")).unwrap();
    std::fs::write(
        dir.path().join(".streamlit/secrets.toml"),
        "[connections.mem]\ntype = \"duckdb\"\n",
    )
    .unwrap();
    let factory = ConnectionFactory::builder()
        .env(Env::from_pairs([(
            "HOME",
            dir.path().join("home").display().to_string(),
        )]))
        .project_dir(dir.path())
        .build();
    let conn = factory.get::<DuckDbConnection>("mem").unwrap();
    (dir, conn)
}

fn table(column: &str, values: ArrayRef) -> Table {
    let batch = RecordBatch::try_from_iter(vec![(column, values)]).unwrap();
    Table::new(batch.schema(), vec![batch]).unwrap()
}

fn text(conn: &DuckDbConnection, sql: &str) -> Vec<String> {
    let read = conn.query(sql).ttl(Ttl::ZERO).blocking().unwrap();
    let column = read.column("s").unwrap();
    column
        .as_string::<i32>()
        .iter()
        .map(|s| s.unwrap_or("NULL").to_owned())
        .collect()
}

/// REVIEW FINDING (silent change): text "1.2345" appended to a DECIMAL(10,2) column
/// is stored as 1.23 (DuckDB's VARCHAR -> DECIMAL cast rounds); the same value as a
/// Float64 is refused.
#[test]
fn review_finding_text_appended_to_a_decimal_column_is_not_rounded_silently() {
    let (_dir, conn) = memory();
    conn.execute_batch("CREATE TABLE d (v DECIMAL(10, 2))")
        .blocking()
        .unwrap();
    let written = table("v", Arc::new(StringArray::from(vec!["1.2345"])) as ArrayRef);
    if conn
        .write_table("d", &written, WriteMode::Append)
        .blocking()
        .is_err()
    {
        return; // refused: fine
    }
    assert_eq!(
        text(&conn, "SELECT CAST(v AS VARCHAR) AS s FROM d"),
        vec!["1.2345".to_owned()],
        "appended without error, read back changed"
    );
}

/// REVIEW FINDING (silent change): integers appended to a BOOLEAN column: 2 and -7
/// are stored as true (Boolean is not "numeric" to `may_round`, so nothing is checked).
#[test]
fn review_finding_integers_appended_to_a_boolean_column_are_not_retyped_silently() {
    let (_dir, conn) = memory();
    conn.execute_batch("CREATE TABLE b (v BOOLEAN)")
        .blocking()
        .unwrap();
    let written = table(
        "v",
        Arc::new(Int64Array::from(vec![0, 1, 2, -7])) as ArrayRef,
    );
    if conn
        .write_table("b", &written, WriteMode::Append)
        .blocking()
        .is_err()
    {
        return; // refused: fine
    }
    let read = conn
        .query("SELECT CAST(v AS BIGINT) AS n FROM b")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    let n: Vec<i64> = read
        .column("n")
        .unwrap()
        .as_primitive::<Int64Type>()
        .iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(
        n,
        vec![0, 1, 2, -7],
        "appended without error, read back changed"
    );
}

/// REVIEW FINDING (silent change): text "2.5" appended to an INTEGER column.
#[test]
fn review_finding_text_appended_to_an_integer_column_is_not_rounded_silently() {
    let (_dir, conn) = memory();
    conn.execute_batch("CREATE TABLE i (v INTEGER)")
        .blocking()
        .unwrap();
    let written = table("v", Arc::new(StringArray::from(vec!["2.5"])) as ArrayRef);
    if conn
        .write_table("i", &written, WriteMode::Append)
        .blocking()
        .is_err()
    {
        return; // refused: fine
    }
    assert_eq!(
        text(&conn, "SELECT CAST(v AS VARCHAR) AS s FROM i"),
        vec!["2.5".to_owned()],
        "appended without error, read back changed"
    );
}

/// REVIEW FINDING (silent change): a text timestamp with nanoseconds appended to a
/// TIMESTAMP (microseconds) column.
#[test]
fn review_finding_text_timestamp_appended_to_a_timestamp_column_is_not_truncated() {
    let (_dir, conn) = memory();
    conn.execute_batch("CREATE TABLE ts (v TIMESTAMP)")
        .blocking()
        .unwrap();
    let written = table(
        "v",
        Arc::new(StringArray::from(vec!["2024-01-01 10:00:00.123456789"])) as ArrayRef,
    );
    if conn
        .write_table("ts", &written, WriteMode::Append)
        .blocking()
        .is_err()
    {
        return; // refused: fine
    }
    let read = conn
        .query("SELECT epoch_ns(v) AS n FROM ts")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    let n = read.column("n").unwrap();
    assert_eq!(
        n.as_primitive::<Int64Type>().value(0) % 1000,
        789,
        "appended without error, the nanoseconds were dropped"
    );
}
