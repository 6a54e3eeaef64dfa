//! The `files` type: CSV, Parquet and JSON lines on local files and the memory store
//! (docs/files.md).

use std::io::Cursor;
use std::sync::Arc;

use conn::arrow::array::{Array, RecordBatch};
use conn::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use conn::arrow::util::display::{ArrayFormatter, FormatOptions};

use conn::files::{FilesConnection, Format};
use conn::{ConnectionFactory, Env, Table, Ttl};

use crate::arrays;
use crate::model::{self, Expected, Model, first_refused};
use crate::runner::Backend;
use crate::tables::{Case, Cell, Column, Profile, Ty};

/// The file format under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Csv,
    Parquet,
    JsonLines,
}

/// Local files and the memory store, alternately.
pub struct FilesBackend {
    kind: Kind,
    local: Arc<FilesConnection>,
    memory: Arc<FilesConnection>,
    _dir: tempfile::TempDir,
}

impl FilesBackend {
    pub fn new(kind: Kind) -> FilesBackend {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".streamlit")).unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::write(
            dir.path().join(".streamlit/secrets.toml"),
            format!(
                "[connections.local]\ntype = \"files\"\nprotocol = \"file\"\nroot = \"{}\"\n\n\
                 [connections.mem]\ntype = \"files\"\nprotocol = \"memory\"\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let factory = ConnectionFactory::builder()
            .env(Env::from_pairs([(
                "HOME",
                dir.path().join("home").display().to_string(),
            )]))
            .project_dir(dir.path())
            .build();
        FilesBackend {
            kind,
            local: factory.get::<FilesConnection>("local").unwrap(),
            memory: factory.get::<FilesConnection>("mem").unwrap(),
            _dir: dir,
        }
    }

    /// Even variants are local files, odd ones the memory store.
    fn conn(&self, case: &Case) -> &FilesConnection {
        if case.variant.is_multiple_of(2) {
            &self.local
        } else {
            &self.memory
        }
    }

    /// CSV and JSON lines infer their schema from the first 1 to 10 records.
    fn infer_rows(case: &Case) -> usize {
        usize::from(case.variant / 2) + 1
    }

    fn path(&self, name: &str) -> String {
        match self.kind {
            Kind::Csv => format!("{name}.csv"),
            Kind::Parquet => format!("{name}.parquet"),
            Kind::JsonLines => format!("{name}.jsonl"),
        }
    }
}

impl Backend for FilesBackend {
    fn name(&self) -> &'static str {
        match self.kind {
            Kind::Csv => "files-csv",
            Kind::Parquet => "files-parquet",
            Kind::JsonLines => "files-jsonl",
        }
    }

    fn profile(&self) -> Profile {
        let mut types = vec![
            Ty::Bool,
            Ty::I8,
            Ty::I16,
            Ty::I32,
            Ty::I64,
            Ty::U8,
            Ty::U16,
            Ty::U32,
            Ty::U64,
            Ty::F32,
            Ty::F64,
            Ty::Dec(0, 0),
            Ty::Utf8,
            Ty::Date32,
            Ty::Time64,
            Ty::Ts,
            Ty::TsUtc,
            Ty::TsNs,
            Ty::TsNsUtc,
            Ty::Time64Ns,
        ];
        if self.kind == Kind::Parquet {
            types.extend([
                Ty::Binary,
                Ty::Uuid,
                Ty::Interval,
                Ty::ListI32,
                Ty::ListUtf8,
            ]);
        }
        Profile {
            types,
            min_scale: if self.kind == Kind::Parquet { -4 } else { 0 },
            bmp_names: false,
            variants: 20,
        }
    }

    fn model(&self, column: &Column, case: &Case) -> Model {
        match self.kind {
            Kind::Parquet => parquet(column),
            Kind::Csv | Kind::JsonLines => text_format(self.kind, column, Self::infer_rows(case)),
        }
    }

    fn write(&self, name: &str, table: &Table, case: &Case) -> conn::Result<u64> {
        let format = match self.kind {
            Kind::Csv => Format::Csv,
            Kind::Parquet => Format::Parquet,
            Kind::JsonLines => Format::Jsonl,
        };
        self.conn(case)
            .write(&self.path(name), table, format)
            .blocking()
    }

    fn columns(&self, case: &Case) -> Option<Vec<String>> {
        // JSON lines has no header: a file of no lines has no columns.
        (self.kind == Kind::JsonLines && case.rows == 0).then(Vec::new)
    }

    fn read(&self, name: &str, case: &Case) -> conn::Result<Table> {
        let batch_size = i64::try_from(case.batch_size).unwrap();
        let mut read = self
            .conn(case)
            .read(self.path(name))
            .option("batch_size", batch_size)
            .ttl(Ttl::ZERO);
        if self.kind != Kind::Parquet {
            read = read.option("infer_rows", i64::try_from(Self::infer_rows(case)).unwrap());
        }
        read.blocking()
    }

    fn remove(&self, name: &str, case: &Case) {
        let _ = self.conn(case).delete(&self.path(name)).blocking();
    }
}

