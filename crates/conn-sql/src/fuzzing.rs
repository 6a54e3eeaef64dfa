//! Thin wrappers over internal parsers, for the fuzz targets in `fuzz/` only.
//!
//! Compiled with the `fuzzing` feature; hidden from the docs and not a public API:
//! nothing outside the fuzz targets may depend on it.

use conn_core::{ConnectionConfig, Param, Params, Result};

use crate::config::{Backend, SqlConfig, SqliteTarget};

/// What a `sql` connection's configuration resolves to. Its `Debug` hides the URL,
/// which holds the password.
pub struct ResolvedUrl {
    /// The backend the URL or `dialect` names.
    pub backend: Backend,
    /// The URL handed to sqlx (empty for SQLite). Holds the password.
    pub url: String,
    /// The SQLite file, when the target is a file rather than memory.
    pub sqlite_file: Option<std::path::PathBuf>,
    /// The `Debug` text of the resolved configuration, which must not show a password.
    pub debug: String,
}

impl std::fmt::Debug for ResolvedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedUrl")
            .field("backend", &self.backend)
            .field("sqlite_file", &self.sqlite_file)
            .finish_non_exhaustive()
    }
}

/// Resolves a connection's configuration (a SQLAlchemy URL or its parts) as
/// connecting does, up to the URL given to sqlx.
pub fn resolve_url(config: &ConnectionConfig) -> Result<ResolvedUrl> {
    let resolved = SqlConfig::from_config(config)?;
    Ok(ResolvedUrl {
        backend: resolved.backend,
        url: resolved.url.expose().to_owned(),
        sqlite_file: match &resolved.sqlite {
            Some(SqliteTarget::File(path)) => Some(path.clone()),
            _ => None,
        },
        debug: format!("{resolved:?}"),
    })
}

/// Rewrites `:name` parameters for `backend`: the driver's statement text and its
/// values in placeholder order.
pub fn prepare(sql: &str, params: &Params, backend: Backend) -> Result<(String, Vec<Param>)> {
    crate::named::prepare(sql, params, backend).map(|p| (p.sql, p.values))
}

/// Decodes a binary `COPY ... TO STDOUT` stream of columns of the given type OIDs and
/// type modifiers, fed in `chunks` as the server's messages would bring it, into a
/// table, as a query through COPY does. A type OID conn does not map is an error.
#[cfg(feature = "postgres")]
pub fn decode_copy(
    columns: &[(u32, i32)],
    chunks: &[&[u8]],
    batch_size: usize,
) -> Result<conn_core::Table> {
    use crate::arrow::Batches;
    use crate::arrow::postgres::{Decoder, PgKind};
    use crate::backend::postgres::CopyParser;

    let mut names = Vec::with_capacity(columns.len());
    let mut decoders = Vec::with_capacity(columns.len());
    for (index, (oid, typmod)) in columns.iter().enumerate() {
        let kind = PgKind::from_oid(*oid).ok_or_else(|| {
            conn_core::Error::Data(format!("column \"c{index}\": type OID {oid} is not mapped"))
        })?;
        names.push(format!("c{index}"));
        decoders.push(Decoder::new(&kind.with_typmod(*typmod)));
    }
    let mut batches = Batches::new(names, decoders, batch_size.max(1));
    let mut parser = CopyParser::default();
    for chunk in chunks {
        parser.feed(chunk, &mut batches)?;
    }
    if !parser.ended {
        return Err(conn_core::Error::Data("the COPY stream ended early".into()));
    }
    batches.finish()
}

/// PostgreSQL's binary `numeric` of `value × 10^-scale`, as writes send it (integer
/// arithmetic).
#[cfg(feature = "postgres")]
pub fn encode_numeric_i128(value: i128, scale: u8) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    crate::arrow::postgres::encode_numeric_i128(&mut out, value, scale)?;
    Ok(out)
}

/// PostgreSQL's binary `numeric` of `±digits × 10^-scale`, as writes send it (from
/// decimal digits).
#[cfg(feature = "postgres")]
pub fn encode_numeric_digits(
    negative: bool,
    digits: &str,
    scale: i32,
) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    crate::arrow::postgres::encode_numeric_digits(&mut out, negative, digits, scale)?;
    Ok(out)
}
