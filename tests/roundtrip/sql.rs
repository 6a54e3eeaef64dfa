//! PostgreSQL, MariaDB and SQLite through the `sql` type: scratch schemas, one pooled
//! connection per read batch size, and each database's documented differences
//! (docs/sql.md, "Types `Create` and `Replace` make").

use std::sync::Arc;

use conn::arrow::datatypes::{DataType, TimeUnit};
use conn::sql::{SqlConnection, WriteMode};
use conn::{ConnectionFactory, Env, Table, Ttl};

use crate::arrays;
use crate::model::{self, Model, first_refused};
use crate::runner::Backend;
use crate::tables::{Case, Cell, Column, Profile, Ty, days};

/// Which database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Postgres,
    MySql,
    Sqlite,
}

/// A scratch schema (PostgreSQL) or database (MariaDB), dropped at the end.
struct Scratch {
    admin: SqlConnection,
    drop: String,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = self.admin.execute(self.drop.clone()).blocking();
    }
}

/// A connection to `url` outside any project.
fn standalone(url: &str) -> SqlConnection {
    let factory = ConnectionFactory::builder()
        .env(Env::from_pairs::<&str, &str>([]))
        .secrets(conn::Secrets::default())
        .build();
    factory
        .connection(&conn_testkit::unique_name("admin"))
        .option("url", url)
        .get::<SqlConnection>()
        .map(|c| (*c).clone())
        .unwrap()
}

/// A backend of the `sql` type.
pub struct SqlBackend {
    which: Which,
    /// Connections `b2` to `b7` read 2 to 7 rows per batch.
    factory: ConnectionFactory,
    _dir: tempfile::TempDir,
    _scratch: Option<Scratch>,
}

fn project(url: impl FnOnce(&std::path::Path) -> String) -> (tempfile::TempDir, ConnectionFactory) {
    let dir = tempfile::tempdir().unwrap();
    let url = url(dir.path());
    let mut secrets = String::new();
    for batch_size in 2..=7 {
        secrets.push_str(&format!(
            "[connections.b{batch_size}]\ntype = \"sql\"\nurl = \"{url}\"\nbatch_size = {batch_size}\n\
             create_engine_kwargs = {{ pool_size = 1, max_overflow = 1 }}\n\n"
        ));
    }
    std::fs::create_dir_all(dir.path().join(".streamlit")).unwrap();
    std::fs::write(dir.path().join(".streamlit/secrets.toml"), secrets).unwrap();
    let factory = ConnectionFactory::builder()
        .env(Env::from_pairs([(
            "HOME",
            dir.path().join("home").display().to_string(),
        )]))
        .project_dir(dir.path())
        .build();
    (dir, factory)
}

impl SqlBackend {
    /// PostgreSQL in a scratch schema, if CONN_TEST_POSTGRES_URL is set.
    pub fn postgres() -> Option<SqlBackend> {
        let base = conn_testkit::server_url("CONN_TEST_POSTGRES_URL", "PostgreSQL")?;
        let schema = conn_testkit::unique_name("conn_rt");
        let admin = standalone(&base);
        admin
            .execute(format!("CREATE SCHEMA {schema}"))
            .blocking()
            .unwrap();
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
        let (dir, factory) = project(|_| url);
        Some(SqlBackend {
            which: Which::Postgres,
            factory,
            _dir: dir,
            _scratch: Some(Scratch {
                admin,
                drop: format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
            }),
        })
    }

    /// MariaDB in a scratch database, if CONN_TEST_MYSQL_URL is set.
    pub fn mysql() -> Option<SqlBackend> {
        let base = conn_testkit::server_url("CONN_TEST_MYSQL_URL", "MariaDB")?;
        let database = conn_testkit::unique_name("conn_rt");
        let admin = standalone(&base);
        admin
            .execute(format!("CREATE DATABASE {database}"))
            .blocking()
            .unwrap();
        let (server, _) = base.rsplit_once('/').unwrap();
        let (dir, factory) = project(|_| format!("{server}/{database}"));
        Some(SqlBackend {
            which: Which::MySql,
            factory,
            _dir: dir,
            _scratch: Some(Scratch {
                admin,
                drop: format!("DROP DATABASE IF EXISTS {database}"),
            }),
        })
    }