/// Parquet keeps every Arrow type it has (the schema travels in the file), except
/// intervals with nanoseconds and negative decimal scales, which it refuses.
fn parquet(column: &Column) -> Model {
    match column.ty {
        Ty::Interval => Model::Refused("Parquet has no month-day-nano interval".into()),
        Ty::Dec(_, s) if s < 0 => Model::Refused("Parquet has no negative decimal scale".into()),
        _ => Model::same(column),
    }
}

/// The column alone as a file of `kind` (header `c`), written by arrow as conn writes it.
fn one_column_file(kind: Kind, column: &Column) -> Result<Vec<u8>, String> {
    let array = arrays::array(column.ty, &column.cells);
    let schema = Arc::new(Schema::new(vec![Field::new(
        "c",
        array.data_type().clone(),
        true,
    )]));
    let batch = RecordBatch::try_new(schema, vec![array]).unwrap();
    let mut out = Vec::new();
    match kind {
        Kind::Csv => {
            let mut writer = arrow_csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut out);
            writer.write(&batch).map_err(|e| e.to_string())?;
        }
        _ => {
            // arrow-json writes a value it cannot format as the error's text; conn
            // refuses it.
            let strict = FormatOptions::default().with_display_error(false);
            let column = batch.column(0);
            if column.data_type().is_temporal() {
                let shown = ArrayFormatter::try_new(column.as_ref(), &strict).unwrap();
                for row in 0..column.len() {
                    if column.is_valid(row) {
                        shown
                            .value(row)
                            .try_to_string()
                            .map_err(|e| e.to_string())?;
                    }
                }
            }
            let mut writer = arrow_json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow_json::writer::LineDelimited>(&mut out);
            writer.write(&batch).map_err(|e| e.to_string())?;
            writer.finish().map_err(|e| e.to_string())?;
        }
    }
    Ok(out)
}

/// What arrow itself reads from the column's text: the type and the values when the
/// schema is inferred from the first `infer` records (every record when `None`), or
/// why it cannot read it.
fn oracle(
    kind: Kind,
    column: &Column,
    infer: Option<usize>,
) -> Result<(DataType, Vec<Option<Cell>>), Oracle> {
    let file = one_column_file(kind, column).map_err(Oracle::Unwritable)?;
    let (data_type, cells) =
        read_back(kind, &file, column.cells.len(), infer).map_err(Oracle::Unreadable)?;
    Ok((zoned_as_conn_reads_it(kind, column, data_type), cells))
}

/// conn reads CSV date-times written with a UTC offset (as a zoned timestamp is) into a
/// column of zone "UTC"; arrow-csv gives the same values in a column without zone.
fn zoned_as_conn_reads_it(kind: Kind, column: &Column, data_type: DataType) -> DataType {
    match (kind, column.ty, data_type) {
        (Kind::Csv, Ty::TsUtc | Ty::TsNsUtc, DataType::Timestamp(unit, None)) => {
            DataType::Timestamp(unit, Some("UTC".into()))
        }
        (_, _, other) => other,
    }
}

