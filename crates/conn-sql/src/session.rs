//! Transactions: Streamlit's `with conn.session as s: ...; s.commit()`.

use std::fmt;
use std::future::IntoFuture;
use std::time::Duration;

use conn_core::plugin::{BorrowedCall, ResultCache, Settle, runtime};
use conn_core::{Call, Error, Limit, Param, Params, Result, Table, TimeoutError, WriteMode};

use crate::backend::cancel::Canceller;
use crate::backend::{Ctx, Tx};
use crate::config::Backend;
use crate::named;
use crate::write;

/// An open transaction. Statements run in it with [`execute`](Self::execute) and
/// [`query`](Self::query) (never cached); [`commit`](Self::commit) makes them
/// permanent (and clears the connection's cached query results); dropping the session
/// without committing rolls them back.
///
/// On MySQL, statements that commit implicitly (`CREATE`, `ALTER`, `DROP`, `RENAME`,
/// `TRUNCATE`, ... and `COMMIT`/`ROLLBACK` themselves) are refused inside a session:
/// they would commit its work behind its back.
pub struct Session {
    tx: Option<Tx>,
    ctx: Ctx,
    results: ResultCache,
    /// Stops the statement running when its call is dropped or its limit fires.
    canceller: Canceller,
    /// The connection's `timeout`, on each statement.
    timeout: Option<(Duration, Limit)>,
    /// A statement failed in a way that aborts the transaction (any error on
    /// PostgreSQL, a deadlock elsewhere), or was cut short: the session can only roll
    /// back, and `commit` says so instead of committing nothing silently.
    failed: bool,
    /// A statement started and has not ended: its call was dropped half-way.
    in_flight: bool,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("connection", &self.ctx.name)
            .field("open", &self.tx.is_some())
            .finish()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Dropping an open transaction queues its rollback on the driver's runtime.
        if let Some(tx) = self.tx.take() {
            runtime::drop_in_runtime(tx);
        }
    }
}

impl Session {
    pub(crate) fn new(
        tx: Tx,
        ctx: Ctx,
        results: ResultCache,
        canceller: Canceller,
        timeout: Option<(Duration, Limit)>,
    ) -> Self {
        Session {
            tx: Some(tx),
            ctx,
            results,
            canceller,
            timeout,
            failed: false,
            in_flight: false,
        }
    }

    /// Runs one statement of the session: within the connection's `timeout`, cancelled
    /// on the server if the call is dropped, marking the session failed when the
    /// statement aborted the transaction or was cut short.
    async fn run(&mut self, statement: Statement<'_>) -> Result<Outcome> {
        if self.in_flight {
            // The last statement's call was dropped before it ended.
            self.failed = true;
        }
        let ctx = self.ctx.clone();
        let limit = self.timeout.clone();
        let guard = self.canceller.guard(&ctx);
        let what = statement.what();
        // A write runs under a savepoint: its failure leaves the transaction usable.
        let under_savepoint = matches!(statement, Statement::Write(..));
        let tx = self.tx.as_mut().ok_or_else(|| Error::Closed {
            name: ctx.name.to_string(),
        })?;
        let backend = tx.backend();
        // On MySQL a statement may commit before the session does (a procedure that
        // commits, a prepared statement of DDL, a table that is not transactional): its
        // connection's cached results are cleared once it ends, however it ends.
        let _may_have_committed = (backend == Backend::MySql && statement.may_commit())
            .then(|| self.results.clear_on_drop());
        self.in_flight = true;
        let work = statement.run(tx, &ctx);
        let outcome = match &limit {
            None => work.await,
            Some((after, limit)) => match tokio::time::timeout(*after, work).await {
                Ok(outcome) => outcome,
                Err(_) => Err(TimeoutError {
                    connection: ctx.name.to_string(),
                    operation: what.to_owned(),
                    after: *after,
                    limit: limit.clone(),
                }
                .into()),
            },
        };
        let timed_out = matches!(outcome, Err(Error::Timeout(_)));
        if timed_out {
            // Dropping the guard armed stops the statement on the server.
            drop(guard);
        } else {
            guard.disarm();
        }
        self.in_flight = false;
        if let Err(err) = &outcome
            && (timed_out || (!under_savepoint && aborts_transaction(err, backend)))
        {
            self.failed = true;
        }
        outcome
    }

