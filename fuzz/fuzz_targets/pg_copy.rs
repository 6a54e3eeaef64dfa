//! PostgreSQL's binary `COPY ... TO STDOUT` stream and its row values: bytes from the
//! server, decoded into Arrow.
//!
//! First byte even: any stream for 1 to 5 columns of mapped types. Asserts: never a
//! panic; an error names a column or the COPY stream; the stream split into chunks of
//! any size decodes exactly as whole; the batch size changes nothing in the table.
//!
//! First byte odd: a valid stream encoded from generated values (integers, floats,
//! booleans, text, bytea, numeric through both of conn's numeric encoders, dates,
//! timestamps, NULLs). Asserts: it decodes, and every value comes back unchanged.
#![no_main]

use conn_core::Table;
use conn_core::arrow::array::{
    Array, BinaryArray, BooleanArray, Date32Array, Float64Array, Int16Array, Int32Array,
    Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use conn_core::arrow::compute::concat_batches;
use conn_core::arrow::util::display::array_value_to_string;
use conn_sql::fuzzing::{decode_copy, encode_numeric_digits, encode_numeric_i128};
use libfuzzer_sys::fuzz_target;

/// Type OIDs and type modifiers a column can have (numeric with and without
/// `numeric(p, s)`, arrays).
const TYPES: &[(u32, i32)] = &[
    (16, -1),
    (20, -1),
    (21, -1),
    (23, -1),
    (26, -1),
    (700, -1),
    (701, -1),
    (1700, -1),
    (1700, (10 << 16 | 2) + 4),
    (1700, (38 << 16 | 0) + 4),
    (1700, (50 << 16 | 10) + 4),
    (25, -1),
    (114, -1),
    (3802, -1),
    (17, -1),
    (2950, -1),
    (1082, -1),
    (1083, -1),
    (1114, -1),
    (1184, -1),
    (1186, -1),
    (1007, -1),
    (1016, -1),
    (1009, -1),
    (1231, -1),
    (1115, -1),
    (2951, -1),
    (1000, -1),
];

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

fn one_batch(table: &Table) -> RecordBatch {
    concat_batches(table.schema(), table.batches()).unwrap()
}

fn decode(
    columns: &[(u32, i32)],
    stream: &[u8],
    chunk: usize,
    batch: usize,
) -> Result<Table, String> {
    let chunks: Vec<&[u8]> = if chunk == 0 {
        vec![stream]
    } else {
        stream.chunks(chunk).collect()
    };
    decode_copy(columns, &chunks, batch).map_err(|e| e.to_string())
}

fn check_any(data: &[u8]) {
    let [ncols, rest @ ..] = data else { return };
    let ncols = 1 + usize::from(*ncols % 5);
    if rest.len() < ncols + 2 {
        return;
    }
    let columns: Vec<(u32, i32)> = rest[..ncols]
        .iter()
        .map(|b| TYPES[*b as usize % TYPES.len()])
        .collect();
    let chunk = usize::from(rest[ncols] % 65);
    let batch = 1 + usize::from(rest[ncols + 1] % 8);
    let stream = &rest[ncols + 2..];

    let whole = decode(&columns, stream, 0, batch);
    let chunked = decode(&columns, stream, chunk, batch);
    match (&whole, &chunked) {
        (Ok(a), Ok(b)) => assert!(one_batch(a) == one_batch(b), "chunking changed the table"),
        (Err(a), Err(b)) => assert_eq!(a, b, "chunking changed the error"),
        _ => panic!("chunking changed the outcome: {whole:?} / {chunked:?}"),
    }
    match &whole {
        Err(message) => assert!(
            message.contains("column \"c")
                || message.contains("COPY")
                || message.contains("columns where its description has"),
            "the error names no column: {message}"
        ),
        Ok(table) => {
            // The batch size changes nothing.
            let big = decode(&columns, stream, 0, 1 << 20).expect("decodes in one batch");
            assert!(
                one_batch(table) == one_batch(&big),
                "the batch size changed the table"
            );
        }
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
    fn slice(&mut self) -> Vec<u8> {
        let n = usize::from(self.byte() % 24).min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head.to_vec()
    }
}

/// A value generated for a column, and how it should read back.
#[derive(Debug, Clone)]
enum Expect {
    Null,
    Int2(i16),
    Int4(i32),
    Int8(i64),
    Float8(f64),
    Bool(bool),
    Text(String),
    Bytea(Vec<u8>),
    /// Sign, unscaled digits and scale: the decimal text.
    Numeric(String),
    Date(i32),
    Timestamp(i64),
}

/// The decimal text of `±digits × 10^-scale`, normalized (no leading or trailing zeros).
fn normalize(text: &str) -> String {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let body = match (int.is_empty(), frac.is_empty()) {
        (true, true) => return "0".into(),
        (_, true) => int.to_owned(),
        _ => format!("{}.{frac}", if int.is_empty() { "0" } else { int }),
    };
    if negative { format!("-{body}") } else { body }
}

fn decimal_text(negative: bool, digits: &str, scale: i32) -> String {
    let digits = if scale < 0 {
        format!("{digits}{}", "0".repeat(scale.unsigned_abs() as usize))
    } else {
        digits.to_owned()
    };
    let scale = scale.max(0) as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    normalize(&format!("{}{int}.{frac}", if negative { "-" } else { "" }))
}

fn check_roundtrip(data: &[u8]) {
    let mut bytes = Bytes(data);
    let ncols = 1 + usize::from(bytes.byte() % 4);
    let kinds: Vec<u8> = (0..ncols).map(|_| bytes.byte() % 10).collect();
    let columns: Vec<(u32, i32)> = kinds
        .iter()
        .map(|k| match k {
            0 => (21, -1),
            1 => (23, -1),
            2 => (20, -1),
            3 => (701, -1),
            4 => (16, -1),
            5 => (25, -1),
            6 => (17, -1),
            7 => (1700, -1),
            8 => (1082, -1),
            _ => (1114, -1),
        })
        .collect();
    let chunk = usize::from(bytes.byte() % 65);
    let batch = 1 + usize::from(bytes.byte() % 8);
    let nrows = usize::from(bytes.byte() % 16);

    let mut stream = SIGNATURE.to_vec();
    stream.extend_from_slice(&0i32.to_be_bytes());
    stream.extend_from_slice(&0i32.to_be_bytes());
    let mut expected: Vec<Vec<Expect>> = vec![Vec::new(); ncols];
    for _ in 0..nrows {
        stream.extend_from_slice(&(ncols as i16).to_be_bytes());
        for (c, kind) in kinds.iter().enumerate() {
            let null = bytes.byte() % 8 == 0;
            let (value, expect): (Vec<u8>, Expect) = if null {
                (Vec::new(), Expect::Null)
            } else {
                match kind {
                    0 => {
                        let v = i16::from_be_bytes(bytes.take());
                        (v.to_be_bytes().to_vec(), Expect::Int2(v))
                    }
                    1 => {
                        let v = i32::from_be_bytes(bytes.take());
                        (v.to_be_bytes().to_vec(), Expect::Int4(v))
                    }
                    2 => {
                        let v = i64::from_be_bytes(bytes.take());
                        (v.to_be_bytes().to_vec(), Expect::Int8(v))
                    }
                    3 => {
                        let v = f64::from_be_bytes(bytes.take());
                        (v.to_be_bytes().to_vec(), Expect::Float8(v))
                    }
                    4 => {
                        let v = bytes.byte() % 2 == 1;
                        (vec![u8::from(v)], Expect::Bool(v))
                    }
                    5 => {
                        let v = String::from_utf8_lossy(&bytes.slice()).into_owned();
                        (v.clone().into_bytes(), Expect::Text(v))
                    }
                    6 => {
                        let v = bytes.slice();
                        (v.clone(), Expect::Bytea(v))
                    }
                    7 => {
                        let value = i128::from_be_bytes(bytes.take()) % 10i128.pow(30);
                        let how = bytes.byte();
                        if how % 2 == 0 {
                            let scale = how / 2 % 39;
                            let encoded = encode_numeric_i128(value, scale).expect("encodes");
                            let digits = value.unsigned_abs().to_string();
                            (
                                encoded,
                                Expect::Numeric(decimal_text(value < 0, &digits, i32::from(scale))),
                            )
                        } else {
                            let scale = i32::from(how / 2 % 47) - 8;
                            let digits = value.unsigned_abs().to_string();
                            let encoded =
                                encode_numeric_digits(value < 0, &digits, scale).expect("encodes");
                            (
                                encoded,
                                Expect::Numeric(decimal_text(value < 0, &digits, scale)),
                            )
                        }
                    }
                    8 => {
                        let days = i32::from_be_bytes(bytes.take()) % 3_000_000;
                        (days.to_be_bytes().to_vec(), Expect::Date(days + 10_957))
                    }
                    _ => {
                        let micros = i64::from_be_bytes(bytes.take()) % 200_000_000_000_000_000;
                        (
                            micros.to_be_bytes().to_vec(),
                            Expect::Timestamp(micros + 946_684_800_000_000),
                        )
                    }
                }
            };
            if matches!(expect, Expect::Null) {
                stream.extend_from_slice(&(-1i32).to_be_bytes());
            } else {
                stream.extend_from_slice(&(value.len() as i32).to_be_bytes());
                stream.extend_from_slice(&value);
            }
            expected[c].push(expect);
        }
    }
    stream.extend_from_slice(&(-1i16).to_be_bytes());

    let table = decode(&columns, &stream, chunk, batch)
        .unwrap_or_else(|e| panic!("a valid stream failed: {e}"));
    let got = one_batch(&table);
    assert_eq!(got.num_rows(), nrows);
    for (c, column) in got.columns().iter().enumerate() {
        for (row, expect) in expected[c].iter().enumerate() {
            if matches!(expect, Expect::Null) {
                assert!(column.is_null(row), "c{c} row {row} is not NULL");
                continue;
            }
            assert!(column.is_valid(row), "c{c} row {row} is NULL");
            let same = match expect {
                Expect::Int2(v) => {
                    column
                        .as_any()
                        .downcast_ref::<Int16Array>()
                        .unwrap()
                        .value(row)
                        == *v
                }
                Expect::Int4(v) => {
                    column
                        .as_any()
                        .downcast_ref::<Int32Array>()
                        .unwrap()
                        .value(row)
                        == *v
                }
                Expect::Int8(v) => {
                    column
                        .as_any()
                        .downcast_ref::<Int64Array>()
                        .unwrap()
                        .value(row)
                        == *v
                }
                Expect::Float8(v) => {
                    column
                        .as_any()
                        .downcast_ref::<Float64Array>()
                        .unwrap()
                        .value(row)
                        .to_bits()
                        == v.to_bits()
                }
                Expect::Bool(v) => {
                    column
                        .as_any()
                        .downcast_ref::<BooleanArray>()
                        .unwrap()
                        .value(row)
                        == *v
                }
                Expect::Text(v) => {
                    column
                        .as_any()
                        .downcast_ref::<StringArray>()
                        .unwrap()
                        .value(row)
                        == v
                }
                Expect::Bytea(v) => {
                    column
                        .as_any()
                        .downcast_ref::<BinaryArray>()
                        .unwrap()
                        .value(row)
                        == v.as_slice()
                }
                Expect::Numeric(v) => {
                    let shown = array_value_to_string(column, row).unwrap();
                    normalize(&shown) == *v
                }
                Expect::Date(v) => {
                    column
                        .as_any()
                        .downcast_ref::<Date32Array>()
                        .unwrap()
                        .value(row)
                        == *v
                }
                Expect::Timestamp(v) => {
                    column
                        .as_any()
                        .downcast_ref::<TimestampMicrosecondArray>()
                        .unwrap()
                        .value(row)
                        == *v
                }
                Expect::Null => unreachable!(),
            };
            assert!(
                same,
                "c{c} row {row}: expected {expect:?}, read {} ({})",
                array_value_to_string(column, row).unwrap(),
                column.data_type()
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        check_any(rest);
    } else {
        check_roundtrip(rest);
    }
});