/// Why arrow cannot round-trip a column through a text format.
enum Oracle {
    /// The writer refuses it.
    Unwritable(String),
    /// The reader cannot read what the writer wrote.
    Unreadable(String),
}

fn read_back(
    kind: Kind,
    file: &[u8],
    rows: usize,
    infer: Option<usize>,
) -> Result<(DataType, Vec<Option<Cell>>), String> {
    let batches: Vec<RecordBatch> = match kind {
        Kind::Csv => {
            let (schema, _) = arrow_csv::reader::Format::default()
                .with_header(true)
                .infer_schema(Cursor::new(file), infer)
                .map_err(|e| e.to_string())?;
            arrow_csv::ReaderBuilder::new(Arc::new(schema))
                .with_header(true)
                .build(Cursor::new(file))
                .map_err(|e| e.to_string())?
                .collect::<Result<_, _>>()
                .map_err(|e| e.to_string())?
        }
        _ => {
            let (schema, _) = arrow_json::reader::infer_json_schema(Cursor::new(file), infer)
                .map_err(|e| e.to_string())?;
            if schema.fields().is_empty() {
                return Ok((DataType::Null, vec![None; rows]));
            }
            arrow_json::ReaderBuilder::new(Arc::new(schema))
                .with_coerce_primitive(true)
                .with_strict_mode(true)
                .build(Cursor::new(file))
                .map_err(|e| e.to_string())?
                .collect::<Result<_, _>>()
                .map_err(|e| e.to_string())?
        }
    };
    let Some(first) = batches.first() else {
        return Ok((DataType::Null, Vec::new()));
    };
    let data_type = first.schema().field(0).data_type().clone();
    let mut cells = Vec::new();
    for batch in &batches {
        cells.extend(arrays::cells(batch.column(0).as_ref())?);
    }
    Ok((data_type, cells))
}

/// The values a column must read back as when its text is read as `data_type` and that
/// is the column's natural type in the format: the written values themselves (in that
/// type's terms), not merely what arrow makes of the text. `None` for other types.
fn exact(
    kind: Kind,
    column: &Column,
    data_type: &DataType,
    read: &[Option<Cell>],
) -> Option<Vec<Option<Cell>>> {
    let per_value = |f: &dyn Fn(&Cell) -> Option<Cell>| -> Option<Vec<Option<Cell>>> {
        column
            .cells
            .iter()
            .map(|c| match c {
                None => Some(None),
                Some(c) => f(c).map(Some),
            })
            .collect()
    };
    let unit_divisor = |unit: &TimeUnit, from_ns: bool| -> i128 {
        let per_second: i128 = match unit {
            TimeUnit::Second => 1,
            TimeUnit::Millisecond => 1_000,
            TimeUnit::Microsecond => 1_000_000,
            TimeUnit::Nanosecond => 1_000_000_000,
        };
        let source: i128 = if from_ns { 1_000_000_000 } else { 1_000_000 };
        source / per_second.min(source)
    };
    match (column.ty, data_type) {
        (Ty::Bool, DataType::Boolean) | (Ty::Date32, DataType::Date32) => {
            Some(column.cells.clone())
        }
        (
            Ty::I8 | Ty::I16 | Ty::I32 | Ty::I64 | Ty::U8 | Ty::U16 | Ty::U32 | Ty::U64,
            DataType::Int64,
        ) => Some(column.cells.clone()),
        (Ty::F64, DataType::Float64) => Some(column.cells.clone()),
        // A 32-bit float is written in a shortest text, which reads back as the
        // nearest 64-bit float (0.1f32 as 0.1): that text must be the same 32-bit
        // float. (Which of two equally short texts is written depends on the writer.)
        (Ty::F32, DataType::Float64) => column
            .cells
            .iter()
            .zip(read)
            .map(|(wrote, read)| match (wrote, read) {
                (None, _) => Some(None),
                (Some(Cell::Float(f)), Some(Cell::Float(back))) => {
                    let same = (*back as f32).to_bits() == (*f as f32).to_bits() || f.is_nan();
                    Some(Some(Cell::Float(if same { *back } else { *f })))
                }
                _ => None,
            })
            .collect(),
        (Ty::Dec(_, s), DataType::Float64) => per_value(&|c| match c {
            Cell::Int(v) => model::decimal_text(*v, s).parse().ok().map(Cell::Float),
            _ => None,
        }),
        (Ty::Dec(_, s), DataType::Int64) if s <= 0 => per_value(&|c| Some(model::rescaled(c, -s))),
        (Ty::Utf8, DataType::Utf8) if kind == Kind::JsonLines => Some(column.cells.clone()),
        // An empty string and NULL are the same empty CSV field.
        (Ty::Utf8, DataType::Utf8) => per_value(&|c| match c {
            Cell::Text(t) if t.is_empty() => None,
            other => Some(other.clone()),
        })
        .or_else(|| {
            Some(
                column
                    .cells
                    .iter()
                    .map(|c| match c {
                        Some(Cell::Text(t)) if t.is_empty() => None,
                        other => other.clone(),
                    })
                    .collect(),
            )
        }),
        (Ty::Ts | Ty::TsUtc | Ty::TsNs | Ty::TsNsUtc, DataType::Timestamp(unit, _)) => {
            let divisor = unit_divisor(unit, matches!(column.ty, Ty::TsNs | Ty::TsNsUtc));
            per_value(&|c| match c {
                Cell::Int(v) if v % divisor == 0 => Some(Cell::Int(v / divisor)),
                _ => None,
            })
        }
        _ => None,
    }
}

