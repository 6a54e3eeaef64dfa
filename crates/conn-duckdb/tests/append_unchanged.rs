//! Appending to an existing table never changes a value: DuckDB's appender casts each
//! Arrow column to its column's type with its own rules (rounding, re-typing, cutting
//! nanoseconds), so conn refuses a value that would come back different, naming the
//! column, the row and both types, and accepts text that means the same value.
//! (Found by a hostile review: before, only pairs of numbers and times were checked.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::memory;

use std::sync::Arc;

use conn_core::arrow::array::{ArrayRef, AsArray, Int64Array, RecordBatch, StringArray};
use conn_core::{Table, Ttl};
use conn_duckdb::WriteMode;

fn table(values: ArrayRef) -> Table {
    let batch = RecordBatch::try_from_iter(vec![("v", values)]).unwrap();
    Table::new(batch.schema(), vec![batch]).unwrap()
}

fn text(values: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

/// Appends `values` to a new table whose one column `v` has `column_type`; on success
/// returns the column read back as text.
fn append(column_type: &str, values: ArrayRef) -> Result<Vec<String>, String> {
    let (_dir, conn) = memory();
    conn.execute_batch(format!("CREATE TABLE t (v {column_type})"))
        .blocking()
        .unwrap();
    conn.write_table("t", &table(values), WriteMode::Append)
        .blocking()
        .map_err(|e| e.to_string())?;
    let read = conn
        .query("SELECT CAST(v AS VARCHAR) AS s FROM t ORDER BY rowid")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    Ok(read
        .column("s")
        .unwrap()
        .as_string::<i32>()
        .iter()
        .map(|s| s.unwrap_or("NULL").to_owned())
        .collect())
}

fn refused(column_type: &str, values: ArrayRef, row: usize, given: &str) {
    let err = append(column_type, values).expect_err("a value would change: must be refused");
    assert!(
        err.contains(&format!(
            "column \"v\", row {row}: Arrow {given} values do not fit the column's DuckDB type"
        )),
        "{err}"
    );
    assert!(err.contains("cast the data first"), "{err}");
}

#[test]
fn text_that_a_decimal_column_would_round_is_refused() {
    refused("DECIMAL(10, 2)", text(&["1.25", "1.2345"]), 1, "Utf8");
}

#[test]
fn text_that_an_integer_column_would_round_is_refused() {
    refused("INTEGER", text(&["7", "2.5"]), 1, "Utf8");
}

#[test]
fn integers_a_boolean_column_would_retype_are_refused() {
    refused(
        "BOOLEAN",
        Arc::new(Int64Array::from(vec![0, 1, 2, -7])),
        2,
        "Int64",
    );
}

#[test]
fn text_timestamps_with_nanoseconds_are_refused_by_a_microsecond_column() {
    refused(
        "TIMESTAMP",
        text(&[
            "2024-01-01 10:00:00.123456",
            "2024-01-01 10:00:00.123456789",
        ]),
        1,
        "Utf8",
    );
}

#[test]
fn text_that_means_the_same_value_is_appended() {
    assert_eq!(
        append("DECIMAL(10, 2)", text(&["1.5", "-0.25", "007"])).unwrap(),
        ["1.50", "-0.25", "7.00"]
    );
    assert_eq!(
        append("INTEGER", text(&["007", "-3"])).unwrap(),
        ["7", "-3"]
    );
    assert_eq!(
        append("BOOLEAN", text(&["true", "false"])).unwrap(),
        ["true", "false"]
    );
    assert_eq!(
        append("TIMESTAMP", text(&["2024-01-01 10:00:00.5"])).unwrap(),
        ["2024-01-01 10:00:00.5"]
    );
    assert_eq!(
        append(
            "BOOLEAN",
            Arc::new(Int64Array::from(vec![Some(1), None, Some(0)]))
        )
        .unwrap(),
        ["true", "NULL", "false"]
    );
}