    /// SQLite in a temporary file.
    pub fn sqlite() -> SqlBackend {
        // sqlite:////absolute/path: an absolute path after the three slashes.
        let (dir, factory) = project(|dir| format!("sqlite:///{}", dir.join("rt.db").display()));
        SqlBackend {
            which: Which::Sqlite,
            factory,
            _dir: dir,
            _scratch: None,
        }
    }

    fn conn(&self, case: &Case) -> Arc<SqlConnection> {
        self.factory
            .get::<SqlConnection>(&format!("b{}", case.batch_size))
            .unwrap()
    }
}

const MICROS_PER_DAY: i128 = 86_400_000_000;
/// PostgreSQL's first timestamp, 4714-11-24 00:00:00 BC, in µs from 1970.
const PG_TIMESTAMP_MIN: i128 = -210_866_803_200_000_000;
const I64_MAX: i128 = i64::MAX as i128;

fn year_1_to_9999(days: i128) -> bool {
    (i128::from(days::YEAR_1)..=i128::from(days::YEAR_9999_END)).contains(&days)
}

fn year_1_to_9999_micros(micros: i128) -> bool {
    (i128::from(days::YEAR_1) * MICROS_PER_DAY
        ..(i128::from(days::YEAR_9999_END) + 1) * MICROS_PER_DAY)
        .contains(&micros)
}

fn has_nul(cell: &Cell) -> bool {
    match cell {
        Cell::Text(t) => t.contains('\0'),
        Cell::List(items) => items.iter().flatten().any(has_nul),
        _ => false,
    }
}

fn timestamp(zone: Option<&str>) -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, zone.map(Into::into))
}

/// A decimal of negative scale reads back at scale 0, its values times 10^-s.
fn decimal_at_zero_scale(column: &Column, p: u8, s: i8, mysql: bool) -> Model {
    let digits = i16::from(p) - i16::from(s.min(0));
    let data_type = if mysql {
        DataType::Decimal128(38, s.max(0))
    } else if digits <= 38 {
        DataType::Decimal128(u8::try_from(digits).unwrap(), s.max(0))
    } else {
        DataType::Decimal256(u8::try_from(digits).unwrap(), 0)
    };
    let up = if s < 0 { -s } else { 0 };
    Model::mapped(column, data_type, |c| model::rescaled(c, up))
}

/// Whether a nanosecond value has a sub-microsecond part (refused: the databases
/// keep microseconds).
fn sub_micro(column: &Column, cell: &Cell) -> bool {
    matches!(
        (column.ty, cell),
        (Ty::TsNs | Ty::TsNsUtc | Ty::Time64Ns, Cell::Int(v)) if v % 1000 != 0
    )
}

/// Nanosecond columns read back in microseconds.
fn in_micros(column: &Column, data_type: DataType) -> Model {
    Model::mapped(column, data_type, |c| match c {
        Cell::Int(v) => Cell::Int(v / 1000),
        other => other.clone(),
    })
}

/// Floats whose -0.0 reads back as 0.0.
fn positive_zero(column: &Column, data_type: DataType) -> Model {
    Model::mapped(column, data_type, |c| match c {
        Cell::Float(f) if *f == 0.0 => Cell::Float(0.0),
        other => other.clone(),
    })
}

