//! PostgreSQL: results through binary `COPY ... TO STDOUT` when the statement allows
//! it (a plain query without parameters, outside a session), through binary rows
//! otherwise; both feed the same decoders.

use std::collections::HashMap;
use std::str::FromStr;

use bytes::BytesMut;
use conn_core::{Error, Param, Result};
use futures::TryStreamExt;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{
    PgConnectOptions, PgConnection, PgPoolOptions, PgRow, PgTypeInfo, PgTypeKind, PgValueFormat,
};
use sqlx::{
    AssertSqlSafe, Column, Connection, Executor, Postgres, Row, SqlSafeStr, Statement, TypeInfo,
    ValueRef,
};

use super::output::{Output, Read};
use super::{Ctx, pg_params};
use crate::arrow::Batches;
use crate::arrow::postgres::{Decoder, PgKind};
use crate::config::SqlConfig;
use crate::named::Prepared;

/// What the catalog says now about the table columns of a statement's result: each
/// one's type, and its `numeric(p, s)` type modifier (a domain's when the column has
/// none), by (table OID, column number).
struct TableColumns(HashMap<(u32, i16), (u32, u32, i32)>);

impl TableColumns {
    /// One catalog query for every column of `statement` that comes from a table; none
    /// when no column does.
    async fn read(
        conn: &mut PgConnection,
        statement: &sqlx::postgres::PgStatement,
        ctx: &Ctx,
    ) -> Result<TableColumns> {
        let (tables, numbers): (Vec<Oid>, Vec<i16>) = statement
            .columns()
            .iter()
            .filter_map(|c| c.relation_id().zip(c.relation_attribute_no()))
            .unzip();
        if tables.is_empty() {
            return Ok(TableColumns(HashMap::new()));
        }
        let rows: Vec<(Oid, i16, Oid, i32, Oid, i32)> = sqlx::query_as(
            "SELECT a.attrelid, a.attnum, a.atttypid, a.atttypmod, t.typbasetype, t.typtypmod \
             FROM unnest($1::oid[], $2::int2[]) AS c(rel, num) \
             JOIN pg_catalog.pg_attribute a \
               ON a.attrelid = c.rel AND a.attnum = c.num AND NOT a.attisdropped \
             JOIN pg_catalog.pg_type t ON t.oid = a.atttypid",
        )
        .bind(tables)
        .bind(numbers)
        .persistent(false)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| ctx.err(e, "reading column types"))?;
        Ok(TableColumns(
            rows.into_iter()
                .map(|(table, number, type_id, typmod, base, domain_typmod)| {
                    let typmod = if typmod < 0 { domain_typmod } else { typmod };
                    ((table.0, number), (type_id.0, base.0, typmod))
                })
                .collect(),
        ))
    }

    /// The column's current type modifier; `None` when the statement's description of
    /// it is out of date (the column was dropped or changed type since the statement
    /// was prepared and cached).
    fn typmod(&self, column: &sqlx::postgres::PgColumn) -> Option<i32> {
        let Some(key) = column.relation_id().zip(column.relation_attribute_no()) else {
            return Some(-1);
        };
        let (type_id, base, typmod) = *self.0.get(&(key.0.0, key.1))?;
        let described = column.type_info().oid().map(|oid| oid.0);
        (described == Some(type_id) || described == Some(base)).then_some(typmod)
    }
}

/// Opens a pool.
pub(crate) async fn connect(config: &SqlConfig, ctx: &Ctx) -> Result<sqlx::PgPool> {
    let mut options =
        PgConnectOptions::from_str(config.url.expose()).map_err(|e| ctx.err(e, "connect"))?;
    for (key, value) in &config.pool.connect_args {
        options = match key.as_str() {
            "sslmode" => options.ssl_mode(
                value
                    .parse()
                    .map_err(|e: sqlx::Error| ctx.err(e, "reading connect_args.sslmode"))?,
            ),
            "application_name" => options.application_name(value),
            "options" => options.options(
                value
                    .split("-c")
                    .filter_map(|kv| kv.trim().split_once('='))
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())),
            ),
            other => {
                super::ignored_connect_arg(crate::config::Backend::Postgres, other);
                options
            }
        };
    }
    if config.pool.log_statements {
        options = sqlx::ConnectOptions::log_statements(options, log::LevelFilter::Info);
    }
    // A lazy pool, then one connect of our own: a down server is reported at once
    // with its cause, instead of after sqlx's retries until `pool_timeout`.
    let pool = config
        .pool
        .apply(PgPoolOptions::new())
        .connect_lazy_with(options);
    super::checkout::probe(&pool, ctx).await?;
    Ok(pool)
}

