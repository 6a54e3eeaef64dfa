//! `write_table`: an Arrow table into a SQL table, all or nothing.
//!
//! The target's columns come from the database's catalog (after `CREATE`, for the
//! create and replace modes), every Arrow field is matched to a column whose type can
//! hold it before any row is written, and every value is checked against its column as
//! it is encoded: a value that does not fit is an error naming the column, the row and
//! the kind of misfit, never rounded, truncated or NULLed.
//!
//! PostgreSQL gets binary `COPY ... FROM STDIN`; MySQL and SQLite get multi-row
//! `INSERT`s with bound values. PostgreSQL and SQLite run the DDL inside the
//! transaction; MySQL commits DDL implicitly, so there `Create` drops the new table
//! again on failure and `Replace` fills a new table and swaps it in with one atomic
//! `RENAME TABLE`. Inside a [`Session`](crate::Session) a write runs under a savepoint,
//! so a failed write leaves the session's transaction as it was.

// Column rules shared by the drivers go unused when some drivers are compiled out.
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code)
)]

mod convert;
mod create;
mod dec;
mod name;
mod plan;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "mysql", feature = "sqlite"))]
mod rows;
mod source;
mod target;

use conn_core::{Error, Result, Table, WriteMode};

use crate::backend::{Ctx, Pool, Tx};
use crate::config::Backend;
use crate::named::Prepared;

use name::TableName;
use name::{check_identifier, temporary_name};

fn statement(sql: String) -> Prepared {
    Prepared {
        sql,
        values: Vec::new(),
    }
}

/// Everything about a write that can be checked without the database: the name, the
/// column names, and for `Create`/`Replace` a column type for every field.
fn check_request(
    name: &str,
    table: &Table,
    mode: WriteMode,
    backend: Backend,
) -> Result<TableName> {
    if !matches!(
        mode,
        WriteMode::Create | WriteMode::Append | WriteMode::Replace
    ) {
        return Err(Error::InvalidArgument(format!(
            "write mode {mode:?} is not supported by conn-sql"
        )));
    }
    let parsed = TableName::parse(name)?;
    parsed.check_length(backend)?;
    let fields = table.schema().fields();
    if fields.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "the table written to {parsed} has no columns"
        )));
    }
    for field in fields {
        check_identifier(field.name(), "column name", backend)?;
    }
    if mode != WriteMode::Append {
        create::create_statement(&parsed, table, backend)?;
    }
    Ok(parsed)
}

/// Writes `table` through `pool`, atomically.
pub(crate) async fn write_table(
    pool: &Pool,
    name: &str,
    table: &Table,
    mode: WriteMode,
    ctx: &Ctx,
) -> Result<u64> {
    let backend = pool.backend();
    let name = check_request(name, table, mode, backend)?;
    if backend == Backend::MySql {
        return write_mysql(pool, &name, table, mode, ctx).await;
    }
    let (mut tx, canceller) = pool.begin(ctx).await?;
    // Dropped before it ends (a time limit), the write is cancelled on the server; the
    // transaction then rolls back.
    let guard = canceller.guard(ctx);
    let outcome = match write_in_tx(&mut tx, &name, table, mode, ctx).await {
        Ok(written) => tx.commit(ctx).await.map(|()| written),
        Err(err) => {
            if let Err(rollback) = tx.rollback(ctx).await {
                tracing::warn!(error = %rollback, "rolling back a failed write_table");
            }
            // Nothing was committed: the write may run again (a connection cut
            // before COMMIT is retried; a COMMIT whose answer was lost is not).
            Err(err.not_applied())
        }
    };
    guard.disarm();
    outcome
}

/// The savepoint a session's write runs under.
const SAVEPOINT: &str = "conn_write_table";

