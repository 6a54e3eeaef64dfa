//! Regression tests for the hostile review of issue 9 (conn-files): each doc comment
//! says what went wrong before the fix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use conn_core::arrow::datatypes::DataType;
use conn_core::arrow::util::display::array_value_to_string;
use conn_core::{ConnectionFactory, Env, Ttl};
use conn_files::FilesConnection;

fn memory(dir: &Path) -> Arc<FilesConnection> {
    std::fs::create_dir_all(dir.join(".streamlit")).unwrap();
    std::fs::write(
        dir.join(".streamlit/secrets.toml"),
        "[connections.memory]\ntype = \"files\"\n",
    )
    .unwrap();
    let factory = ConnectionFactory::builder()
        .env(Env::from_pairs([(
            "HOME".to_owned(),
            dir.join("home").display().to_string(),
        )]))
        .project_dir(dir)
        .build();
    factory.get::<FilesConnection>("memory").unwrap()
}

fn put(conn: &FilesConnection, path: &str, bytes: &[u8]) {
    let mut w = conn.create_blocking(path).unwrap();
    w.write_all(bytes).unwrap();
    w.finish().unwrap();
}

/// A CSV column of dates for the first `infer_rows` records is inferred Date32;
/// arrow-cast's date parser accepts a later date-time and keeps only its date (and a
/// zoned one is even moved to its UTC date). The decoder reports no error, so conn
/// never re-infers: the time of day is dropped silently.
#[test]
fn a_late_date_time_in_a_date_column_keeps_its_time() {
    let dir = tempfile::tempdir().unwrap();
    let conn = memory(dir.path());
    let mut csv = String::from("d\n");
    for _ in 0..1500 {
        csv.push_str("2024-01-01\n");
    }
    csv.push_str("2024-01-02 10:30:00\n");
    put(&conn, "dates.csv", csv.as_bytes());
    let table = conn.read("dates.csv").ttl(Ttl::ZERO).blocking().unwrap();
    let kind = table.schema().field(0).data_type().clone();
    assert_ne!(
        kind,
        DataType::Date32,
        "the last value, 2024-01-02 10:30:00, was read as the date {}",
        array_value_to_string(
            table.batches().last().unwrap().column(0),
            table.batches().last().unwrap().num_rows() - 1
        )
        .unwrap()
    );
}

/// A CSV column of whole-second timestamps is inferred Timestamp(Second); a later
/// value with a fraction is parsed and truncated to the second without an error.
#[test]
fn a_late_fractional_second_is_not_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let conn = memory(dir.path());
    let mut csv = String::from("t\n");
    for _ in 0..1500 {
        csv.push_str("2024-01-01 10:00:00\n");
    }
    csv.push_str("2024-01-01 10:00:00.750\n");
    put(&conn, "times.csv", csv.as_bytes());
    let table = conn.read("times.csv").ttl(Ttl::ZERO).blocking().unwrap();
    let last = table.batches().last().unwrap();
    let shown = array_value_to_string(last.column(0), last.num_rows() - 1).unwrap();
    assert!(
        shown.contains(".75"),
        "read as {shown} ({})",
        table.schema().field(0).data_type()
    );
}