/// The kind of a result column's type, looking through domains and enums.
fn kind_of(type_info: &PgTypeInfo) -> Option<PgKind> {
    if let Some(kind) = type_info.oid().and_then(|oid| PgKind::from_oid(oid.0)) {
        return Some(kind);
    }
    match type_info.kind() {
        PgTypeKind::Enum(_) => Some(PgKind::Text),
        PgTypeKind::Domain(base) => kind_of(base),
        PgTypeKind::Array(element) => match kind_of(element)? {
            PgKind::Array(_) => None,
            inner => Some(PgKind::Array(Box::new(inner))),
        },
        _ => None,
    }
}

fn unsupported(column: &str, type_name: &str) -> Error {
    Error::Data(format!(
        "column \"{column}\" has PostgreSQL type {type_name}, which conn-sql does not map to \
         Arrow; cast it in the query, for example \"{column}\"::text"
    ))
}

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

/// Binds `values` to a prepared statement, each encoded as the type the server inferred
/// for its placeholder.
fn bind_all<'q>(
    statement: &'q sqlx::postgres::PgStatement,
    values: &[Param],
) -> Result<PgQuery<'q>> {
    let types: &[PgTypeInfo] = match statement.parameters() {
        Some(sqlx::Either::Left(types)) => types,
        _ => &[],
    };
    if types.len() != values.len() {
        return Err(Error::InvalidArgument(format!(
            "the statement has {} placeholders but {} values were given",
            types.len(),
            values.len()
        )));
    }
    let mut query = statement.query();
    for (index, (value, target)) in values.iter().zip(types).enumerate() {
        query = query.bind(pg_params::encode(value, target, index)?);
    }
    Ok(query)
}

/// The statement as the body of `COPY (...) TO STDOUT`: a plain query (`SELECT`,
/// `VALUES`, `TABLE`) without trailing semicolons and comments; `None` for anything
/// else (several statements included).
fn copy_body(sql: &str) -> Option<&str> {
    if !matches!(
        crate::named::first_keyword(sql).as_str(),
        "select" | "values" | "table"
    ) {
        return None;
    }
    // The end of the last token that is not whitespace, a comment or a semicolon.
    let bytes = sql.as_bytes();
    let (mut end, mut i, mut semicolon) = (0, 0, false);
    while i < sql.len() {
        let skip = crate::named::skip_non_parameter(sql, i, crate::config::Backend::Postgres);
        let (next, significant) = if skip > i {
            (
                skip,
                !sql[i..].starts_with("--") && !sql[i..].starts_with("/*"),
            )
        } else {
            let width = sql[i..].chars().next().map_or(1, char::len_utf8);
            (
                i + width,
                !bytes[i].is_ascii_whitespace() && bytes[i] != b';',
            )
        };
        if skip == i && bytes[i] == b';' {
            semicolon = true;
        } else if significant {
            if semicolon {
                return None;
            }
            end = next;
        }
        i = next;
    }
    Some(&sql[..end])
}

