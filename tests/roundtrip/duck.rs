//! DuckDB in a temporary file, through its Arrow appender and Arrow export
//! (docs/duckdb.md).

use std::sync::Arc;

use conn::arrow::datatypes::{DataType, TimeUnit};
use conn::duckdb::{DuckDbConnection, WriteMode};
use conn::{ConnectionFactory, Env, Table, Ttl};

use crate::model::{self, Model, first_refused};
use crate::runner::Backend;
use crate::tables::{Case, Cell, Column, Profile, Ty};

/// The `duckdb` type on a file database.
pub struct DuckBackend {
    conn: Arc<DuckDbConnection>,
    /// The session's `TimeZone`, which zoned timestamps read back in.
    zone: String,
    _dir: tempfile::TempDir,
}

impl DuckBackend {
    pub fn new() -> DuckBackend {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".streamlit")).unwrap();
        std::fs::write(
            dir.path().join(".streamlit/secrets.toml"),
            format!(
                "[connections.ducks]\ntype = \"duckdb\"\ndatabase = \"{}\"\n",
                dir.path().join("rt.duckdb").display()
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
        let conn = factory.get::<DuckDbConnection>("ducks").unwrap();
        let zone = conn
            .query("SELECT current_setting('TimeZone') AS zone")
            .blocking()
            .unwrap()
            .rows::<(String,)>()
            .unwrap()
            .remove(0)
            .0;
        DuckBackend {
            conn,
            zone,
            _dir: dir,
        }
    }
}

/// A UUID's canonical text (`a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11`).
fn uuid_text(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// What DuckDB gives back (docs/duckdb.md, "Types").
fn duckdb(column: &Column, zone: &str) -> Model {
    let refused = first_refused(column, |cell| match (column.ty, cell) {
        (Ty::TsNsUtc | Ty::Time64Ns, Cell::Int(v)) if v % 1000 != 0 => Some("nanoseconds"),
        (Ty::Interval, Cell::Interval { nanos, .. }) if nanos % 1000 != 0 => Some("nanoseconds"),
        _ => None,
    });
    if let Some(why) = refused {
        return Model::Refused(why);
    }
    let micros = |c: &Cell| match c {
        Cell::Int(v) => Cell::Int(v / 1000),
        other => other.clone(),
    };
    match column.ty {
        // DuckDB exports UUIDs as their text.
        Ty::Uuid => Model::mapped(column, DataType::Utf8, |c| match c {
            Cell::Bytes(b) => Cell::Text(uuid_text(b)),
            other => other.clone(),
        }),
        Ty::TsNsUtc => Model::mapped(
            column,
            DataType::Timestamp(TimeUnit::Microsecond, Some(zone.into())),
            micros,
        ),
        Ty::Time64Ns => Model::mapped(column, DataType::Time64(TimeUnit::Microsecond), micros),
        // A negative scale is kept as integer digits.
        Ty::Dec(p, s) if s < 0 => Model::mapped(
            column,
            DataType::Decimal128(u8::try_from(i16::from(p) - i16::from(s)).unwrap(), 0),
            |c| model::rescaled(c, -s),
        ),
        // TIMESTAMPTZ comes back in the session's time zone: the same instants.
        Ty::TsUtc => Model::as_type(
            column,
            DataType::Timestamp(TimeUnit::Microsecond, Some(zone.into())),
        ),
        _ => Model::same(column),
    }
}

impl Backend for DuckBackend {
    fn name(&self) -> &'static str {
        "duckdb"
    }

    fn profile(&self) -> Profile {
        Profile {
            types: vec![
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
                Ty::Dec(0, 0),
                Ty::Utf8,
                Ty::Binary,
                Ty::Uuid,
                Ty::Date32,
                Ty::Time64,
                Ty::Ts,
                Ty::TsUtc,
                Ty::TsNs,
                Ty::TsNsUtc,
                Ty::Time64Ns,
                Ty::Interval,
                Ty::ListI32,
                Ty::ListUtf8,
            ],
            min_scale: -4,
            bmp_names: false,
            variants: 1,
        }
    }

    fn model(&self, column: &Column, _case: &Case) -> Model {
        duckdb(column, &self.zone)
    }

    fn write(&self, name: &str, table: &Table, _case: &Case) -> conn::Result<u64> {
        self.conn
            .write_table(name, table, WriteMode::Create)
            .blocking()
    }

    fn read(&self, name: &str, _case: &Case) -> conn::Result<Table> {
        self.conn
            .query(format!("SELECT * FROM {name} ORDER BY rid"))
            .ttl(Ttl::ZERO)
            .blocking()
    }

    fn remove(&self, name: &str, _case: &Case) {
        let _ = self
            .conn
            .execute_batch(format!("DROP TABLE IF EXISTS {name}"))
            .blocking();
    }
}
