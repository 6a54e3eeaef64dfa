//! CSV and JSON lines files, read into Arrow as the `files` connection reads them.
//!
//! Modes (first byte % 4): 0 any CSV bytes, 1 any JSON lines bytes; asserts never a
//! panic, an error names the file, and the table is the same whatever the number of
//! rows the schema is inferred from and the batch size (a later row that does not fit
//! the sampled schema makes conn infer it from every row, never change the value).
//! 2 a CSV and 3 a JSON lines file written from generated cells (integers of every size,
//! floats, words, dates, date-times, booleans, text that needs quoting, NULLs);
//! asserts every value reads back unchanged for its column's type: integers exact,
//! floats as parsed, text identical, dates and date-times to the unit.
#![no_main]

use conn_core::arrow::array::{
    Array, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use conn_core::arrow::compute::concat_batches;
use conn_core::arrow::datatypes::{DataType, TimeUnit};
use conn_core::arrow::util::display::array_value_to_string;
use conn_core::{Map, Table, Value};
use conn_files::fuzzing::read_text;
use libfuzzer_sys::fuzz_target;

const CSV_LABEL: &str = "fuzz/input.csv";
const JSONL_LABEL: &str = "fuzz/input.jsonl";

fn options(pairs: &[(&str, Value)]) -> Map {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn one_batch(table: &Table) -> RecordBatch {
    concat_batches(table.schema(), table.batches()).unwrap()
}

fn check_any(data: &[u8], json: bool) {
    let [how, bytes @ ..] = data else { return };
    let label = if json { JSONL_LABEL } else { CSV_LABEL };
    let infer = i64::from(1 + how % 4);
    let batch = i64::from(1 + (how >> 2) % 5);
    let mut small = vec![
        ("infer_rows", Value::from(infer)),
        ("batch_size", Value::from(batch)),
    ];
    let mut full = vec![("infer_rows", Value::from(1_000_000i64))];
    if !json {
        let delimiter = [",", ";", "\t", "|"][usize::from(how >> 5) % 4];
        let header = how & 0x80 == 0;
        for list in [&mut small, &mut full] {
            list.push(("delimiter", Value::from(delimiter)));
            list.push(("header", Value::from(header)));
        }
    }
    let sampled = read_text(bytes, json, &options(&small), label);
    let whole = read_text(bytes, json, &options(&full), label);
    match (&sampled, &whole) {
        (Ok(a), Ok(b)) => {
            let (a, b) = (one_batch(a), one_batch(b));
            assert!(a == b, "the sample size changed the table:\n{a:?}\n{b:?}");
        }
        (Err(a), Err(b)) => {
            for message in [a.to_string(), b.to_string()] {
                assert!(
                    message.contains(label),
                    "the error does not name the file: {message}"
                );
            }
        }
        _ => panic!(
            "the sample size changed the outcome: {:?} / {:?}",
            sampled
                .as_ref()
                .map(|t| t.num_rows())
                .map_err(|e| e.to_string()),
            whole
                .as_ref()
                .map(|t| t.num_rows())
                .map_err(|e| e.to_string()),
        ),
    }
}

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = N.min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        out
    }
    fn byte(&mut self) -> u8 {
        self.take::<1>()[0]
    }
    fn word(&mut self, alphabet: &[u8]) -> String {
        let n = 1 + usize::from(self.byte() % 6);
        (0..n)
            .map(|_| alphabet[usize::from(self.byte()) % alphabet.len()] as char)
            .collect()
    }
}

/// One generated cell: its text as written (CSV) and whether JSON writes it as a string.
#[derive(Debug, Clone)]
struct Cell {
    text: Option<String>,
    json_string: bool,
}

