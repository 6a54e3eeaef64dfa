//! Regression tests for the hostile review of issue 9 (conn-duckdb): each doc comment
//! says what went wrong before the fix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::memory;

use std::sync::Arc;

use conn_core::arrow::array::{
    ArrayRef, AsArray, Decimal128Array, Float64Array, RecordBatch, TimestampNanosecondArray,
};
use conn_core::arrow::datatypes::{Decimal128Type, Int32Type, Int64Type};
use conn_core::{ConnectionFactory, Env, Table, Ttl};
use conn_duckdb::{DuckDbConnection, WriteMode};

fn table(columns: Vec<(&str, ArrayRef)>) -> Table {
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    Table::new(batch.schema(), vec![batch]).unwrap()
}

/// `Create` maps `Timestamp(ns)` to DuckDB `TIMESTAMP` (microseconds), and duckdb-rs /
/// DuckDB's appender cast truncates the nanoseconds without a word (the SQL path
/// refuses nanoseconds; DuckDB has `TIMESTAMP_NS`).
#[test]
fn nanosecond_timestamps_are_not_truncated_silently() {
    let (_dir, conn) = memory();
    let written = table(vec![(
        "t",
        Arc::new(TimestampNanosecondArray::from(vec![1_000_000_001i64])) as ArrayRef,
    )]);
    let outcome = conn
        .write_table("ns", &written, WriteMode::Create)
        .blocking();
    if outcome.is_err() {
        return; // refused: fine
    }
    let read = conn
        .query("SELECT epoch_ns(t) AS n FROM ns")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    let n = read.column("n").unwrap();
    let n = n.as_primitive::<Int64Type>();
    assert_eq!(n.value(0), 1_000_000_001, "the nanosecond was dropped");
}

/// `Append` handed the Arrow batch to DuckDB's appender, which casts each column to the
/// table's type with DuckDB's ordinary casts: a Float64 2.5 into an INTEGER column and a
/// Decimal 1.2345 into a DECIMAL(10, 2) were rounded, not refused. Now a value that
/// does not survive the cast is refused, naming column and row (counted across
/// batches), and the table keeps what it had; values that fit are written.
#[test]
fn append_does_not_round_values_into_narrower_columns() {
    let (_dir, conn) = memory();
    conn.execute_batch(
        "CREATE TABLE n (i INTEGER, d DECIMAL(10, 2)); INSERT INTO n VALUES (7, 7.5)",
    )
    .blocking()
    .unwrap();
    let batch = |i: Vec<Option<f64>>, d: Vec<Option<i128>>| {
        RecordBatch::try_from_iter_with_nullable(vec![
            ("i", Arc::new(Float64Array::from(i)) as ArrayRef, true),
            (
                "d",
                Arc::new(
                    Decimal128Array::from(d)
                        .with_precision_and_scale(10, 4)
                        .unwrap(),
                ) as ArrayRef,
                true,
            ),
        ])
        .unwrap()
    };
    let first = batch(vec![Some(1.0), None], vec![Some(10_000), None]);
    let rounded_int = batch(vec![Some(3.0), Some(2.5)], vec![Some(0), Some(0)]);
    let written = Table::new(first.schema(), vec![first.clone(), rounded_int]).unwrap();
    let err = conn
        .write_table("n", &written, WriteMode::Append)
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(err.contains("column \"i\", row 3"), "{err}");
    assert!(err.contains("do not fit"), "{err}");

    let rounded_decimal = batch(vec![Some(1.0)], vec![Some(12_345)]);
    let written = Table::new(first.schema(), vec![rounded_decimal]).unwrap();
    let err = conn
        .write_table("n", &written, WriteMode::Append)
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(err.contains("column \"d\", row 0"), "{err}");

    let count = |conn: &DuckDbConnection| {
        let read = conn
            .query("SELECT count(*) AS c, sum(i)::BIGINT AS s FROM n")
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap();
        let c = read
            .column("c")
            .unwrap()
            .as_primitive::<Int64Type>()
            .value(0);
        let s = read
            .column("s")
            .unwrap()
            .as_primitive::<Int64Type>()
            .value(0);
        (c, s)
    };
    assert_eq!(count(&conn), (1, 7), "a refused write left rows behind");

    // Values that fit exactly are written, NULLs included.
    let written = Table::new(first.schema(), vec![first]).unwrap();
    conn.write_table("n", &written, WriteMode::Append)
        .blocking()
        .unwrap();
    let read = conn
        .query("SELECT i, d FROM n ORDER BY i NULLS LAST")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    let i = read.column("i").unwrap();
    let i = i.as_primitive::<Int32Type>();
    assert_eq!(i.iter().collect::<Vec<_>>(), vec![Some(1), Some(7), None]);
    let d = read.column("d").unwrap();
    let d = d.as_primitive::<Decimal128Type>();
    assert_eq!(
        d.iter().collect::<Vec<_>>(),
        vec![Some(100), Some(750), None]
    );
}

/// A secret written inside an `init` statement (`CREATE SECRET ... SECRET '...'`, the
/// documented way to give DuckDB S3 credentials) is not known to the redactor (the
/// `init` key is not secret-looking, and `SECRET '...'` is no `name=value` pair), and
/// DuckDB's parser errors quote the statement: a typo in it puts the secret in the
/// connect error.
#[test]
fn a_secret_inside_an_init_statement_never_shows_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".streamlit")).unwrap();
    std::fs::write(
        dir.path().join(".streamlit/secrets.toml"),
        "[connections.s3db]\ntype = \"duckdb\"\n\
         init = [\"CREATE SECRET s (TYPE s3, KEY_ID 'AKIAEXAMPLE', SECRET 'TopSecretValue123' REGION 'eu-west-1')\"]\n",
    )
    .unwrap();
    let factory = ConnectionFactory::builder()
        .env(Env::from_pairs([(
            "HOME",
            dir.path().join("home").display().to_string(),
        )]))
        .project_dir(dir.path())
        .build();
    let conn = factory.get::<DuckDbConnection>("s3db").unwrap();
    let err = conn.query("SELECT 1").blocking().unwrap_err();
    let shown = format!("{err} / {err:?}");
    assert!(!shown.contains("TopSecretValue123"), "{shown}");
}

/// `write_table` splits the name at its last dot into schema and table and hands the
/// "schema" to the appender: a table of an ATTACHed database (`other.t`, the setup the
/// docs show for `init`) cannot be written, and a quoted name with a dot is split too.
#[test]
fn write_table_reaches_a_table_of_an_attached_database() {
    use conn_core::arrow::array::Int64Array;
    let (_dir, conn) = memory();
    conn.execute_batch("ATTACH ':memory:' AS other; CREATE TABLE other.t (id BIGINT)")
        .blocking()
        .unwrap();
    let written = table(vec![(
        "id",
        Arc::new(Int64Array::from(vec![1i64])) as ArrayRef,
    )]);
    let outcome = conn
        .write_table("other.t", &written, WriteMode::Append)
        .blocking();
    assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
}