/// Writes `table` inside a session's open transaction, under a savepoint: a failure
/// rolls back to it, leaving the transaction as it was and usable.
pub(crate) async fn write_in_session(
    tx: &mut Tx,
    name: &str,
    table: &Table,
    mode: WriteMode,
    ctx: &Ctx,
) -> Result<u64> {
    let backend = tx.backend();
    if backend == Backend::MySql && mode != WriteMode::Append {
        return Err(Error::InvalidArgument(format!(
            "write mode {mode:?} cannot run inside a MySQL session: MySQL commits the open \
             transaction before CREATE and DROP TABLE, which would commit the session's work \
             behind its back. Call SqlConnection::write_table outside the session, or create \
             the table first and use WriteMode::Append inside it"
        )));
    }
    let name = check_request(name, table, mode, backend)?;
    tx.execute(statement(format!("SAVEPOINT {SAVEPOINT}")), ctx)
        .await?;
    match write_in_tx(tx, &name, table, mode, ctx).await {
        Ok(written) => {
            tx.execute(statement(format!("RELEASE SAVEPOINT {SAVEPOINT}")), ctx)
                .await?;
            Ok(written)
        }
        Err(err) => {
            let undo = format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}");
            let release = format!("RELEASE SAVEPOINT {SAVEPOINT}");
            for sql in [undo, release] {
                if let Err(cleanup) = tx.execute(statement(sql), ctx).await {
                    tracing::warn!(error = %cleanup, "undoing a failed write_table in a session");
                    break;
                }
            }
            Err(err)
        }
    }
}

/// Writes `table` inside an open transaction (DDL included, except on MySQL where DDL
/// commits).
async fn write_in_tx(
    tx: &mut Tx,
    name: &TableName,
    table: &Table,
    mode: WriteMode,
    ctx: &Ctx,
) -> Result<u64> {
    let backend = tx.backend();
    if mode == WriteMode::Replace {
        let drop = format!("DROP TABLE IF EXISTS {}", name.quoted(backend));
        tx.execute(statement(drop), ctx).await?;
    }
    if mode != WriteMode::Append {
        tx.execute(
            statement(create::create_statement(name, table, backend)?),
            ctx,
        )
        .await?;
    }
    insert(tx, name, table, ctx).await
}

/// Reads the target's columns, checks the Arrow schema against them, and writes.
async fn insert(tx: &mut Tx, name: &TableName, table: &Table, ctx: &Ctx) -> Result<u64> {
    let backend = tx.backend();
    match tx {
        #[cfg(feature = "postgres")]
        Tx::Postgres(conn) => {
            let catalog = postgres::columns(conn, name, ctx).await?;
            let columns = plan::plan(name, table.schema(), &catalog, backend)?;
            postgres::copy_in(conn, name, table, &columns, ctx).await
        }
        #[cfg(any(feature = "mysql", feature = "sqlite"))]
        _ => {
            let catalog = rows::columns(tx, name, ctx).await?;
            let columns = plan::plan(name, table.schema(), &catalog, backend)?;
            rows::insert(tx, name, table, &columns, ctx).await
        }
        #[cfg(not(any(feature = "mysql", feature = "sqlite")))]
        #[allow(unreachable_patterns)]
        _ => Err(Error::InvalidArgument(
            "no SQL driver is compiled in".into(),
        )),
    }
}