fn cell(bytes: &mut Bytes<'_>, allow_null: bool) -> Cell {
    let kind = bytes.byte() % 10;
    let number = |text: String| Cell {
        text: Some(text),
        json_string: false,
    };
    let string = |text: String| Cell {
        text: Some(text),
        json_string: true,
    };
    match kind {
        0 if allow_null => Cell {
            text: None,
            json_string: false,
        },
        0 | 1 => number(i64::from(i8::from_be_bytes(bytes.take())).to_string()),
        2 => number(i64::from_be_bytes(bytes.take()).to_string()),
        3 => {
            // An integer of 16 to 25 digits: past 2^53, maybe past i64.
            let n = 16 + usize::from(bytes.byte() % 10);
            let digits: String = (0..n)
                .map(|i| {
                    let d = bytes.byte() % 10;
                    char::from(b'0' + if i == 0 { d.max(1) } else { d })
                })
                .collect();
            number(digits)
        }
        4 => {
            let f = f64::from_be_bytes(bytes.take());
            number(format!("{:?}", if f.is_finite() { f } else { 0.5 }))
        }
        5 => string(bytes.word(b"abcxyz")),
        6 => {
            let [y, m, d] = bytes.take::<3>();
            string(format!(
                "{:04}-{:02}-{:02}",
                1900 + u32::from(y),
                1 + m % 12,
                1 + d % 28
            ))
        }
        7 => {
            let [y, m, d, h, mi, s, f, ff] = bytes.take::<8>();
            let fraction = match f % 4 {
                0 => String::new(),
                1 => format!(".{:03}", u16::from_be_bytes([f, ff]) % 1000),
                2 => format!(
                    ".{:06}",
                    u32::from(u16::from_be_bytes([f, ff])) * 7 % 1_000_000
                ),
                _ => format!(
                    ".{:09}",
                    u64::from(u16::from_be_bytes([f, ff])) * 13_331 % 1_000_000_000
                ),
            };
            string(format!(
                "{:04}-{:02}-{:02}{}{:02}:{:02}:{:02}{fraction}",
                1900 + u32::from(y),
                1 + m % 12,
                1 + d % 28,
                if h % 2 == 0 { ' ' } else { 'T' },
                h % 24,
                mi % 60,
                s % 60,
            ))
        }
        8 => Cell {
            text: Some(
                if bytes.byte() % 2 == 0 {
                    "true"
                } else {
                    "false"
                }
                .into(),
            ),
            json_string: false,
        },
        _ => string(bytes.word(b"a ,\"\n'\\:;x")),
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The value a cell's text stands for, checked against what was read.
fn check_cell(column: &dyn Array, row: usize, cell: &Cell, json: bool, at: &str) {
    // A `NullArray` has no validity buffer: its logical nulls say NULL.
    let is_null = column.logical_nulls().is_some_and(|n| n.is_null(row));
    let Some(text) = &cell.text else {
        assert!(is_null, "{at}: NULL read as a value");
        return;
    };
    assert!(!is_null, "{at}: {text:?} read as NULL");
    let any = column.as_any();
    let shown = || array_value_to_string(column, row).unwrap();
    match column.data_type() {
        DataType::Int64 => {
            let got = any.downcast_ref::<Int64Array>().unwrap().value(row);
            assert_eq!(
                text.parse::<i64>().ok(),
                Some(got),
                "{at}: {text:?} read as {got}"
            );
        }
        DataType::Float64 => {
            let got = any.downcast_ref::<Float64Array>().unwrap().value(row);
            let parsed: f64 = text
                .parse()
                .unwrap_or_else(|_| panic!("{at}: {text:?} read as {got}"));
            assert!(
                parsed.to_bits() == got.to_bits() || (parsed.is_nan() && got.is_nan()),
                "{at}: {text:?} read as {got}"
            );
            let digits = text.strip_prefix('-').unwrap_or(text);
            if digits.bytes().all(|b| b.is_ascii_digit()) {
                #[allow(clippy::cast_possible_truncation)]
                let back = got as i128;
                assert_eq!(
                    text.parse::<i128>().ok(),
                    Some(back),
                    "{at}: the integer {text} read as {got}"
                );
            }
        }
        DataType::Utf8 => {
            let got = any.downcast_ref::<StringArray>().unwrap().value(row);
            assert_eq!(got, text, "{at}: text changed");
        }
        DataType::Boolean => {
            let got = any.downcast_ref::<BooleanArray>().unwrap().value(row);
            assert_eq!(
                text.to_ascii_lowercase(),
                got.to_string(),
                "{at}: {text:?} read as {got}"
            );
        }
        DataType::Date32 => {
            let got = any.downcast_ref::<Date32Array>().unwrap().value(row);
            let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .unwrap_or_else(|_| panic!("{at}: {text:?} read as the date {}", shown()));
            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
            assert_eq!(
                i64::from(got),
                (date - epoch).num_days(),
                "{at}: {text:?} read as {}",
                shown()
            );
        }
        DataType::Timestamp(unit, None) => {
            let parsed = chrono::NaiveDateTime::parse_from_str(
                &text.replace('T', " "),
                "%Y-%m-%d %H:%M:%S%.f",
            )
            .or_else(|_| {
                chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .map(|d| d.and_hms_opt(0, 0, 0).unwrap())
            })
            .unwrap_or_else(|_| panic!("{at}: {text:?} read as the time {}", shown()));
            let utc = parsed.and_utc();
            let expected = match unit {
                TimeUnit::Second => Some(utc.timestamp()),
                TimeUnit::Millisecond => Some(utc.timestamp_millis()),
                TimeUnit::Microsecond => Some(utc.timestamp_micros()),
                TimeUnit::Nanosecond => utc.timestamp_nanos_opt(),
            };
            let got = conn_core::arrow::array::cast::as_primitive_array::<
                conn_core::arrow::datatypes::Int64Type,
            >(
                &conn_core::arrow::compute::cast(&column.slice(row, 1), &DataType::Int64).unwrap(),
            )
            .value(0);
            assert_eq!(expected, Some(got), "{at}: {text:?} read as {}", shown());
        }
        DataType::Null => panic!("{at}: {text:?} read as NULL"),
        other => {
            // Any other type must show the text as written.
            let _ = (other, json);
        }
    }
}

fn check_written(data: &[u8], json: bool) {
    let mut bytes = Bytes(data);
    let ncols = 1 + usize::from(bytes.byte() % 4);
    let nrows = usize::from(bytes.byte() % 12);
    let how = bytes.byte();
    let rows: Vec<Vec<Cell>> = (0..nrows)
        .map(|_| {
            (0..ncols)
                .map(|_| cell(&mut bytes, json || ncols > 1))
                .collect()
        })
        .collect();
    let mut file = String::new();
    if !json {
        file.push_str(
            &(0..ncols)
                .map(|c| format!("c{c}"))
                .collect::<Vec<_>>()
                .join(","),
        );
        file.push('\n');
    }
    for row in &rows {
        if json {
            let fields: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(c, cell)| {
                    let value = match &cell.text {
                        None => "null".to_owned(),
                        Some(t) if cell.json_string => serde_json::to_string(t).unwrap(),
                        Some(t) => t.clone(),
                    };
                    format!("\"c{c}\": {value}")
                })
                .collect();
            file.push_str(&format!("{{{}}}\n", fields.join(", ")));
        } else {
            let fields: Vec<String> = row
                .iter()
                .map(|c| csv_field(c.text.as_deref().unwrap_or("")))
                .collect();
            file.push_str(&fields.join(","));
            file.push('\n');
        }
    }
    let label = if json { JSONL_LABEL } else { CSV_LABEL };
    let opts = options(&[
        ("infer_rows", Value::from(i64::from(1 + how % 4))),
        ("batch_size", Value::from(i64::from(1 + (how >> 2) % 5))),
    ]);
    let table = match read_text(file.as_bytes(), json, &opts, label) {
        Ok(table) => table,
        Err(err) => {
            let message = err.to_string();
            assert!(
                message.contains(label),
                "the error does not name the file: {message}"
            );
            // JSON lines: a column of numbers and strings, or of numbers past i64,
            // may be refused, but never with a changed value.
            return;
        }
    };
    let batch = one_batch(&table);
    assert_eq!(batch.num_rows(), nrows, "rows lost or added:\n{file}");
    if nrows == 0 {
        return;
    }
    assert_eq!(batch.num_columns(), ncols);
    for (c, column) in batch.columns().iter().enumerate() {
        assert_eq!(batch.schema().field(c).name(), &format!("c{c}"));
        for (r, row) in rows.iter().enumerate() {
            let at = format!("c{c} row {r} ({})", column.data_type());
            check_cell(column.as_ref(), r, &row[c], json, &at);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => check_any(rest, false),
        1 => check_any(rest, true),
        2 => check_written(rest, false),
        _ => check_written(rest, true),
    }
});