/// The statement for `sql` with decoders for its columns, checked against the catalog:
/// sqlx caches prepared statements per connection, and a cached description outlives
/// an `ALTER TABLE`; an outdated one is dropped and the statement prepared afresh.
/// Table columns get their current `numeric(p, s)` from the same catalog query.
async fn describe(
    conn: &mut PgConnection,
    sql: &str,
    ctx: &Ctx,
) -> Result<(sqlx::postgres::PgStatement, Vec<String>, Vec<Decoder>)> {
    let mut refreshed = false;
    loop {
        let statement = conn
            .prepare(AssertSqlSafe(sql.to_owned()).into_sql_str())
            .await
            .map_err(|e| ctx.err(e, "query"))?;
        let catalog = TableColumns::read(conn, &statement, ctx).await?;
        let mut names = Vec::with_capacity(statement.columns().len());
        let mut decoders = Vec::with_capacity(statement.columns().len());
        let mut outdated = false;
        for column in statement.columns() {
            let type_info = column.type_info();
            let Some(typmod) = catalog.typmod(column) else {
                outdated = true;
                break;
            };
            let kind =
                kind_of(type_info).ok_or_else(|| unsupported(column.name(), type_info.name()))?;
            names.push(column.name().to_owned());
            decoders.push(Decoder::new(&kind.with_typmod(typmod)));
        }
        if !outdated {
            return Ok((statement, names, decoders));
        }
        if refreshed {
            return Err(Error::Data(
                "the columns of this query changed again while it was being prepared; run \
                 it again"
                    .into(),
            ));
        }
        conn.clear_cached_statements()
            .await
            .map_err(|e| ctx.err(e, "query"))?;
        refreshed = true;
    }
}

/// What [`fetch`] read.
pub(crate) enum Fetched {
    /// The result, kept or streamed.
    Done(Read),
    /// The server refused to run the query inside COPY. sqlx then leaves the server's
    /// ReadyForQuery unread, so the connection is out of step with the server: the
    /// caller must close it and read the rows through another connection.
    CopyRefused,
    /// The statement failed in a way that leaves the connection out of step with the
    /// server (an error before a COPY's rows flow; a streamed read that stopped
    /// mid-result because its reader went away or a batch did not fit): the caller
    /// must close it and report the error.
    OutOfStep(Error),
}

/// Runs a query on `conn`: through binary COPY when `allow_copy` and the statement is a
/// plain query without parameters, through binary rows otherwise. Sessions do not
/// allow COPY: a refused COPY would leave their connection unusable (see
/// [`Fetched::CopyRefused`]).
///
/// A statement whose cached description turns out to be out of date while it runs (a
/// `SELECT *` after a column was added: more COPY fields than described columns, or the
/// server refusing the cached plan) is prepared afresh and run once more, unless a
/// failed statement has aborted the transaction it ran in, or a streamed read already
/// sent rows (both happen before the first row, but a stream never repeats one).
pub(crate) async fn fetch(
    conn: &mut PgConnection,
    prepared: Prepared,
    ctx: &Ctx,
    allow_copy: bool,
    out: Output<'_>,
) -> Result<Fetched> {
    let fetched = match attempt(conn, &prepared, ctx, allow_copy, out).await {
        Ok(Attempt::Done(fetched)) => Ok(fetched),
        Ok(Attempt::Outdated(err)) if matches!(out, Output::Stream(sink) if sink.started()) => {
            Err(err)
        }
        Ok(Attempt::Outdated(_)) => {
            conn.clear_cached_statements()
                .await
                .map_err(|e| ctx.err(e, "query"))?;
            match attempt(conn, &prepared, ctx, allow_copy, out).await {
                Ok(Attempt::Done(fetched)) => Ok(fetched),
                Ok(Attempt::Outdated(err)) | Err(err) => Err(err),
            }
        }
        Err(err) => Err(err),
    };
    if matches!(fetched, Ok(Fetched::Done(_)) | Err(_)) {
        // No description outlives its statement: a COPY re-plans the statement's text,
        // and a cached description would decode a column whose type changed since
        // (an ALTER TABLE under a computed column) with the old type's decoder, or
        // label columns that swapped names with the old names.
        conn.clear_cached_statements()
            .await
            .map_err(|e| ctx.err(e, "query"))?;
    }
    fetched
}

/// One run of a query: what it read, or the finding that the statement's cached
/// description is out of date (with the error to report if a fresh one fails too).
enum Attempt {
    Done(Fetched),
    Outdated(Error),
}