    fn tx(&mut self) -> Result<&mut Tx> {
        self.tx.as_mut().ok_or_else(|| Error::Closed {
            name: self.ctx.name.to_string(),
        })
    }

    /// A statement run for its effect; resolves to the rows affected.
    pub fn execute(&mut self, sql: impl Into<String>) -> SessionStatement<'_, u64> {
        SessionStatement::new(self, sql.into())
    }

    /// A query inside the transaction (sees its uncommitted changes); resolves to a
    /// [`Table`].
    pub fn query(&mut self, sql: impl Into<String>) -> SessionStatement<'_, Table> {
        SessionStatement::new(self, sql.into())
    }

    /// Writes a table inside the transaction (see
    /// [`SqlConnection::write_table`](crate::SqlConnection::write_table)), under a
    /// savepoint: a failed write leaves the transaction as it was, and usable.
    ///
    /// On MySQL only [`WriteMode::Append`] runs in a session: creating or replacing a
    /// table would commit the session's transaction.
    pub fn write_table<'s>(
        &'s mut self,
        name: &'s str,
        table: &'s Table,
        mode: WriteMode,
    ) -> BorrowedCall<'s, u64> {
        BorrowedCall::new(async move {
            match self.run(Statement::Write(name, table, mode)).await? {
                Outcome::Count(written) => Ok(written),
                Outcome::Table(_) => Err(Error::Data("a write returned rows".into())),
            }
        })
    }

    /// Commits the transaction, then clears the connection's cached query results
    /// (they may predate what was committed). A commit that fails after reaching the
    /// server clears them too: it may have applied.
    pub fn commit(mut self) -> Call<()> {
        let name = self.ctx.name.to_string();
        Call::new(&name, "commit", async move {
            let tx = self.tx.take().ok_or_else(|| Error::Closed {
                name: self.ctx.name.to_string(),
            })?;
            if self.failed || self.in_flight {
                let rolled_back = tx.rollback(&self.ctx).await;
                return Err(rolled_back.err().unwrap_or_else(|| {
                    Error::InvalidArgument(format!(
                        "sql connection \"{}\": the transaction was rolled back, not \
                         committed: a statement in it failed or was cut short",
                        self.ctx.name
                    ))
                }));
            }
            // Cleared however the commit ends, unless it never reached the server.
            // Dropped half-way, the results are cleared once the cancel was sent.
            let (outcome, stale_results) =
                Settle::new(self.results.clear_on_drop(), tx.commit(&self.ctx)).await;
            if let Some(stale_results) = stale_results
                && outcome
                    .as_ref()
                    .is_err_and(|err| !err.may_have_reached_server())
            {
                stale_results.disarm();
            }
            outcome
        })
    }

    /// Rolls the transaction back now (dropping the session does too, a moment later).
    pub fn rollback(mut self) -> Call<()> {
        let name = self.ctx.name.to_string();
        Call::new(&name, "rollback", async move {
            match self.tx.take() {
                Some(tx) => tx.rollback(&self.ctx).await,
                None => Ok(()),
            }
        })
    }
}

/// A statement inside a [`Session`]: add parameters, then await it or call
/// [`blocking`](Self::blocking).
#[must_use = "a statement does nothing until it is awaited or run with .blocking()"]
pub struct SessionStatement<'s, T> {
    session: &'s mut Session,
    sql: String,
    params: Params,
    _outcome: std::marker::PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for SessionStatement<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionStatement")
            .field("sql", &self.sql)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl<'s, T> SessionStatement<'s, T> {
    fn new(session: &'s mut Session, sql: String) -> Self {
        SessionStatement {
            session,
            sql,
            params: Params::new(),
            _outcome: std::marker::PhantomData,
        }
    }

    /// Appends a positional parameter.
    pub fn bind(mut self, value: impl Into<Param>) -> Self {
        self.params.push(value);
        self
    }

    /// Sets a named parameter (`:name`).
    pub fn param(mut self, name: &str, value: impl Into<Param>) -> Self {
        self.params.set(name, value);
        self
    }
}