fn postgres(column: &Column) -> Model {
    let refused = first_refused(column, |cell| match (column.ty, cell) {
        (Ty::Utf8 | Ty::ListUtf8, c) if has_nul(c) => Some("text with NUL"),
        (Ty::Date32, Cell::Int(d))
            if *d < i128::from(days::PG_MIN) || *d > i128::from(days::PG_MAX) =>
        {
            Some("a date outside PostgreSQL's")
        }
        (Ty::Ts | Ty::TsUtc, Cell::Int(t)) if *t < PG_TIMESTAMP_MIN => {
            Some("a timestamp before 4714 BC")
        }
        (Ty::Interval, Cell::Interval { nanos, .. }) if nanos % 1000 != 0 => {
            Some("an interval with nanoseconds")
        }
        (_, c) if sub_micro(column, c) => Some("nanoseconds"),
        _ => None,
    });
    if let Some(why) = refused {
        return Model::Refused(why);
    }
    match column.ty {
        Ty::TsNs => in_micros(column, timestamp(None)),
        Ty::TsNsUtc => in_micros(column, timestamp(Some("UTC"))),
        Ty::Time64Ns => in_micros(column, DataType::Time64(TimeUnit::Microsecond)),
        Ty::I8 | Ty::U8 => Model::as_type(column, DataType::Int16),
        Ty::U16 => Model::as_type(column, DataType::Int32),
        Ty::U32 => Model::as_type(column, DataType::Int64),
        Ty::U64 => Model::as_type(column, DataType::Decimal128(20, 0)),
        Ty::Dec(p, s) if s < 0 => decimal_at_zero_scale(column, p, s, false),
        _ => Model::same(column),
    }
}

fn mysql(column: &Column) -> Model {
    if let Ty::Dec(_, s) = column.ty
        && s > 30
    {
        return Model::Refused("a DECIMAL scale over 30".into());
    }
    let refused = first_refused(column, |cell| match (column.ty, cell) {
        (Ty::F32 | Ty::F64, Cell::Float(f)) if f.is_nan() => Some("NaN"),
        (Ty::F32 | Ty::F64, Cell::Float(f)) if f.is_infinite() => Some("an infinity"),
        (Ty::Date32, Cell::Int(d)) if !year_1_to_9999(*d) => Some("a date beyond years 1-9999"),
        (Ty::Ts | Ty::TsUtc, Cell::Int(t)) if !year_1_to_9999_micros(*t) => {
            Some("a timestamp beyond years 1-9999")
        }
        (_, c) if sub_micro(column, c) => Some("nanoseconds"),
        _ => None,
    });
    if let Some(why) = refused {
        return Model::Refused(why);
    }
    match column.ty {
        Ty::TsNs | Ty::TsNsUtc => in_micros(column, timestamp(None)),
        Ty::Time64Ns => in_micros(column, DataType::Time64(TimeUnit::Microsecond)),
        // The scale comes from the values: with none, it is 0.
        Ty::Dec(..) if column.cells.iter().all(Option::is_none) => {
            Model::as_type(column, DataType::Decimal128(38, 0))
        }
        Ty::Dec(p, s) => decimal_at_zero_scale(column, p, s, true),
        // MariaDB stores -0.0 as 0.0.
        Ty::F32 | Ty::F64 => positive_zero(column, arrays::data_type(column.ty)),
        Ty::Uuid => Model::as_type(column, DataType::Binary),
        Ty::TsUtc => Model::as_type(column, timestamp(None)),
        _ => Model::same(column),
    }
}

fn sqlite(column: &Column) -> Model {
    let refused = first_refused(column, |cell| match (column.ty, cell) {
        (Ty::U64, Cell::Int(i)) if *i > I64_MAX => Some("an integer beyond i64"),
        (Ty::F32 | Ty::F64, Cell::Float(f)) if f.is_nan() => Some("NaN"),
        (Ty::Dec(_, s), Cell::Int(v)) => {
            let whole = s <= 0 || v % 10i128.pow(u32::from(s.unsigned_abs())) == 0;
            if whole {
                let value = if s <= 0 {
                    v.checked_mul(10i128.pow(u32::from(s.unsigned_abs())))
                } else {
                    Some(v / 10i128.pow(u32::from(s.unsigned_abs())))
                };
                match value {
                    Some(i) if i64::try_from(i).is_ok() => None,
                    _ => Some("a whole decimal beyond i64"),
                }
            } else if model::exact_f64(*v, s).is_none() {
                Some("a decimal no f64 prints back")
            } else {
                None
            }
        }
        (Ty::Date32, Cell::Int(d)) if !year_1_to_9999(*d) => Some("a date beyond years 1-9999"),
        (Ty::Ts | Ty::TsUtc, Cell::Int(t)) if !year_1_to_9999_micros(*t) => {
            Some("a timestamp beyond years 1-9999")
        }
        (_, c) if sub_micro(column, c) => Some("nanoseconds"),
        _ => None,
    });
    if let Some(why) = refused {
        return Model::Refused(why);
    }
    match column.ty {
        Ty::TsNs | Ty::TsNsUtc => in_micros(column, timestamp(None)),
        Ty::Time64Ns => in_micros(column, DataType::Time64(TimeUnit::Microsecond)),
        Ty::I8 | Ty::I16 | Ty::I32 | Ty::I64 | Ty::U8 | Ty::U16 | Ty::U32 | Ty::U64 => {
            Model::as_type(column, DataType::Int64)
        }
        // SQLite stores a whole REAL as an integer, so -0.0 reads back as 0.0.
        Ty::F32 | Ty::F64 => positive_zero(column, DataType::Float64),
        Ty::Uuid => Model::as_type(column, DataType::Binary),
        Ty::TsUtc => Model::as_type(column, timestamp(None)),
        Ty::Dec(_, s) => sqlite_decimal(column, s),
        _ => Model::same(column),
    }
}

