//! Parquet files, read into Arrow as the `files` connection reads them.
//!
//! Modes (first byte % 3): 0 any bytes; 1 a valid file written from generated columns
//! (integers, floats, text, booleans, binary, dates, timestamps, decimals, NULLs; every
//! compression conn reads; row groups and pages of any size) with some of its bytes
//! overwritten; asserts never a panic and an error names the file. 2 the valid file
//! itself, read whole and with `columns` in a generated order; asserts the table read is
//! the table written, value for value, columns in the order asked.
#![no_main]

use std::sync::Arc;

use conn_core::arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array,
    Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use conn_core::arrow::compute::concat_batches;
use conn_core::arrow::datatypes::{Field, Schema};
use conn_core::{Map, Value};
use conn_files::fuzzing::read_parquet;
use libfuzzer_sys::fuzz_target;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;

const LABEL: &str = "fuzz/input.parquet";

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
    fn null(&mut self) -> bool {
        self.byte() % 6 == 0
    }
}

fn column(kind: u8, rows: usize, bytes: &mut Bytes<'_>) -> ArrayRef {
    macro_rules! values {
        ($f:expr) => {
            (0..rows)
                .map(|_| {
                    if bytes.null() {
                        None
                    } else {
                        Some($f(&mut *bytes))
                    }
                })
                .collect::<Vec<_>>()
        };
    }
    match kind % 9 {
        0 => Arc::new(Int32Array::from(values!(|b: &mut Bytes<'_>| {
            i32::from_be_bytes(b.take())
        }))),
        1 => Arc::new(Int64Array::from(values!(|b: &mut Bytes<'_>| {
            i64::from_be_bytes(b.take())
        }))),
        2 => Arc::new(Float64Array::from(values!(|b: &mut Bytes<'_>| {
            f64::from_be_bytes(b.take())
        }))),
        3 => Arc::new(StringArray::from(values!(|b: &mut Bytes<'_>| {
            let n = usize::from(b.byte() % 12);
            String::from_utf8_lossy(&(0..n).map(|_| b.byte()).collect::<Vec<_>>()).into_owned()
        }))),
        4 => Arc::new(BooleanArray::from(values!(|b: &mut Bytes<'_>| b.byte()
            % 2
            == 0))),
        5 => Arc::new(BinaryArray::from_iter(values!(|b: &mut Bytes<'_>| {
            let n = usize::from(b.byte() % 12);
            (0..n).map(|_| b.byte()).collect::<Vec<u8>>()
        }))),
        6 => Arc::new(Date32Array::from(values!(
            |b: &mut Bytes<'_>| i32::from_be_bytes(b.take()) % 3_000_000
        ))),
        7 => Arc::new(TimestampMicrosecondArray::from(values!(|b: &mut Bytes<
            '_,
        >| {
            i64::from_be_bytes(b.take())
        }))),
        _ => Arc::new(
            Decimal128Array::from(values!(
                |b: &mut Bytes<'_>| i128::from_be_bytes(b.take()) % 10i128.pow(20)
            ))
            .with_precision_and_scale(20, 4)
            .unwrap(),
        ),
    }
}

/// A written file, its table, and the `columns` order to ask for.
fn written(bytes: &mut Bytes<'_>) -> (Vec<u8>, RecordBatch, Vec<usize>) {
    let ncols = 1 + usize::from(bytes.byte() % 4);
    let rows = usize::from(bytes.byte() % 40);
    let how = bytes.byte();
    let kinds: Vec<u8> = (0..ncols).map(|_| bytes.byte()).collect();
    let columns: Vec<ArrayRef> = kinds.iter().map(|k| column(*k, rows, bytes)).collect();
    let fields: Vec<Field> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| Field::new(format!("c{i}"), c.data_type().clone(), true))
        .collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    let compression = match how % 5 {
        0 => Compression::UNCOMPRESSED,
        1 => Compression::SNAPPY,
        2 => Compression::ZSTD(ZstdLevel::default()),
        3 => Compression::LZ4_RAW,
        _ => Compression::GZIP(GzipLevel::default()),
    };
    let properties = WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_row_count(Some(1 + usize::from(how >> 3) % 16))
        .set_data_page_row_count_limit(1 + usize::from(how >> 5))
        .set_dictionary_enabled(how & 0x80 != 0)
        .build();
    let mut file = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut file, batch.schema(), Some(properties)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    // `columns`: a generated order of some of the columns.
    let mut order: Vec<usize> = (0..ncols).collect();
    for i in (1..ncols).rev() {
        order.swap(i, usize::from(bytes.byte()) % (i + 1));
    }
    order.truncate(1 + usize::from(bytes.byte()) % ncols);
    (file, batch, order)
}