async fn attempt(
    conn: &mut PgConnection,
    prepared: &Prepared,
    ctx: &Ctx,
    allow_copy: bool,
    out: Output<'_>,
) -> Result<Attempt> {
    let (statement, names, decoders) = describe(conn, &prepared.sql, ctx).await?;
    let batches = out.batches(names, decoders, ctx.batch_size);
    // A statement without result columns (`SELECT ... INTO`) is one COPY refuses.
    let body = copy_body(&prepared.sql)
        .filter(|_| allow_copy && prepared.values.is_empty() && !statement.columns().is_empty());
    if let Some(body) = body {
        return copy_out(conn, body, batches, ctx, out).await;
    }
    fetch_rows(conn, &statement, prepared, batches, ctx, out).await
}

/// SQLSTATEs with which the server refuses to wrap a statement in COPY (rather than
/// failing to run it).
fn copy_refused(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db)
        if matches!(db.code().as_deref(), Some("0A000" | "42601")))
}

async fn copy_out(
    conn: &mut PgConnection,
    body: &str,
    mut batches: Batches<Decoder>,
    ctx: &Ctx,
    out: Output<'_>,
) -> Result<Attempt> {
    let copy = format!("COPY (\n{body}\n) TO STDOUT (FORMAT binary)");
    // Any error before the rows flow (a refusal, a division by zero while planning,
    // a lock timeout) leaves sqlx one message behind the server: the connection is out
    // of step and must be closed, not returned to its pool.
    let mut stream = match conn.copy_out_raw(&copy).await {
        Ok(stream) => stream,
        Err(err) if copy_refused(&err) => return Ok(Attempt::Done(Fetched::CopyRefused)),
        Err(err) => return Ok(Attempt::Done(Fetched::OutOfStep(ctx.err(err, "query")))),
    };
    let mut parser = CopyParser::default();
    while let Some(chunk) = stream.try_next().await.map_err(|e| ctx.err(e, "query"))? {
        if let Err(err) = parser.feed(&chunk, &mut batches) {
            // A stream's reader gets the batches completed before the bad value, then
            // this error: the connection is closed instead of reading the rest (an
            // outdated description shows at the first row, before anything was sent,
            // and is read to the end to run again).
            if out.is_stream() && !parser.field_count_differs {
                // A reader that is gone needs no batch: the error ends the read anyway.
                let _ = out.send_ready(&mut batches).await;
                return Ok(Attempt::Done(Fetched::OutOfStep(err)));
            }
            // A value that does not decode ends the read, but the server is still
            // sending: read the rest, or the connection would go back to the pool in
            // the middle of a COPY (and fail its next statement).
            while stream
                .try_next()
                .await
                .map_err(|e| ctx.err(e, "query"))?
                .is_some()
            {}
            if parser.field_count_differs {
                return Ok(Attempt::Outdated(err));
            }
            return Err(err);
        }
        // Mid-COPY, a batch the stream did not take leaves the connection out of step.
        if let Err(err) = out.send_ready(&mut batches).await {
            return Ok(Attempt::Done(Fetched::OutOfStep(err)));
        }
    }
    drop(stream);
    if !parser.ended {
        return Err(Error::Data("the COPY stream ended early".into()));
    }
    let read = out.finish(batches).await?;
    Ok(Attempt::Done(Fetched::Done(read)))
}

