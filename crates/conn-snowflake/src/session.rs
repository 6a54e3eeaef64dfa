//! [`Session`]: a Snowflake session of its own, with a transaction open, for work that
//! must not mix with the connection's other statements (transactions, temporary
//! tables).

use std::fmt;
use std::future::IntoFuture;
use std::time::Duration;

use conn_core::plugin::{BorrowedCall, ResultCache};
use conn_core::{Call, Error, Limit, Param, Params, Result, Table, TimeoutError};

use crate::client::{QueryRequest, SnowflakeClient};
use crate::{Executed, protocol, result, run_for_effect};

/// Statements Snowflake runs in a transaction of their own, committing the open one
/// first: DDL, and the transaction statements themselves.
const COMMITTING: &[&str] = &[
    "create", "alter", "drop", "undrop", "grant", "revoke", "comment", "begin", "start", "commit",
    "rollback",
];

/// A Snowflake session of its own (a second login) holding one transaction.
///
/// Statements run in it with [`execute`](Self::execute) and [`query`](Self::query)
/// (never cached; queries see the transaction's uncommitted changes). The transaction
/// begins with the first statement that is not DDL; [`commit`](Self::commit) makes it
/// permanent and clears the connection's cached results; dropping the session without
/// committing rolls back and closes it.
///
/// Snowflake commits the open transaction before any DDL statement (`CREATE`, `ALTER`,
/// `DROP`, ...). So DDL (temporary tables, say) runs only before the transaction holds
/// a change; after one it is refused rather than committing the session's work behind
/// its back.
pub struct Session {
    /// The connection's name, for errors.
    name: String,
    client: Option<SnowflakeClient>,
    results: ResultCache,
    timeout: Option<(Duration, Limit)>,
    /// `BEGIN` ran and no `COMMIT` or `ROLLBACK` since.
    open: bool,
    /// A change ran in the open transaction.
    dirty: bool,
    /// A statement failed or was cut short: the session can only roll back.
    failed: bool,
    /// A statement started and has not ended: its call was dropped half-way.
    in_flight: bool,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("open", &self.client.is_some())
            .field("dirty", &self.dirty)
            .finish_non_exhaustive()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let open = self.open;
            conn_core::plugin::runtime::spawn_detached(async move {
                if open {
                    let _ = client.run(&statement("ROLLBACK")).await;
                }
                // Dropping the last clone closes the session on the server.
                client.close();
            });
        }
    }
}

fn statement(sql: &str) -> QueryRequest {
    QueryRequest {
        sql: sql.to_owned(),
        bindings: None,
    }
}

impl Session {
    /// A session on a freshly logged-in `client`.
    pub(crate) fn new(
        client: SnowflakeClient,
        results: ResultCache,
        timeout: Option<(Duration, Limit)>,
    ) -> Session {
        Session {
            name: client.ctx().name.to_string(),
            client: Some(client),
            results,
            timeout,
            open: false,
            dirty: false,
            failed: false,
            in_flight: false,
        }
    }

