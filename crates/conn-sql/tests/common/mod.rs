//! Helpers shared by conn-sql's integration tests: factories over a temporary
//! secrets.toml, and scratch schemas and databases on the real servers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod matrix;

use std::path::PathBuf;
use std::sync::Arc;

use conn_core::{ConnectionFactory, Env};
use conn_sql::SqlConnection;

pub const POSTGRES_VAR: &str = "CONN_TEST_POSTGRES_URL";
pub const MYSQL_VAR: &str = "CONN_TEST_MYSQL_URL";

/// A factory reading `secrets` as the project's secrets.toml, with a fixed environment.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub factory: ConnectionFactory,
}

impl Project {
    pub fn new(secrets: &str) -> Project {
        Project::with(|_| secrets.to_owned())
    }

    /// A project whose secrets are written knowing the project folder.
    pub fn with(secrets: impl FnOnce(&std::path::Path) -> String) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".streamlit")).unwrap();
        std::fs::write(
            dir.path().join(".streamlit/secrets.toml"),
            secrets(dir.path()),
        )
        .unwrap();
        let factory = ConnectionFactory::builder()
            .env(Env::from_pairs([(
                "HOME",
                dir.path().join("home").display().to_string(),
            )]))
            .project_dir(dir.path())
            .build();
        Project { dir, factory }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn sql(&self, name: &str) -> Arc<SqlConnection> {
        self.factory.get::<SqlConnection>(name).unwrap()
    }
}

/// A schema of its own on the PostgreSQL server, dropped at the end of the test.
pub struct PgScratch {
    pub schema: String,
    pub url: String,
    admin: SqlConnection,
}

impl PgScratch {
    pub fn new(base: &str) -> PgScratch {
        let schema = conn_testkit::unique_name("conn_t");
        let admin = standalone(base);
        admin
            .execute(format!("CREATE SCHEMA {schema}"))
            .blocking()
            .unwrap();
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
        PgScratch { schema, url, admin }
    }

    pub fn admin(&self) -> &SqlConnection {
        &self.admin
    }
}

impl Drop for PgScratch {
    fn drop(&mut self) {
        let _ = self
            .admin
            .execute(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
            .blocking();
    }
}

/// A database of its own on the MySQL/MariaDB server, dropped at the end of the test.
pub struct MySqlScratch {
    pub database: String,
    pub url: String,
    admin: SqlConnection,
}

impl MySqlScratch {
    pub fn new(base: &str) -> MySqlScratch {
        let database = conn_testkit::unique_name("conn_t");
        let admin = standalone(base);
        admin
            .execute(format!("CREATE DATABASE {database}"))
            .blocking()
            .unwrap();
        let (server, _) = base.rsplit_once('/').unwrap();
        let url = format!("{server}/{database}");
        MySqlScratch {
            database,
            url,
            admin,
        }
    }

    pub fn admin(&self) -> &SqlConnection {
        &self.admin
    }
}

impl Drop for MySqlScratch {
    fn drop(&mut self) {
        let _ = self
            .admin
            .execute(format!("DROP DATABASE IF EXISTS {}", self.database))
            .blocking();
    }
}

/// A connection to `url` outside any shared factory.
pub fn standalone(url: &str) -> SqlConnection {
    let factory = ConnectionFactory::builder()
        .env(Env::from_pairs::<&str, &str>([]))
        .secrets(conn_core::Secrets::default())
        .build();
    factory
        .connection(&conn_testkit::unique_name("admin"))
        .option("url", url)
        .get::<SqlConnection>()
        .map(|c| (*c).clone())
        .unwrap()
}

/// Typed views of a result's columns, for comparing what was read with what was
/// written.
pub mod columns {
    use conn_core::Table;
    use conn_core::arrow::array::{Array, AsArray};
    use conn_core::arrow::datatypes::{ArrowPrimitiveType, DataType};
    use conn_core::arrow::util::display::{ArrayFormatter, FormatOptions};

    /// The column's values as `T`'s native type.
    pub fn values<T: ArrowPrimitiveType>(table: &Table, name: &str) -> Vec<Option<T::Native>> {
        let array = table.column(name).unwrap();
        array.as_primitive::<T>().iter().collect()
    }

    /// A float column, each value as its bits (every NaN as one value), so that NaN
    /// and -0.0 compare exactly.
    pub fn float_bits(values: &[Option<f64>]) -> Vec<Option<u64>> {
        values
            .iter()
            .map(|v| {
                v.map(|f| {
                    if f.is_nan() {
                        f64::NAN.to_bits()
                    } else {
                        f.to_bits()
                    }
                })
            })
            .collect()
    }

    pub fn strings(table: &Table, name: &str) -> Vec<Option<String>> {
        let array = table.column(name).unwrap();
        array
            .as_string::<i32>()
            .iter()
            .map(|s| s.map(str::to_owned))
            .collect()
    }

    pub fn binaries(table: &Table, name: &str) -> Vec<Option<Vec<u8>>> {
        let array = table.column(name).unwrap();
        array
            .as_binary::<i32>()
            .iter()
            .map(|s| s.map(<[u8]>::to_vec))
            .collect()
    }

    pub fn bools(table: &Table, name: &str) -> Vec<Option<bool>> {
        let array = table.column(name).unwrap();
        array.as_boolean().iter().collect()
    }

    /// Each value as Arrow displays it (decimals at the column's scale, lists as
    /// `[a, b]`), NULLs as `None`.
    pub fn displayed(table: &Table, name: &str) -> Vec<Option<String>> {
        let array = table.column(name).unwrap();
        let formatter = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default()).unwrap();
        (0..array.len())
            .map(|i| array.is_valid(i).then(|| formatter.value(i).to_string()))
            .collect()
    }

    pub fn data_type(table: &Table, name: &str) -> DataType {
        table
            .schema()
            .field_with_name(name)
            .unwrap()
            .data_type()
            .clone()
    }

    /// Days from 1970-01-01 to `date` (YYYY-MM-DD).
    pub fn days(date: &str) -> i32 {
        let date = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        i32::try_from((date - epoch).num_days()).unwrap()
    }

    /// Microseconds from 1970-01-01 00:00:00 to `timestamp` (YYYY-MM-DD HH:MM:SS[.f]).
    pub fn micros(timestamp: &str) -> i64 {
        chrono::NaiveDateTime::parse_from_str(timestamp, "%Y-%m-%d %H:%M:%S%.f")
            .unwrap()
            .and_utc()
            .timestamp_micros()
    }

    /// `ceil(rows / batch_size)`: the batches a result of `rows` rows must have.
    pub fn batches_for(rows: usize, batch_size: usize) -> usize {
        rows.div_ceil(batch_size)
    }
}

/// The text of a data error after its `connection "<name>": ` prefix, checking that the
/// prefix names `conn`.
pub fn data_message(err: &conn_core::Error, conn: &SqlConnection) -> String {
    let text = err.to_string();
    let prefix = format!("connection \"{}\": ", conn.base().name());
    assert!(text.starts_with(&prefix), "{text}");
    text[prefix.len()..].to_owned()
}

/// Asserts two reads gave the same table: the same schema and the same values, row
/// for row (batches may be cut differently).
pub fn assert_same_table(before: &conn_core::Table, after: &conn_core::Table) {
    assert_eq!(before.schema(), after.schema());
    assert_eq!(before.num_rows(), after.num_rows());
    assert_eq!(
        before.to_record_batch().unwrap(),
        after.to_record_batch().unwrap()
    );
}