/// `read` takes `.tsv` as tab-separated CSV, but `write` ignores the name and writes
/// commas: a table written to `x.tsv` reads back as one column named "a,b" holding
/// "1,2", without an error.
#[test]
fn a_table_written_to_a_tsv_reads_back_with_its_columns() {
    use conn_core::arrow::array::{ArrayRef, Int64Array, RecordBatch};
    let dir = tempfile::tempdir().unwrap();
    let conn = memory(dir.path());
    let batch = RecordBatch::try_from_iter([
        ("a", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
        ("b", Arc::new(Int64Array::from(vec![2])) as ArrayRef),
    ])
    .unwrap();
    let table = conn_core::Table::new(batch.schema(), vec![batch]).unwrap();
    conn.write("x.tsv", &table, conn_files::Format::Csv)
        .blocking()
        .unwrap();
    let read = conn.read("x.tsv").ttl(Ttl::ZERO).blocking().unwrap();
    assert_eq!(read.column_names(), vec!["a", "b"], "{read}");
}

/// CSV written by `write` puts an empty string and a NULL both as an empty field, and
/// `read` takes an empty field as NULL, as pandas does; the review found it
/// undocumented. docs/files.md now says so, and this test holds the documented rule
/// (and that Parquet keeps the difference).
#[test]
fn an_empty_string_written_to_csv_reads_back_as_null_as_documented() {
    use conn_core::arrow::array::{ArrayRef, AsArray, RecordBatch, StringArray};
    let dir = tempfile::tempdir().unwrap();
    let conn = memory(dir.path());
    let batch = RecordBatch::try_from_iter([(
        "s",
        Arc::new(StringArray::from(vec![Some(""), None, Some("x")])) as ArrayRef,
    )])
    .unwrap();
    let table = conn_core::Table::new(batch.schema(), vec![batch]).unwrap();
    conn.write("e.csv", &table, conn_files::Format::Csv)
        .blocking()
        .unwrap();
    let read = conn.read("e.csv").ttl(Ttl::ZERO).blocking().unwrap();
    let values: Vec<Option<String>> = read
        .batches()
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(values, vec![None, None, Some("x".into())]);
    let docs = include_str!("../../../docs/files.md");
    assert!(docs.contains("CSV has no NULL"), "the rule is documented");

    conn.write("e.parquet", &table, conn_files::Format::Parquet)
        .blocking()
        .unwrap();
    let read = conn.read("e.parquet").ttl(Ttl::ZERO).blocking().unwrap();
    let values: Vec<Option<String>> = read.batches()[0]
        .column(0)
        .as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect();
    assert_eq!(values, vec![Some(String::new()), None, Some("x".into())]);
}

/// An integer past 2^53 after floats, in CSV, would be rounded by Float64: refused,
/// naming column and row, after the re-read from every record.
#[test]
fn a_late_integer_a_float_column_would_round_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let conn = memory(dir.path());
    let mut csv = String::from("f\n");
    for _ in 0..1500 {
        csv.push_str("1.5\n");
    }
    csv.push_str("9007199254740993\n");
    put(&conn, "floats.csv", csv.as_bytes());
    let err = conn
        .read("floats.csv")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("column \"f\" is Float64, but row 1500 holds the integer 9007199254740993"),
        "{err}"
    );
}

/// arrow-csv infers a naive timestamp for date-times with a UTC offset and converts
/// each to UTC, while one without an offset is kept as written: a column holding both
/// mixed instants with wall-clock times silently. A column whose values carry offsets
/// is now in UTC; one mixing both is an error naming a row of each, in read() and in
/// stream().
#[test]
fn date_times_with_offsets_are_instants_and_never_mixed_with_wall_clock_times() {
    use conn_core::arrow::array::AsArray;
    use conn_core::arrow::datatypes::{TimeUnit, TimestampSecondType};

    let dir = tempfile::tempdir().unwrap();
    let conn = memory(dir.path());
    let mut zoned = String::from("t\n");
    for i in 0..3000 {
        zoned.push_str(&format!("1970-01-01T02:00:{:02}+02:00\n", i % 60));
    }
    put(&conn, "zoned.csv", zoned.as_bytes());
    let table = conn.read("zoned.csv").ttl(Ttl::ZERO).blocking().unwrap();
    assert_eq!(
        table.schema().field(0).data_type(),
        &DataType::Timestamp(TimeUnit::Second, Some("UTC".into()))
    );
    let first = table.batches()[0]
        .column(0)
        .as_primitive::<TimestampSecondType>()
        .value(1);
    assert_eq!(
        first, 1,
        "1970-01-01T02:00:01+02:00 is one second after the epoch"
    );

    // 1,500 wall-clock times (more than infer_rows), then one instant.
    let mut mixed = String::from("t\n");
    for _ in 0..1500 {
        mixed.push_str("2024-01-01 10:00:00\n");
    }
    mixed.push_str("2024-01-01T10:00:00Z\n");
    put(&conn, "mixed.csv", mixed.as_bytes());
    let expected = "column \"t\" holds date-times with and without a UTC offset (row 1500 \
                    holds a string \"2024-01-01T10:00:00Z\", row 0 holds a string \
                    \"2024-01-01 10:00:00\")";
    let err = conn
        .read("mixed.csv")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(err.contains(expected), "{err}");
    // A later value no date-time column holds makes the column text (inferred from
    // every record), every value as written.
    let mut texts = mixed.clone();
    texts.push_str("n/a\n");
    put(&conn, "texts.csv", texts.as_bytes());
    let table = conn.read("texts.csv").ttl(Ttl::ZERO).blocking().unwrap();
    assert_eq!(table.schema().field(0).data_type(), &DataType::Utf8);
    let last = table.batches().last().unwrap();
    assert_eq!(
        last.column(0).as_string::<i32>().value(last.num_rows() - 2),
        "2024-01-01T10:00:00Z"
    );
    // The first batch holds both: the stream fails before handing out a batch.
    let err = match conn.read("mixed.csv").stream().blocking() {
        Err(err) => err.to_string(),
        Ok(stream) => stream
            .into_iter()
            .find_map(Result::err)
            .expect("the stream ends with an error")
            .to_string(),
    };
    assert!(err.contains(expected), "{err}");
    assert!(
        !err.contains("infer_rows"),
        "no schema holds both, however many records it is inferred from: {err}"
    );
}