/// SQLite's NUMERIC: whole values are stored as integers, the others as floats; the
/// column settles on Int64 (integers only), Float64 (any fraction) or Null (no value).
fn sqlite_decimal(column: &Column, s: i8) -> Model {
    let unit = 10i128.pow(u32::from(s.unsigned_abs()));
    let as_number = |v: i128| -> Cell {
        if s <= 0 {
            Cell::Int(v * unit)
        } else if v % unit == 0 {
            Cell::Int(v / unit)
        } else {
            Cell::Float(model::exact_f64(v, s).unwrap())
        }
    };
    let numbers: Vec<Option<Cell>> = column
        .cells
        .iter()
        .map(|c| match c {
            Some(Cell::Int(v)) => Some(as_number(*v)),
            _ => None,
        })
        .collect();
    let any_float = numbers.iter().any(|c| matches!(c, Some(Cell::Float(_))));
    let any_value = numbers.iter().any(Option::is_some);
    if !any_value {
        return Model::as_type(column, DataType::Null);
    }
    if !any_float {
        return Model::Holds(model::Expected {
            data_type: DataType::Int64,
            cells: numbers,
            extension: None,
            alternative: None,
        });
    }
    let big = numbers
        .iter()
        .any(|c| matches!(c, Some(Cell::Int(i)) if i.unsigned_abs() > 1 << 53));
    if big {
        return Model::Unreadable("cannot hold that integer exactly".into());
    }
    Model::Holds(model::Expected {
        data_type: DataType::Float64,
        cells: numbers
            .into_iter()
            .map(|c| match c {
                Some(Cell::Int(i)) => Some(Cell::Float(i as f64)),
                other => other,
            })
            .collect(),
        extension: None,
        alternative: None,
    })
}

impl Backend for SqlBackend {
    fn name(&self) -> &'static str {
        match self.which {
            Which::Postgres => "postgres",
            Which::MySql => "mariadb",
            Which::Sqlite => "sqlite",
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
        ];
        if self.which == Which::Postgres {
            types.extend([Ty::Interval, Ty::ListI32, Ty::ListUtf8]);
        }
        Profile {
            types,
            min_scale: -4,
            bmp_names: self.which == Which::MySql,
            variants: 1,
        }
    }

    fn model(&self, column: &Column, _case: &Case) -> Model {
        match self.which {
            Which::Postgres => postgres(column),
            Which::MySql => mysql(column),
            Which::Sqlite => sqlite(column),
        }
    }

    fn write(&self, name: &str, table: &Table, case: &Case) -> conn::Result<u64> {
        self.conn(case)
            .write_table(name, table, WriteMode::Create)
            .blocking()
    }

    fn read(&self, name: &str, case: &Case) -> conn::Result<Table> {
        self.conn(case)
            .query(format!("SELECT * FROM {name} ORDER BY rid"))
            .ttl(Ttl::ZERO)
            .blocking()
    }

    fn remove(&self, name: &str, case: &Case) {
        let _ = self
            .conn(case)
            .execute(format!("DROP TABLE IF EXISTS {name}"))
            .blocking();
    }
}