/// Refuses, on MySQL, a statement that would commit the session's transaction.
fn refuse_implicit_commit(sql: &str, backend: Backend) -> Result<()> {
    #[cfg(feature = "mysql")]
    if backend == Backend::MySql
        && let Some(statement) = crate::backend::mysql::implicit_commit(sql)
    {
        let instead = if statement.starts_with("COMMIT") || statement.starts_with("ROLLBACK") {
            "use Session::commit or Session::rollback"
        } else {
            "run it with SqlConnection::execute outside the session, before or after it"
        };
        return Err(Error::InvalidArgument(format!(
            "{statement} cannot run inside a MySQL session: MySQL commits the open \
             transaction before it (an implicit commit), which would commit the session's \
             work behind its back; {instead}"
        )));
    }
    #[cfg(not(feature = "mysql"))]
    let _ = (sql, backend);
    Ok(())
}

/// Whether `err` aborted the transaction it happened in: any error does on PostgreSQL;
/// a deadlock or serialization failure rolls the transaction back on MySQL.
fn aborts_transaction(err: &Error, backend: Backend) -> bool {
    match backend {
        Backend::Postgres => true,
        Backend::MySql => matches!(err.code(), Some("40001")),
        Backend::Sqlite => false,
    }
}

/// `run`, `blocking` and `IntoFuture` for one outcome type, through one `Tx` method.
macro_rules! session_statement {
    ($outcome:ty, $variant:ident, $take:ident) => {
        impl<'s> SessionStatement<'s, $outcome> {
            async fn run(self) -> Result<$outcome> {
                let SessionStatement {
                    session,
                    sql,
                    params,
                    ..
                } = self;
                let backend = session.tx()?.backend();
                refuse_implicit_commit(&sql, backend)?;
                let prepared = named::prepare(&sql, &params, backend)?;
                session.run(Statement::$variant(prepared)).await?.$take()
            }

            /// Runs the statement from synchronous code.
            pub fn blocking(self) -> Result<$outcome> {
                BorrowedCall::new(self.run()).blocking()
            }
        }

        impl<'s> IntoFuture for SessionStatement<'s, $outcome> {
            type Output = Result<$outcome>;
            type IntoFuture = <BorrowedCall<'s, $outcome> as IntoFuture>::IntoFuture;

            fn into_future(self) -> Self::IntoFuture {
                BorrowedCall::new(self.run()).into_future()
            }
        }
    };
}

session_statement!(u64, Execute, count);
session_statement!(Table, Fetch, table);

/// One statement of a session.
enum Statement<'q> {
    Fetch(named::Prepared),
    Execute(named::Prepared),
    Write(&'q str, &'q Table, WriteMode),
}

impl<'q> Statement<'q> {
    /// Whether the statement may change data, which on MySQL may be committed at once:
    /// anything but a plain query.
    fn may_commit(&self) -> bool {
        match self {
            Statement::Fetch(prepared) => !matches!(
                named::first_keyword(&prepared.sql).as_str(),
                "select" | "with" | "values" | "table" | "show" | "describe" | "explain"
            ),
            Statement::Execute(_) | Statement::Write(..) => true,
        }
    }

    fn what(&self) -> &'static str {
        match self {
            Statement::Fetch(_) => "query",
            Statement::Execute(_) => "execute",
            Statement::Write(..) => "write",
        }
    }

    async fn run(self, tx: &mut Tx, ctx: &Ctx) -> Result<Outcome> {
        match self {
            Statement::Fetch(prepared) => tx.fetch(prepared, ctx).await.map(Outcome::Table),
            Statement::Execute(prepared) => tx.execute(prepared, ctx).await.map(Outcome::Count),
            Statement::Write(name, table, mode) => {
                write::write_in_session(tx, name, table, mode, ctx)
                    .await
                    .map(Outcome::Count)
            }
        }
    }
}

/// What a session statement gave.
enum Outcome {
    Table(Table),
    Count(u64),
}

impl Outcome {
    fn table(self) -> Result<Table> {
        match self {
            Outcome::Table(table) => Ok(table),
            Outcome::Count(_) => Err(Error::Data("a query returned no rows description".into())),
        }
    }

    fn count(self) -> Result<u64> {
        match self {
            Outcome::Count(count) => Ok(count),
            Outcome::Table(_) => Err(Error::Data("a statement returned rows".into())),
        }
    }
}
