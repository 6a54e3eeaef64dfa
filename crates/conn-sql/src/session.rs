//! Transactions: Streamlit's `with conn.session as s: ...; s.commit()`.

use std::fmt;
use std::future::IntoFuture;

use conn_core::plugin::{BorrowedCall, ResultCache, runtime};
use conn_core::{Call, Error, Param, Params, Result, Table, WriteMode};

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
    pub(crate) fn new(tx: Tx, ctx: Ctx, results: ResultCache) -> Self {
        Session {
            tx: Some(tx),
            ctx,
            results,
        }
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
            let ctx = self.ctx.clone();
            let tx = self.tx()?;
            write::write_in_session(tx, name, table, mode, &ctx).await
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
            // Cleared however the commit ends, unless it never reached the server.
            let stale_results = self.results.clear_on_drop();
            let outcome = tx.commit(&self.ctx).await;
            if outcome
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

/// `run`, `blocking` and `IntoFuture` for one outcome type, through one `Tx` method.
macro_rules! session_statement {
    ($outcome:ty, $method:ident) => {
        impl<'s> SessionStatement<'s, $outcome> {
            async fn run(self) -> Result<$outcome> {
                let SessionStatement {
                    session,
                    sql,
                    params,
                    ..
                } = self;
                let ctx = session.ctx.clone();
                let tx = session.tx()?;
                refuse_implicit_commit(&sql, tx.backend())?;
                let prepared = named::prepare(&sql, &params, tx.backend())?;
                tx.$method(prepared, &ctx).await
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

session_statement!(u64, execute);
session_statement!(Table, fetch);