async fn fetch_rows(
    conn: &mut PgConnection,
    statement: &sqlx::postgres::PgStatement,
    prepared: &Prepared,
    mut batches: Batches<Decoder>,
    ctx: &Ctx,
    out: Output<'_>,
) -> Result<Attempt> {
    let in_transaction = conn.is_in_transaction();
    let mut rows = bind_all(statement, &prepared.values)?.fetch(&mut *conn);
    loop {
        let row = match rows.try_next().await {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(err) if !in_transaction && plan_outdated(&err) => {
                return Ok(Attempt::Outdated(ctx.err(err, "query")));
            }
            Err(err) => return Err(ctx.err(err, "query")),
        };
        let pushed = batches.push_row(&row, |decoder: &mut Decoder, row: &PgRow, index| {
            let unreadable = |e: sqlx::Error| format!("could not be read: {e}");
            let raw = row.try_get_raw(index).map_err(unreadable)?;
            let value = if raw.is_null() {
                None
            } else if raw.format() == PgValueFormat::Binary {
                Some(
                    raw.as_bytes()
                        .map_err(|e| format!("could not be read: {e}"))?,
                )
            } else {
                return Err("came in text format, where conn reads binary".to_owned());
            };
            decoder.append(value)
        });
        if let Err(err) = pushed {
            // A stream's reader waits for this error: the connection is closed instead
            // of reading the rest of the result.
            if out.is_stream() {
                return Ok(Attempt::Done(Fetched::OutOfStep(err)));
            }
            return Err(err);
        }
        // Mid-result, a batch the stream did not take leaves the connection out of step.
        if let Err(err) = out.send_ready(&mut batches).await {
            return Ok(Attempt::Done(Fetched::OutOfStep(err)));
        }
    }
    drop(rows);
    let read = out.finish(batches).await?;
    Ok(Attempt::Done(Fetched::Done(read)))
}

/// The server refusing a cached prepared statement whose result columns changed since
/// it was prepared (`SELECT *` after `ALTER TABLE ... ADD COLUMN`).
fn plan_outdated(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db)
        if db.code().as_deref() == Some("0A000")
            && db.message().contains("cached plan must not change result type"))
}

/// Runs a statement on `conn`; returns the rows it affected. Without parameters it
/// goes through the simple protocol, so a script of several statements works.
pub(crate) async fn execute(conn: &mut PgConnection, prepared: Prepared, ctx: &Ctx) -> Result<u64> {
    if prepared.values.is_empty() {
        return sqlx::raw_sql(AssertSqlSafe(prepared.sql))
            .execute(&mut *conn)
            .await
            .map(|done| done.rows_affected())
            .map_err(|e| ctx.err(e, "execute"));
    }
    let statement = conn
        .prepare(AssertSqlSafe(prepared.sql.clone()).into_sql_str())
        .await
        .map_err(|e| ctx.err(e, "execute"))?;
    bind_all(&statement, &prepared.values)?
        .execute(&mut *conn)
        .await
        .map(|done| done.rows_affected())
        .map_err(|e| ctx.err(e, "execute"))
}

/// Reads the tuples of a binary COPY stream, which arrive in chunks of any size.
#[derive(Default)]
pub(crate) struct CopyParser {
    pending: BytesMut,
    header_read: bool,
    pub(crate) ended: bool,
    /// A tuple came with another number of fields than the statement's columns.
    field_count_differs: bool,
}

/// "PGCOPY\n\xff\r\n\0", flags, header extension length.
const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

fn be_i32(data: &[u8], at: usize) -> Option<i32> {
    data.get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(i32::from_be_bytes)
}

impl CopyParser {
    pub(crate) fn feed(&mut self, chunk: &[u8], batches: &mut Batches<Decoder>) -> Result<()> {
        if self.pending.is_empty() {
            let used = self.parse(chunk, batches)?;
            self.pending.extend_from_slice(&chunk[used..]);
        } else {
            self.pending.extend_from_slice(chunk);
            let data = std::mem::take(&mut self.pending);
            let used = self.parse(&data, batches)?;
            self.pending.extend_from_slice(&data[used..]);
        }
        Ok(())
    }