    /// A statement run for its effect; resolves to the rows affected and the query id.
    pub fn execute(&mut self, sql: impl Into<String>) -> SessionStatement<'_, Executed> {
        SessionStatement::new(self, sql.into())
    }

    /// A query inside the transaction (sees its uncommitted changes); resolves to a
    /// [`Table`].
    pub fn query(&mut self, sql: impl Into<String>) -> SessionStatement<'_, Table> {
        SessionStatement::new(self, sql.into())
    }

    fn client(&self) -> Result<SnowflakeClient> {
        self.client.clone().ok_or_else(|| Error::Closed {
            name: self.name.clone(),
        })
    }

    /// Runs one statement: refuses what would commit behind the session's back, keeps
    /// the connection's `timeout`, and marks the session failed when a statement fails
    /// or is cut short.
    async fn run<T>(
        &mut self,
        sql: String,
        params: Params,
        finish: impl AsyncFnOnce(&SnowflakeClient, QueryRequest) -> Result<T>,
    ) -> Result<T> {
        let client = self.client()?;
        if self.in_flight {
            self.failed = true;
        }
        let first = first_word(&sql);
        let commits = COMMITTING.contains(&first.as_str());
        if commits {
            self.refuse_commit(&first)?;
            if self.open {
                // Nothing changed yet: end the empty transaction before the DDL would.
                client.run(&statement("COMMIT")).await?;
                self.open = false;
            }
        } else if !self.open {
            client.run(&statement("BEGIN")).await?;
            self.open = true;
        }
        let query = QueryRequest {
            sql,
            bindings: protocol::binds::bindings(&params)?,
        };
        let reads = conn_core::plugin::statement::is_read_only(&query.sql);
        self.in_flight = true;
        let work = finish(&client, query);
        let outcome = match &self.timeout {
            None => work.await,
            Some((after, limit)) => match tokio::time::timeout(*after, work).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Error::Timeout(Box::new(TimeoutError {
                    connection: client.ctx().name.to_string(),
                    operation: "session statement".into(),
                    after: *after,
                    limit: limit.clone(),
                }))),
            },
        };
        self.in_flight = false;
        match &outcome {
            Err(Error::Timeout(_)) => self.failed = true,
            // A change that failed in any way but the server's refusal (a lost answer,
            // one that cannot be read) may have applied: as far as DDL is concerned,
            // the transaction holds it. One the server refused did nothing (Snowflake
            // undoes a failed statement).
            Err(err) if !commits && !reads && !crate::classify::nothing_applied(err) => {
                self.dirty = true;
            }
            Ok(_) if commits => {
                // DDL committed at once: the connection's cached results may predate it.
                self.results.clear();
            }
            Ok(_) if !reads => self.dirty = true,
            _ => {}
        }
        outcome
    }

    fn refuse_commit(&self, first: &str) -> Result<()> {
        let name = &self.name;
        if matches!(first, "begin" | "start" | "commit" | "rollback") {
            return Err(Error::InvalidArgument(format!(
                "snowflake connection \"{name}\": {} inside a session: use Session::commit or \
                 Session::rollback (the session opened its transaction itself)",
                first.to_ascii_uppercase()
            )));
        }
        if self.dirty || self.failed {
            return Err(Error::InvalidArgument(format!(
                "snowflake connection \"{name}\": {} cannot run in this session now: Snowflake \
                 commits the open transaction before it, and the transaction holds changes; \
                 run it before the session's first change, or outside the session",
                first.to_ascii_uppercase()
            )));
        }
        Ok(())
    }

    /// Commits the transaction, then clears the connection's cached query results and
    /// closes the session.
    pub fn commit(mut self) -> Call<()> {
        let name = self.name.clone();
        Call::new(&name, "commit", async move {
            let client = self.client.take().ok_or_else(|| Error::Closed {
                name: self.name.clone(),
            })?;
            if !self.open {
                client.close();
                return Ok(());
            }
            if self.failed || self.in_flight {
                let rolled_back = client.run(&statement("ROLLBACK")).await;
                client.close();
                return Err(rolled_back.err().unwrap_or_else(|| {
                    Error::InvalidArgument(format!(
                        "snowflake connection \"{}\": the transaction was rolled back, not \
                         committed: a statement in it was cut short",
                        client.ctx().name
                    ))
                }));
            }
            let stale = self.results.clear_on_drop();
            let committed = client.run(&statement("COMMIT")).await;
            if committed
                .as_ref()
                .is_err_and(|e| !e.may_have_reached_server())
            {
                stale.disarm();
            }
            client.close();
            committed.map(drop)
        })
    }

    /// Rolls the transaction back and closes the session now (dropping the session
    /// does too, a moment later).
    pub fn rollback(mut self) -> Call<()> {
        let name = self.name.clone();
        Call::new(&name, "rollback", async move {
            let Some(client) = self.client.take() else {
                return Ok(());
            };
            if !self.open {
                client.close();
                return Ok(());
            }
            let rolled_back = client.run(&statement("ROLLBACK")).await;
            client.close();
            rolled_back.map(drop)
        })
    }
}

/// The statement's first word, lower case, after spaces, comments and parentheses.
fn first_word(sql: &str) -> String {
    let mut rest = sql.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else if let Some(after) = rest.strip_prefix('(') {
            rest = after.trim_start();
        } else {
            break;
        }
    }
    rest.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect::<String>()
        .to_ascii_lowercase()
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

    /// Appends a positional parameter (`?` or `:1`, `:2`, ... in the text).
    pub fn bind(mut self, value: impl Into<Param>) -> Self {
        self.params.push(value);
        self
    }
}

/// `run`, `blocking` and `IntoFuture` for one outcome type, whose `finish` turns a
/// statement into it on the session's client.
macro_rules! session_statement {
    ($outcome:ty, $finish:expr) => {
        impl<'s> SessionStatement<'s, $outcome> {
            async fn run(self) -> Result<$outcome> {
                let SessionStatement {
                    session,
                    sql,
                    params,
                    ..
                } = self;
                session.run(sql, params, $finish).await
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

session_statement!(
    Executed,
    async |client: &SnowflakeClient, query: QueryRequest| run_for_effect(client, &query).await
);
session_statement!(
    Table,
    async |client: &SnowflakeClient, query: QueryRequest| {
        let outcome = client.run(&query).await?;
        result::table(client, outcome).await
    }
);

#[cfg(test)]
mod tests {
    use super::first_word;

    #[test]
    fn first_words_skip_comments_and_parentheses() {
        assert_eq!(first_word("  -- note\n /* x */ (SELECT 1)"), "select");
        assert_eq!(first_word("Create temporary table t (a int)"), "create");
        assert_eq!(first_word(""), "");
    }
}