fn check_error(result: conn_core::Result<conn_core::Table>) {
    if let Err(err) = result {
        let message = err.to_string();
        assert!(
            message.contains(LABEL),
            "the error does not name the file: {message}"
        );
    }
}

/// The Parquet reader asserts some invariants of a file instead of returning an error
/// (and overflows on some corrupt row counts); conn turns such a panic into an error
/// naming the file. libFuzzer's panic hook aborts on every panic, so it is told to let
/// those through (unwinding to conn's `catch_unwind`): a panic in the parquet or arrow
/// crates, or in the standard library called from them. Any other panic still aborts,
/// and one that conn does not catch aborts the target where it unwinds.
fn tolerate_reader_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let file = info.location().map_or("", |l| l.file());
            let in_reader = file.contains("/parquet-")
                || file.contains("/arrow-")
                || (file.starts_with("/rustc/") && called_from_reader());
            if !in_reader {
                abort(info);
            }
        }));
    });
}

/// Whether the innermost frame outside the standard library is the parquet or arrow
/// crates' (rather than conn's).
fn called_from_reader() -> bool {
    let trace = std::backtrace::Backtrace::force_capture().to_string();
    // The frames inside the panic machinery (this hook among them) come first.
    let trace = trace
        .find("panic_fmt")
        .map_or(trace.as_str(), |at| &trace[at..]);
    let reader = ["parquet::", "arrow_"]
        .iter()
        .filter_map(|m| trace.find(m))
        .min();
    let conn = ["conn_files::", "conn_core::", "files_parquet::"]
        .iter()
        .filter_map(|m| trace.find(m))
        .min();
    matches!((reader, conn), (Some(r), Some(c)) if r < c)
}

fuzz_target!(|data: &[u8]| {
    tolerate_reader_panics();
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => check_error(read_parquet(rest.to_vec(), &Map::new(), LABEL)),
        1 => {
            let mut bytes = Bytes(rest);
            let (mut file, _, _) = written(&mut bytes);
            // Overwrite a few bytes at generated places.
            let edits = usize::from(bytes.byte() % 8);
            for _ in 0..edits {
                let [a, b, v] = bytes.take::<3>();
                let at = usize::from(u16::from_be_bytes([a, b])) % file.len();
                file[at] = v;
            }
            if let Some(dir) = std::env::var_os("CONN_FUZZ_PARQUET_EDITED") {
                std::fs::write(std::path::Path::new(&dir).join("edited.parquet"), &file).unwrap();
            }
            check_error(read_parquet(file, &Map::new(), LABEL));
        }
        _ => {
            let mut bytes = Bytes(rest);
            let (file, batch, order) = written(&mut bytes);
            // Writing the seed files of mode 0 (fuzz/seeds/make-seeds.py).
            if let Some(dir) = std::env::var_os("CONN_FUZZ_PARQUET_SEEDS") {
                let name = format!("written-{}.parquet", file.len());
                std::fs::write(std::path::Path::new(&dir).join(name), &file).unwrap();
            }
            let table =
                read_parquet(file.clone(), &Map::new(), LABEL).expect("a written file reads");
            let read = concat_batches(table.schema(), table.batches()).unwrap();
            assert!(
                read == batch,
                "the table read is not the table written:\n{read:?}\n{batch:?}"
            );
            let names: Vec<Value> = order.iter().map(|i| Value::from(format!("c{i}"))).collect();
            let options: Map = [("columns".to_owned(), Value::from(names))]
                .into_iter()
                .collect();
            let table = read_parquet(file, &options, LABEL).expect("a written file reads");
            let read = concat_batches(table.schema(), table.batches()).unwrap();
            let expected = batch.project(&order).unwrap();
            assert!(
                read == expected,
                "columns {order:?}:\n{read:?}\n{expected:?}"
            );
        }
    }
});
