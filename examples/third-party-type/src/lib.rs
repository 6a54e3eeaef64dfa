//! A connection type written outside conn, the way any third party would write one:
//! it depends on `conn-core` only and registers itself with one macro call.
//!
//! `type = "inline-table"` serves a small table written in `secrets.toml` itself,
//! handy for demos and fixtures:
//!
//! ```toml
//! [connections.fruits]
//! type = "inline-table"
//! columns = ["name", "price"]
//! rows = [["apple", 1.5], ["pear", 2.25]]
//! ```
//!
//! It is built the way first-party types are: a [`Connector`] that "connects" (here:
//! builds the table from the configuration) and a [`Base`] that gives it, written once
//! in conn-core, lazy connects, reset, the result cache, retries, time limits and the
//! blocking twin of every call.
#![deny(missing_docs)]

use std::fmt;
use std::sync::Arc;

use conn_core::arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use conn_core::plugin::{Base, Connector, Idempotence};
use conn_core::{
    Call, ConnectionConfig, ConnectionType, Error, Kind, Result, StatsSnapshot, Table, Ttl, Value,
};

conn_core::register_connection_type!(InlineTableConnection);

/// A connection to a table written inline in its configuration.
#[derive(Clone)]
pub struct InlineTableConnection {
    base: Base<InlineConnector>,
}

/// Reads the table's columns and rows from the configuration.
#[derive(Debug)]
pub struct InlineConnector {
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
}

impl Connector for InlineConnector {
    type Raw = Table;

    fn from_config(config: &ConnectionConfig) -> Result<Self> {
        config.check_keys(&["columns", "rows"])?;
        let columns: Vec<String> = config.require("columns")?;
        let rows = match config.get("rows").map(Value::kind) {
            None => Vec::new(),
            Some(Kind::Array(rows)) => rows
                .iter()
                .map(|row| match row.kind() {
                    Kind::Array(values) => Ok(values.clone()),
                    _ => Err(config.invalid_value("rows", "expected a list of lists")),
                })
                .collect::<Result<_>>()?,
            Some(_) => return Err(config.invalid_value("rows", "expected a list of lists")),
        };
        Ok(InlineConnector { columns, rows })
    }

    async fn connect(&self) -> Result<Table> {
        build_table(&self.columns, &self.rows)
    }
}

/// One Arrow column from the values of one TOML column: integers, floats, booleans
/// or text, whichever all values are (a missing value is NULL).
fn column(name: &str, values: &[Option<&Value>]) -> Result<ArrayRef> {
    let all = |f: fn(&Kind) -> bool| values.iter().flatten().all(|v| f(v.kind()));
    if all(|k| matches!(k, Kind::Integer(_))) {
        return Ok(Arc::new(Int64Array::from_iter(
            values.iter().map(|v| v.and_then(Value::as_integer)),
        )));
    }
    if all(|k| matches!(k, Kind::Integer(_) | Kind::Float(_))) {
        #[allow(clippy::cast_precision_loss)]
        let floats = values.iter().map(|v| {
            v.and_then(|v| match v.kind() {
                Kind::Integer(i) => Some(*i as f64),
                Kind::Float(f) => Some(*f),
                _ => None,
            })
        });
        return Ok(Arc::new(Float64Array::from_iter(floats)));
    }
    if all(|k| matches!(k, Kind::Boolean(_))) {
        return Ok(Arc::new(BooleanArray::from_iter(
            values.iter().map(|v| v.and_then(Value::as_bool)),
        )));
    }
    if all(|k| matches!(k, Kind::String(_))) {
        return Ok(Arc::new(StringArray::from_iter(
            values.iter().map(|v| v.and_then(Value::as_str)),
        )));
    }
    Err(Error::Data(format!(
        "column \"{name}\" mixes types; give every value of a column the same type"
    )))
}

fn build_table(columns: &[String], rows: &[Vec<Value>]) -> Result<Table> {
    if let Some((index, row)) = rows
        .iter()
        .enumerate()
        .find(|(_, r)| r.len() > columns.len())
    {
        return Err(Error::Data(format!(
            "row {index} has {} values for {} columns",
            row.len(),
            columns.len()
        )));
    }
    let arrays: Vec<(String, ArrayRef)> = columns
        .iter()
        .enumerate()
        .map(|(i, name)| {
            Ok((
                name.clone(),
                column(name, &rows.iter().map(|r| r.get(i)).collect::<Vec<_>>())?,
            ))
        })
        .collect::<Result<_>>()?;
    let batch = RecordBatch::try_from_iter(arrays).map_err(|e| Error::Data(e.to_string()))?;
    Ok(Table::from_batch(batch))
}

impl ConnectionType for InlineTableConnection {
    const NAME: &'static str = "inline-table";
    const ALIASES: &'static [&'static str] = &["inline"];
    const DESCRIPTION: &'static str = "a small table written in secrets.toml itself";
    const EXAMPLE_TOML: &'static str = "[connections.fruits]\ntype = \"inline-table\"\ncolumns = [\"name\", \"price\"]\nrows = [[\"apple\", 1.5]]\n";

    fn from_config(config: ConnectionConfig) -> Result<Self> {
        Ok(InlineTableConnection {
            base: Base::new(&config, Self::NAME)?,
        })
    }

    fn reset(&self) {
        self.base.reset();
    }

    fn close(&self) {
        self.base.close();
    }
}

impl InlineTableConnection {
    /// The table, cached for `ttl`: `.await` it or call `.blocking()`.
    pub fn read(&self, ttl: Ttl) -> Call<Table> {
        let stats = Arc::clone(self.base.handle().stats());
        self.base
            .read("table".into(), ttl, Idempotence::Read, move |_, table| {
                stats.record_query();
                async move { Ok(table) }
            })
    }

    /// Counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.base.stats()
    }

    /// Always healthy once the table builds.
    pub fn health_check(&self) -> Call<()> {
        self.base.health_check()
    }
}

impl fmt::Debug for InlineTableConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InlineTableConnection")
            .field("name", &self.base.name())
            .finish_non_exhaustive()
    }
}