    /// Parses every complete part of `data`; returns how many bytes were used.
    fn parse(&mut self, data: &[u8], batches: &mut Batches<Decoder>) -> Result<usize> {
        let mut at = 0;
        if !self.header_read {
            let fixed = SIGNATURE.len() + 8;
            if data.len() < fixed {
                return Ok(0);
            }
            if &data[..SIGNATURE.len()] != SIGNATURE {
                return Err(Error::Data(
                    "the COPY stream has no binary signature".into(),
                ));
            }
            let extension = be_i32(data, SIGNATURE.len() + 4).unwrap_or(0);
            let extension = usize::try_from(extension).unwrap_or(0);
            if data.len() < fixed + extension {
                return Ok(0);
            }
            at = fixed + extension;
            self.header_read = true;
        }
        let columns = batches.decoders.len();
        while !self.ended {
            let Some(count) = data
                .get(at..at + 2)
                .map(|b| i16::from_be_bytes([b[0], b[1]]))
            else {
                break;
            };
            if count == -1 {
                self.ended = true;
                at += 2;
                break;
            }
            if usize::try_from(count).ok() != Some(columns) {
                self.field_count_differs = true;
                return Err(Error::Data(format!(
                    "the query returned {count} columns where its description has {columns} \
                     (did a table change while it ran?); run it again"
                )));
            }
            // Check that the whole tuple is here before decoding any of it.
            let mut end = at + 2;
            let mut complete = true;
            for _ in 0..columns {
                match be_i32(data, end) {
                    None => {
                        complete = false;
                        break;
                    }
                    Some(len) => {
                        end += 4 + usize::try_from(len).unwrap_or(0);
                        if end > data.len() {
                            complete = false;
                            break;
                        }
                    }
                }
            }
            if !complete {
                break;
            }
            let mut field = at + 2;
            for index in 0..columns {
                let len = be_i32(data, field).unwrap_or(-1);
                field += 4;
                let value = match usize::try_from(len) {
                    Ok(len) => {
                        let bytes = &data[field..field + len];
                        field += len;
                        Some(bytes)
                    }
                    // -1 is NULL; any other negative length is a broken stream, not a
                    // NULL to make up.
                    Err(_) if len == -1 => None,
                    Err(_) => {
                        return Err(batches.value_error(
                            index,
                            &format!("has a field length of {len} in the COPY stream"),
                        ));
                    }
                };
                if let Err(problem) = batches.decoders[index].append(value) {
                    return Err(batches.value_error(index, &problem));
                }
            }
            batches.row_done()?;
            at = end;
        }
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::{CopyParser, copy_body};
    use crate::arrow::Batches;
    use crate::arrow::postgres::{Decoder, PgKind};

    /// A binary COPY stream of one `int4` column holding `fields` (a length and bytes
    /// each), with its header and trailer.
    fn copy_of(fields: &[(i32, &[u8])]) -> Vec<u8> {
        let mut out = b"PGCOPY\n\xff\r\n\0".to_vec();
        out.extend([0u8; 8]);
        for (len, bytes) in fields {
            out.extend(1i16.to_be_bytes());
            out.extend(len.to_be_bytes());
            out.extend(*bytes);
        }
        out.extend((-1i16).to_be_bytes());
        out
    }

    fn decode(stream: &[u8]) -> conn_core::Result<usize> {
        let kind = PgKind::from_oid(23).unwrap();
        let mut batches = Batches::new(vec!["n".into()], vec![Decoder::new(&kind)], 100);
        let mut parser = CopyParser::default();
        parser.feed(stream, &mut batches)?;
        assert!(parser.ended);
        Ok(batches.finish()?.num_rows())
    }

    #[test]
    fn a_field_length_below_minus_one_is_an_error_not_a_null() {
        let seven = 7i32.to_be_bytes();
        assert_eq!(decode(&copy_of(&[(4, &seven), (-1, &[])])).unwrap(), 2);
        let err = decode(&copy_of(&[(4, &seven), (-2, &[])])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "column \"n\": row 1 has a field length of -2 in the COPY stream"
        );
    }

    #[test]
    fn copy_bodies_lose_trailing_semicolons_and_comments() {
        assert_eq!(copy_body("SELECT 1"), Some("SELECT 1"));
        assert_eq!(copy_body("select 1 ;  -- done\n"), Some("select 1"));
        assert_eq!(
            copy_body("SELECT ';' AS s; /* c */"),
            Some("SELECT ';' AS s")
        );
        assert_eq!(
            copy_body("SELECT 1 -- note\nFROM t"),
            Some("SELECT 1 -- note\nFROM t")
        );
        assert_eq!(copy_body("VALUES (1);;"), Some("VALUES (1)"));
        assert_eq!(copy_body("SELECT 1; SELECT 2"), None);
        assert_eq!(copy_body("INSERT INTO t VALUES (1)"), None);
        assert_eq!(copy_body("WITH x AS (SELECT 1) SELECT * FROM x"), None);
    }
}