/// Whether the column holds an integer (of an integer type or a decimal of scale 0,
/// written as digits) that Float64 cannot hold exactly.
fn holds_inexact_integers(column: &Column) -> bool {
    let integral = matches!(
        column.ty,
        Ty::I8 | Ty::I16 | Ty::I32 | Ty::I64 | Ty::U8 | Ty::U16 | Ty::U32 | Ty::U64 | Ty::Dec(_, 0)
    );
    integral
        && column.cells.iter().flatten().any(|cell| match cell {
            // `as` rounds to the nearest f64; converting back is exact for any f64
            // of this size, so the two differ exactly when the integer was rounded.
            #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
            Cell::Int(i) => (*i as f64) as i128 != *i,
            _ => false,
        })
}

/// CSV and JSON lines: every value goes through its text, and types are inferred again
/// (docs/files.md). conn infers from the first `infer_rows` records and reads the file
/// again with every record when a later one contradicts that; so the column reads
/// back as arrow reads it with the types of every record, or, when the sample's type
/// holds every value exactly, as that. Where the type is the column's natural one in
/// the format, the values must be the written values themselves.
fn text_format(kind: Kind, column: &Column, infer_rows: usize) -> Model {
    // JSON has no number for NaN and infinities (arrow-json would write null).
    if kind == Kind::JsonLines
        && let Some(why) = first_refused(column, |c| match c {
            Cell::Float(f) if !f.is_finite() => Some("a float JSON has no number for"),
            _ => None,
        })
    {
        return Model::Refused(why);
    }
    let whole = match oracle(kind, column, None) {
        Err(Oracle::Unwritable(e)) => return Model::Refused(e),
        Err(Oracle::Unreadable(e)) => return Model::Unreadable(e),
        // Integers past 2^53 in a column read as Float64 would be rounded: conn
        // refuses the read, naming the column (docs/files.md).
        Ok((DataType::Float64, _)) if holds_inexact_integers(column) => {
            return Model::Unreadable("which Float64 cannot hold exactly".into());
        }
        Ok((data_type, cells)) => Expected {
            cells: exact(kind, column, &data_type, &cells).unwrap_or(cells),
            data_type,
            extension: None,
            alternative: None,
        },
    };
    let sampled = oracle(kind, column, Some(infer_rows))
        .ok()
        .and_then(|(data_type, read)| {
            let cells = exact(kind, column, &data_type, &read)?;
            Some(Box::new(Expected {
                data_type,
                cells,
                extension: None,
                alternative: None,
            }))
        });
    Model::Holds(Expected {
        alternative: sampled,
        ..whole
    })
}