/// MySQL: DDL commits implicitly, so atomicity comes from cleaning up and from an
/// atomic rename.
async fn write_mysql(
    pool: &Pool,
    name: &TableName,
    table: &Table,
    mode: WriteMode,
    ctx: &Ctx,
) -> Result<u64> {
    let backend = Backend::MySql;
    let quoted = name.quoted(backend);
    match mode {
        WriteMode::Append => fill_mysql(pool, name, table, ctx).await,
        WriteMode::Create => {
            pool.execute(
                statement(create::create_statement(name, table, backend)?),
                ctx,
            )
            .await?;
            // MySQL committed the CREATE: if this call is dropped now (a time limit),
            // the table goes again.
            let created = DropIfCancelled::new(pool, &quoted, ctx);
            let filled = fill_mysql(pool, name, table, ctx).await;
            created.disarm();
            match filled {
                Ok(written) => Ok(written),
                Err(err) => {
                    drop_quietly(pool, &quoted, ctx).await;
                    Err(err)
                }
            }
        }
        WriteMode::Replace => {
            let fresh = name.sibling(temporary_name(&name.table, "new"));
            let old = name.sibling(temporary_name(&name.table, "old"));
            let (fresh_q, old_q) = (fresh.quoted(backend), old.quoted(backend));
            pool.execute(
                statement(create::create_statement(&fresh, table, backend)?),
                ctx,
            )
            .await?;
            let created = DropIfCancelled::new(pool, &fresh_q, ctx);
            let written = match fill_mysql(pool, &fresh, table, ctx).await {
                Ok(written) => written,
                Err(err) => {
                    created.disarm();
                    drop_quietly(pool, &fresh_q, ctx).await;
                    return Err(err);
                }
            };
            let swap = format!("RENAME TABLE {quoted} TO {old_q}, {fresh_q} TO {quoted}");
            let take_name = format!("RENAME TABLE {fresh_q} TO {quoted}");
            // A concurrent replace may create the table between the two renames below:
            // then swap with it after all (a few times at most).
            let mut attempts = 0;
            loop {
                attempts += 1;
                match pool.execute(statement(swap.clone()), ctx).await {
                    Ok(_) => {
                        // The swap is atomic and done: what is left to clean is the old
                        // table, even if this call is dropped now.
                        created.disarm();
                        let old_table = DropIfCancelled::new(pool, &old_q, ctx);
                        pool.execute(statement(format!("DROP TABLE {old_q}")), ctx)
                            .await?;
                        old_table.disarm();
                        break;
                    }
                    // Nothing to replace: the new table takes the name.
                    Err(err) if err.code() == Some("42S02") => {
                        match pool.execute(statement(take_name.clone()), ctx).await {
                            Ok(_) => {
                                created.disarm();
                                break;
                            }
                            Err(err) if err.code() == Some("42S01") && attempts < 3 => {}
                            Err(err) => {
                                created.disarm();
                                drop_quietly(pool, &fresh_q, ctx).await;
                                return Err(err);
                            }
                        }
                    }
                    Err(err) => {
                        created.disarm();
                        drop_quietly(pool, &fresh_q, ctx).await;
                        return Err(err);
                    }
                }
            }
            Ok(written)
        }
        other => Err(Error::InvalidArgument(format!(
            "write mode {other:?} is not supported by conn-sql"
        ))),
    }
}

/// Drops a table MySQL already created (DDL commits at once) if the write is dropped
/// before it disarms the guard: a write cut short by a time limit leaves no table.
struct DropIfCancelled {
    job: Option<(Pool, String, Ctx)>,
}

impl DropIfCancelled {
    fn new(pool: &Pool, quoted: &str, ctx: &Ctx) -> Self {
        DropIfCancelled {
            job: Some((pool.clone(), quoted.to_owned(), ctx.clone())),
        }
    }

    fn disarm(mut self) {
        self.job = None;
    }
}

impl Drop for DropIfCancelled {
    fn drop(&mut self) {
        if let Some((pool, quoted, ctx)) = self.job.take() {
            conn_core::plugin::runtime::spawn_detached(async move {
                drop_quietly(&pool, &quoted, &ctx).await;
            });
        }
    }
}

async fn drop_quietly(pool: &Pool, quoted: &str, ctx: &Ctx) {
    if let Err(err) = pool
        .execute(statement(format!("DROP TABLE IF EXISTS {quoted}")), ctx)
        .await
    {
        tracing::warn!(error = %err, "dropping the table of a failed write_table");
    }
}

async fn fill_mysql(pool: &Pool, name: &TableName, table: &Table, ctx: &Ctx) -> Result<u64> {
    let (mut tx, canceller) = pool.begin(ctx).await?;
    let guard = canceller.guard(ctx);
    let outcome = match insert(&mut tx, name, table, ctx).await {
        Ok(written) => tx.commit(ctx).await.map(|()| written),
        Err(err) => {
            if let Err(rollback) = tx.rollback(ctx).await {
                tracing::warn!(error = %rollback, "rolling back a failed write_table");
            }
            Err(err)
        }
    };
    guard.disarm();
    outcome
}
