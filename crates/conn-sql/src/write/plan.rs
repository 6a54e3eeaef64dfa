//! Matching the Arrow schema to the target table before any row is written: every
//! field must name a column, and its Arrow type must be one the column can hold.

use arrow::datatypes::Schema;
use conn_core::{Error, Result};

use super::name::TableName;
use super::target::{Target, accepts, describe};
use crate::config::Backend;

/// A column of the target table, as its catalog describes it.
#[derive(Debug, Clone)]
pub(crate) struct CatalogColumn {
    pub(crate) name: String,
    /// The column's type as the database spells it, for messages.
    pub(crate) sql_type: String,
    /// What the column holds, or why conn-sql cannot write to it.
    pub(crate) target: std::result::Result<Target, String>,
}

/// An Arrow field and the column it is written to.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    /// The column's name in the table.
    pub(crate) name: String,
    pub(crate) sql_type: String,
    pub(crate) target: Target,
}

impl Planned {
    /// The error for a value of row `row` that does not fit.
    pub(crate) fn value_error(&self, row: usize, kind: &str) -> Error {
        Error::Data(format!(
            "column \"{}\" ({}), row {row}: {kind}",
            self.name, self.sql_type
        ))
    }
}

/// One planned column per field of `schema`, in order, or an error naming every field
/// that cannot be written.
pub(crate) fn plan(
    table: &TableName,
    schema: &Schema,
    catalog: &[CatalogColumn],
    backend: Backend,
) -> Result<Vec<Planned>> {
    if catalog.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "table {table} does not exist (WriteMode::Append writes to an existing table; \
             WriteMode::Create makes one)"
        )));
    }
    // MySQL and SQLite column names are case-insensitive.
    let folds = backend != Backend::Postgres;
    let mut planned = Vec::with_capacity(schema.fields().len());
    let mut problems = Vec::new();
    for (index, field) in schema.fields().iter().enumerate() {
        if schema.fields()[..index]
            .iter()
            .any(|f| f.name() == field.name())
        {
            problems.push(format!("column \"{}\" appears twice", field.name()));
            continue;
        }
        let found = catalog
            .iter()
            .find(|c| &c.name == field.name())
            .or_else(|| {
                folds
                    .then(|| {
                        catalog
                            .iter()
                            .find(|c| c.name.to_lowercase() == field.name().to_lowercase())
                    })
                    .flatten()
            });
        let Some(column) = found else {
            let names: Vec<String> = catalog.iter().map(|c| format!("\"{}\"", c.name)).collect();
            problems.push(format!(
                "column \"{}\" is not in table {table} (its columns: {})",
                field.name(),
                names.join(", ")
            ));
            continue;
        };
        match &column.target {
            Err(why) => problems.push(format!(
                "column \"{}\": conn-sql cannot write to a {} column of type {}: {why}",
                column.name,
                label(backend),
                column.sql_type
            )),
            Ok(target) if !accepts(target, field.data_type()) => problems.push(format!(
                "column \"{}\": cannot write Arrow {} values to a {} column of type {}",
                column.name,
                describe(field),
                label(backend),
                column.sql_type
            )),
            Ok(target) => planned.push(Planned {
                name: column.name.clone(),
                sql_type: column.sql_type.clone(),
                target: target.clone().resolve_any(field.data_type()),
            }),
        }
    }
    if problems.is_empty() {
        Ok(planned)
    } else {
        Err(Error::Data(format!(
            "cannot write to table {table}: {}",
            problems.join("; ")
        )))
    }
}

/// The database's name for messages.
pub(crate) fn label(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "PostgreSQL",
        Backend::MySql => "MySQL",
        Backend::Sqlite => "SQLite",
    }
}
