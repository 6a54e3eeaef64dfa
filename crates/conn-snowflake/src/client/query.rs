//! Running one statement: the query request, polling while the server says "still
//! running", and the abort request when the caller gives up or `query_timeout` fires.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use conn_core::plugin::CancelGuard;
use conn_core::{Error, Limit, Result, TimeoutError};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{SnowflakeClient, Token};
use crate::protocol::{self, QueryData};

/// The first wait between two polls of a running statement; it grows to
/// [`MAX_POLL_WAIT`]. (A real server holds each poll until the statement ends or about
/// 45 s pass, so these waits only matter for servers that answer at once.)
const FIRST_POLL_WAIT: Duration = Duration::from_millis(20);
const MAX_POLL_WAIT: Duration = Duration::from_millis(500);

/// One statement to run.
#[derive(Debug, Clone)]
pub(crate) struct QueryRequest {
    /// The statement's text.
    pub sql: String,
    /// Its `bindings`, if it has parameters.
    pub bindings: Option<Value>,
}

/// A statement's answer, once it finished.
#[derive(Debug)]
pub(crate) struct QueryOutcome {
    /// The server's id of the statement.
    pub query_id: String,
    /// The answer: columns, the first rows, the chunks holding the rest.
    pub data: QueryData,
}

impl SnowflakeClient {
    /// Runs `query` to its end: sends it, polls while it runs, and aborts it on the
    /// server if this future is dropped or `query_timeout` passes.
    pub(crate) async fn run(&self, query: &QueryRequest) -> Result<QueryOutcome> {
        self.check_open()?;
        let request_id = Uuid::new_v4();
        let guard = {
            let client = self.clone();
            let sql = query.sql.clone();
            CancelGuard::new(move || async move { client.abort(&sql, request_id).await })
        };
        let outcome = match self.settings().query_timeout.clone() {
            None => self.run_to_end(query, request_id).await,
            Some((after, at)) => {
                match tokio::time::timeout(after, self.run_to_end(query, request_id)).await {
                    Ok(outcome) => outcome,
                    Err(_) => {
                        // Dropping the armed guard sends the abort in the background:
                        // the caller gets its timeout now, whatever the network does.
                        drop(guard);
                        return Err(Error::Timeout(Box::new(TimeoutError {
                            connection: self.ctx().name.to_string(),
                            operation: "query".into(),
                            after,
                            limit: Limit::Setting {
                                key: "query_timeout",
                                at,
                            },
                        })));
                    }
                }
            }
        };
        guard.disarm();
        outcome
    }

    async fn run_to_end(&self, query: &QueryRequest, request_id: Uuid) -> Result<QueryOutcome> {
        let submitted = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let mut body = json!({
            "sqlText": query.sql,
            "asyncExec": false,
            "sequenceId": self.next_sequence(),
            "querySubmissionTime": submitted,
            "isInternal": false,
            "parameters": {},
        });
        if let Some(bindings) = &query.bindings {
            body["bindings"] = bindings.clone();
        }
        let mut answer = self
            .request(
                Method::POST,
                "/queries/v1/query-request",
                Some(&body),
                request_id,
                Token::Session,
                "query",
            )
            .await?;
        let started = Instant::now();
        let mut wait = FIRST_POLL_WAIT;
        // The statement reached the server: whatever fails from here on (a poll, a
        // renewal, a refused connect), it may be running or have run.
        let answer_after = |answer: Result<_>| answer.map_err(Error::after_send);
        while answer.success
            && matches!(
                answer.code.as_deref(),
                Some(protocol::QUERY_IN_PROGRESS | protocol::QUERY_IN_PROGRESS_ASYNC)
            )
        {
            let data: QueryData = serde_json::from_value(answer.data).unwrap_or_default();
            let Some(url) = data.get_result_url else {
                return Err(self.ctx().protocol_error(
                    "query",
                    "the server says the statement is still running but gives no result URL",
                ));
            };
            tracing::trace!(elapsed = ?started.elapsed(), "conn.snowflake: statement still running");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(MAX_POLL_WAIT);
            answer = answer_after(
                self.request(
                    Method::GET,
                    &url,
                    None,
                    Uuid::new_v4(),
                    Token::Session,
                    "query",
                )
                .await,
            )?;
        }
        let (data, _) = self.check(answer, "query")?;
        let data: QueryData = serde_json::from_value(data).map_err(|e| {
            self.ctx()
                .protocol_error("query", format!("unreadable query answer: {e}"))
        })?;
        let query_id = data.query_id.clone().unwrap_or_default();
        if let Some(zone) = data.timezone() {
            // `ALTER SESSION SET TIMEZONE` shows in the next answer's parameters.
            self.set_timezone(zone);
        }
        Ok(QueryOutcome { query_id, data })
    }

    /// Asks the server to stop the statement sent with `request_id` (best effort).
    pub(crate) async fn abort(&self, sql: &str, request_id: Uuid) {
        let body = json!({ "sqlText": sql, "requestId": request_id.to_string() });
        let sent = self
            .request(
                Method::POST,
                "/queries/v1/abort-request",
                Some(&body),
                Uuid::new_v4(),
                Token::Session,
                "aborting a statement",
            )
            .await;
        match sent {
            Ok(answer) if answer.success => {
                tracing::info!(connection = %self.ctx().name, "conn.snowflake: statement aborted");
            }
            Ok(answer) => tracing::debug!(
                connection = %self.ctx().name,
                code = ?answer.code,
                "conn.snowflake: abort not accepted (the statement may have ended)"
            ),
            Err(err) => {
                tracing::warn!(connection = %self.ctx().name, %err, "conn.snowflake: abort failed");
            }
        }
    }
}