/// A stream hands out batches as they are decoded, and its sink holds back at most 8
/// batches while a column holds only NULLs. A date-time column that was NULL for more
/// than 8 batches of the sample, and carried offsets after them, was announced naive:
/// its first zoned batch ended the stream with an error, where read() returned the
/// column in UTC. Batches are now held back while such a column's zone is undecided.
#[test]
fn a_stream_announces_a_zoned_column_that_starts_with_many_nulls_in_utc() {
    use conn_core::arrow::array::{Array, AsArray, RecordBatch};
    use conn_core::arrow::compute::concat_batches;
    use conn_core::arrow::datatypes::{TimeUnit, TimestampSecondType};

    let dir = tempfile::tempdir().unwrap();
    let conn = memory(dir.path());
    // 900 rows (90 batches of 10) with no date-time, then 1,100 with offsets: the first
    // value is inside the sample (infer_rows 1000), the rest beyond it.
    let mut csv = String::from("i,t,k\n");
    for i in 0..2000 {
        if i < 900 {
            csv.push_str(&format!("{i},,{i}\n"));
        } else {
            csv.push_str(&format!("{i},1970-01-01T02:00:{:02}+02:00,{i}\n", i % 60));
        }
    }
    put(&conn, "late_zones.csv", csv.as_bytes());
    let utc = DataType::Timestamp(TimeUnit::Second, Some("UTC".into()));
    for columns in [None, Some(["t", "k"])] {
        let with = |read: conn_files::Read<conn_core::Table>| {
            let read = read.option("batch_size", 10).option("infer_rows", 1000);
            match columns {
                Some(names) => read.option(
                    "columns",
                    conn_core::Value::from(
                        names
                            .iter()
                            .map(|c| conn_core::Value::from(*c))
                            .collect::<Vec<_>>(),
                    ),
                ),
                None => read,
            }
        };
        let stream = with(conn.read("late_zones.csv"))
            .stream()
            .blocking()
            .unwrap();
        let schema = stream.schema();
        let batches: Vec<RecordBatch> = stream.into_iter().map(Result::unwrap).collect();
        let t = schema.index_of("t").unwrap();
        assert_eq!(schema.field(t).data_type(), &utc, "{columns:?}");
        assert_eq!(batches.len(), 200, "{columns:?}");
        assert!(
            batches.iter().all(|b| b.schema() == schema),
            "every batch in the announced schema ({columns:?})"
        );
        let streamed = concat_batches(&schema, &batches).unwrap();
        let read = with(conn.read("late_zones.csv"))
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap();
        assert_eq!(read.schema(), &schema, "{columns:?}");
        assert_eq!(
            streamed,
            concat_batches(read.schema(), read.batches()).unwrap(),
            "{columns:?}"
        );
        let values = streamed.column(t).as_primitive::<TimestampSecondType>();
        assert_eq!(values.null_count(), 900, "{columns:?}");
        // Row 901: 1970-01-01T02:00:01+02:00 (901 % 60 = 1), one second after the epoch;
        // row 1999, beyond the sample: 19 seconds.
        assert_eq!(values.value(901), 1, "{columns:?}");
        assert_eq!(values.value(1999), 19, "{columns:?}");
    }
}
