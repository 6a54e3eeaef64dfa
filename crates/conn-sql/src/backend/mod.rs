//! The three drivers behind one enum: connecting, running statements, transactions.

pub(crate) mod cancel;
pub(crate) mod checkout;
#[cfg(feature = "mysql")]
pub(crate) mod mysql;
mod output;
#[cfg(feature = "postgres")]
mod pg_params;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use conn_core::plugin::BatchSink;
use conn_core::plugin::Redactor;
use conn_core::{Error, Result, Source, Table};

use crate::classify;
use crate::config::Backend;
use crate::named::Prepared;
use output::{Output, Read};

/// What every driver call needs besides the connection: the name and redactor for
/// errors, the batch size for results, the limit on opening a connection.
#[derive(Clone, Debug)]
pub(crate) struct Ctx {
    pub(crate) name: Arc<str>,
    pub(crate) redactor: Redactor,
    pub(crate) batch_size: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) connect_timeout_at: Source,
    /// Whether statements are logged (`create_engine_kwargs.echo`), for the reads that
    /// bypass sqlx's own statement log (SQLite's pooled reads).
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) echo: bool,
}

impl Ctx {
    /// A conn error for a sqlx error raised while doing `what` (`"connect"` is
    /// classified as opening a connection).
    pub(crate) fn err(&self, err: sqlx::Error, what: &str) -> Error {
        classify::to_conn_error(err, &self.name, what, &self.redactor)
    }
}

/// The sqlx pool behind a `sql` connection, for anything conn does not wrap. Cloning
/// shares the pool.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Pool {
    /// A PostgreSQL pool.
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    /// A MySQL or MariaDB pool.
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
    /// A SQLite pool.
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
}

/// An open transaction of one of the three drivers.
#[derive(Debug)]
pub(crate) enum Tx {
    #[cfg(feature = "postgres")]
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    #[cfg(feature = "mysql")]
    MySql(sqlx::Transaction<'static, sqlx::MySql>),
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

/// The error for a backend whose driver feature is off.
pub(crate) fn not_compiled(backend: Backend) -> Error {
    let feature = match backend {
        Backend::Postgres => "postgres",
        Backend::MySql => "mysql",
        Backend::Sqlite => "sqlite",
    };
    Error::InvalidArgument(format!(
        "the {} driver of conn-sql is not compiled in: enable the `{feature}` feature of \
         `conn` (or of `conn-sql`)",
        backend.name()
    ))
}

impl Pool {
    /// Runs a query and collects its rows into a table, on a connection of the pool;
    /// the statement is cancelled on the server if the call is dropped.
    pub(crate) async fn fetch(&self, prepared: Prepared, ctx: &Ctx) -> Result<Table> {
        self.read(prepared, ctx, Output::Table).await?.into_table()
    }

    /// Runs a query on a connection of the pool, sending each batch to `sink` as it is
    /// decoded. Dropping the call (the stream's reader went away) cancels the statement
    /// on the server and closes the connection, as does a batch the stream refuses.
    pub(crate) async fn fetch_stream(
        &self,
        prepared: Prepared,
        ctx: &Ctx,
        sink: &BatchSink,
    ) -> Result<()> {
        self.read(prepared, ctx, Output::Stream(sink))
            .await
            .map(drop)
    }

    /// Runs a query on a connection of the pool, its batches going to `out`; the
    /// statement is cancelled on the server if the call is dropped.
    async fn read(&self, prepared: Prepared, ctx: &Ctx, out: Output<'_>) -> Result<Read> {
        match self {
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => {
                let mut conn = checkout::acquire(pool, ctx).await?;
                let guard = cancel::postgres(&mut conn, pool.connect_options(), ctx)
                    .await?
                    .guard(ctx);
                let outcome = postgres::fetch(&mut conn, prepared.clone(), ctx, true, out).await;
                match outcome {
                    Ok(postgres::Fetched::Done(read)) => {
                        guard.disarm();
                        conn.finish();
                        Ok(read)
                    }
                    Ok(postgres::Fetched::OutOfStep(err)) => {
                        // A stream stopped mid-result: the server may still be sending.
                        if out.is_stream() {
                            drop(guard);
                        } else {
                            guard.disarm();
                        }
                        drop(conn);
                        Err(err)
                    }
                    Ok(postgres::Fetched::CopyRefused) => {
                        // That connection is out of step: close it, read through another.
                        guard.disarm();
                        drop(conn);
                        let mut conn = checkout::acquire(pool, ctx).await?;
                        let guard = cancel::postgres(&mut conn, pool.connect_options(), ctx)
                            .await?
                            .guard(ctx);
                        let outcome =
                            match postgres::fetch(&mut conn, prepared, ctx, false, out).await {
                                Ok(postgres::Fetched::Done(read)) => Ok(read),
                                Ok(postgres::Fetched::OutOfStep(err)) => Err(err),
                                Ok(postgres::Fetched::CopyRefused) => {
                                    Err(Error::Data("the rows path attempted COPY".into()))
                                }
                                Err(err) => Err(err),
                            };
                        out.release(guard, conn, &outcome);
                        outcome
                    }
                    Err(err) => {
                        let outcome = Err(err);
                        out.release(guard, conn, &outcome);
                        outcome
                    }
                }
            }
            #[cfg(feature = "mysql")]
            Pool::MySql(pool) => {
                let mut conn = checkout::acquire(pool, ctx).await?;
                let guard = cancel::mysql(&mut conn, pool.connect_options(), ctx)
                    .await?
                    .guard(ctx);
                let outcome = mysql::fetch(&mut conn, prepared, ctx, out).await;
                out.release(guard, conn, &outcome);
                outcome
            }
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => {
                let conn = checkout::acquire(pool, ctx).await?;
                sqlite::fetch_pooled(conn, prepared, ctx, out).await
            }
        }
    }

    /// Runs a statement on a connection of the pool; returns the rows it affected. The
    /// statement is cancelled on the server if the call is dropped.
    pub(crate) async fn execute(&self, prepared: Prepared, ctx: &Ctx) -> Result<u64> {
        let atomic = prepared.is_atomic_statement();
        self.execute_once(prepared, ctx)
            .await
            .map_err(|err| rolled_back_as_a_whole(err, atomic))
    }

    async fn execute_once(&self, prepared: Prepared, ctx: &Ctx) -> Result<u64> {
        match self {
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => {
                let mut conn = checkout::acquire(pool, ctx).await?;
                let guard = cancel::postgres(&mut conn, pool.connect_options(), ctx)
                    .await?
                    .guard(ctx);
                let outcome = postgres::execute(&mut conn, prepared, ctx).await;
                guard.disarm();
                conn.settle(&outcome);
                outcome
            }
            #[cfg(feature = "mysql")]
            Pool::MySql(pool) => {
                let mut conn = checkout::acquire(pool, ctx).await?;
                let guard = cancel::mysql(&mut conn, pool.connect_options(), ctx)
                    .await?
                    .guard(ctx);
                let outcome = mysql::execute(&mut conn, prepared, ctx).await;
                guard.disarm();
                conn.settle(&outcome);
                outcome
            }
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => {
                let mut conn = checkout::acquire(pool, ctx).await?;
                let guard = cancel::sqlite(&mut conn, ctx).await?.guard(ctx);
                let outcome = sqlite::execute(&mut conn, prepared, ctx).await;
                guard.disarm();
                conn.settle(&outcome);
                outcome
            }
        }
    }

    /// Starts a transaction (failing fast when a new connection cannot be opened), with
    /// what stops the statements it will run when their call is dropped. A failure here
    /// is marked as before sending: nothing of the work the transaction is for has been
    /// sent, and a `BEGIN` whose connection broke commits nothing, so even a write may be
    /// retried.
    pub(crate) async fn begin(&self, ctx: &Ctx) -> Result<(Tx, cancel::Canceller)> {
        let what = "begin transaction";
        Ok(match self {
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => {
                checkout::reachable(pool, ctx).await?;
                let mut tx = pool
                    .begin()
                    .await
                    .map_err(|e| ctx.err(e, what).before_send())?;
                let canceller = cancel::postgres(&mut tx, pool.connect_options(), ctx).await?;
                (Tx::Postgres(tx), canceller)
            }
            #[cfg(feature = "mysql")]
            Pool::MySql(pool) => {
                checkout::reachable(pool, ctx).await?;
                let mut tx = pool
                    .begin()
                    .await
                    .map_err(|e| ctx.err(e, what).before_send())?;
                let canceller = cancel::mysql(&mut tx, pool.connect_options(), ctx).await?;
                (Tx::MySql(tx), canceller)
            }
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => {
                let mut tx = pool
                    .begin()
                    .await
                    .map_err(|e| ctx.err(e, what).before_send())?;
                // A fresh progress handler: one a cancelled call tripped would
                // interrupt every statement of the transaction.
                let canceller = cancel::sqlite(&mut tx, ctx).await?;
                (Tx::Sqlite(tx), canceller)
            }
        })
    }

    /// `SELECT 1`.
    pub(crate) async fn ping(&self, ctx: &Ctx) -> Result<()> {
        self.fetch(
            Prepared {
                sql: "SELECT 1".into(),
                values: Vec::new(),
            },
            ctx,
        )
        .await
        .map(drop)
    }

    /// Closes every connection of the pool.
    pub(crate) async fn close(&self) {
        match self {
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => pool.close().await,
            #[cfg(feature = "mysql")]
            Pool::MySql(pool) => pool.close().await,
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => pool.close().await,
        }
    }

    /// Which database this is.
    pub(crate) fn backend(&self) -> Backend {
        match self {
            #[cfg(feature = "postgres")]
            Pool::Postgres(_) => Backend::Postgres,
            #[cfg(feature = "mysql")]
            Pool::MySql(_) => Backend::MySql,
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(_) => Backend::Sqlite,
        }
    }
}

impl Tx {
    pub(crate) async fn fetch(&mut self, prepared: Prepared, ctx: &Ctx) -> Result<Table> {
        match self {
            #[cfg(feature = "postgres")]
            // Never COPY inside a transaction: a refused COPY would leave the
            // session's connection out of step (see `postgres::Fetched`).
            Tx::Postgres(tx) => {
                match postgres::fetch(tx, prepared, ctx, false, Output::Table).await? {
                    postgres::Fetched::Done(read) => read.into_table(),
                    postgres::Fetched::CopyRefused | postgres::Fetched::OutOfStep(_) => {
                        Err(Error::Data("the rows path attempted COPY".into()))
                    }
                }
            }
            #[cfg(feature = "mysql")]
            Tx::MySql(tx) => mysql::fetch(tx, prepared, ctx, Output::Table)
                .await?
                .into_table(),
            #[cfg(feature = "sqlite")]
            Tx::Sqlite(tx) => sqlite::rows::fetch(tx, prepared, ctx, Output::Table)
                .await?
                .into_table(),
        }
    }

    pub(crate) async fn execute(&mut self, prepared: Prepared, ctx: &Ctx) -> Result<u64> {
        match self {
            #[cfg(feature = "postgres")]
            Tx::Postgres(tx) => postgres::execute(tx, prepared, ctx).await,
            #[cfg(feature = "mysql")]
            Tx::MySql(tx) => mysql::execute(tx, prepared, ctx).await,
            #[cfg(feature = "sqlite")]
            Tx::Sqlite(tx) => sqlite::execute(tx, prepared, ctx).await,
        }
    }

    pub(crate) async fn commit(self, ctx: &Ctx) -> Result<()> {
        let what = "commit";
        match self {
            #[cfg(feature = "postgres")]
            Tx::Postgres(tx) => tx.commit().await.map_err(|e| ctx.err(e, what)),
            #[cfg(feature = "mysql")]
            Tx::MySql(tx) => tx.commit().await.map_err(|e| ctx.err(e, what)),
            #[cfg(feature = "sqlite")]
            Tx::Sqlite(tx) => tx.commit().await.map_err(|e| ctx.err(e, what)),
        }
    }

    pub(crate) async fn rollback(self, ctx: &Ctx) -> Result<()> {
        let what = "rollback";
        match self {
            #[cfg(feature = "postgres")]
            Tx::Postgres(tx) => tx.rollback().await.map_err(|e| ctx.err(e, what)),
            #[cfg(feature = "mysql")]
            Tx::MySql(tx) => tx.rollback().await.map_err(|e| ctx.err(e, what)),
            #[cfg(feature = "sqlite")]
            Tx::Sqlite(tx) => tx.rollback().await.map_err(|e| ctx.err(e, what)),
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            #[cfg(feature = "postgres")]
            Tx::Postgres(_) => Backend::Postgres,
            #[cfg(feature = "mysql")]
            Tx::MySql(_) => Backend::MySql,
            #[cfg(feature = "sqlite")]
            Tx::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// Binds a parameter by its own type, for drivers that convert on the server
/// (MySQL, SQLite); a NULL goes as a text NULL, which they accept for any column.
#[cfg(any(feature = "mysql", feature = "sqlite"))]
pub(crate) fn bind_loose<'q, DB>(
    query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    value: &conn_core::Param,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    bool: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    i64: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    f64: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    String: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    Vec<u8>: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    Option<String>: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    use conn_core::Param;
    match value {
        Param::Bool(b) => query.bind(*b),
        Param::Int(i) => query.bind(*i),
        Param::Float(f) => query.bind(*f),
        Param::Text(s) => query.bind(s.clone()),
        Param::Bytes(b) => query.bind(b.clone()),
        _ => query.bind(Option::<String>::None),
    }
}

/// Logs, once per connect, a `connect_args` setting the driver has no use for.
pub(crate) fn ignored_connect_arg(backend: Backend, setting: &str) {
    tracing::warn!(
        setting,
        "connect_args.{setting} is not supported for {} and is ignored",
        backend.name()
    );
}

/// A transient failure of one atomic statement run on its own (outside a session)
/// means the database applied nothing: SQLite's busy and locked, PostgreSQL's
/// serialization failures and deadlocks, MySQL's lock wait timeouts and deadlocks all
/// roll the statement (its implicit transaction) back. Such an error is marked so that
/// the write is retried. Anything else is not (see [`Prepared::is_atomic_statement`]):
/// a script's statements before the failing one were committed, and a procedure may
/// have committed part of its work; running them again would apply it twice.
fn rolled_back_as_a_whole(err: Error, atomic_statement: bool) -> Error {
    if atomic_statement && err.class() == conn_core::ErrorClass::Transient {
        err.not_applied()
    } else {
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_keyword_skips_comments_and_parentheses() {
        use crate::named::first_keyword;
        assert_eq!(first_keyword("  -- hi\n/* x */ SELECT 1"), "select");
        assert_eq!(first_keyword("(select 1) union (select 2)"), "select");
        assert_eq!(
            first_keyword("WITH x AS (select 1) select * from x"),
            "with"
        );
        assert_eq!(first_keyword("insert into t values (1)"), "insert");
    }

    #[test]
    fn only_a_single_statement_rolled_back_by_a_transient_error_is_retryable() {
        let busy = || {
            Error::driver(
                "execute",
                conn_core::ErrorClass::Transient,
                "database is locked",
            )
        };
        assert!(!rolled_back_as_a_whole(busy(), true).may_have_reached_server());
        assert!(
            rolled_back_as_a_whole(busy(), false).may_have_reached_server(),
            "a script's earlier statements were committed"
        );
        let syntax = Error::driver("execute", conn_core::ErrorClass::Permanent, "syntax error");
        assert!(rolled_back_as_a_whole(syntax, true).may_have_reached_server());
    }
}
