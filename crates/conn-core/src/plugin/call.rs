//! [`Call`]: one async operation, usable with `.await` from any executor or with
//! [`blocking`](Call::blocking) from plain code, with a time limit. Every connection
//! type's methods return one, so no type writes a `*_blocking` twin of its own.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Limit, Result, TimeoutError};
use crate::runtime;

type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'static>>;

/// One operation of a connection: `.await` it, or call [`blocking`](Self::blocking).
///
/// The work runs on conn's runtime. Dropping the awaited future stops it (the query is
/// cancelled on the server where the type can, an uncommitted write is rolled back). A
/// time limit, from the connection's `timeout` setting or [`timeout`](Self::timeout),
/// stops it the same way and returns an error naming the limit.
#[must_use = "a call does nothing until it is awaited or run with .blocking()"]
pub struct Call<T> {
    state: State<T>,
}

enum State<T> {
    Ready(Result<T>),
    Pending {
        future: BoxFuture<T>,
        label: Label,
        limit: Option<(Duration, Limit)>,
    },
}

/// Which connection and operation a call is, for its timeout error.
#[derive(Clone, Debug)]
struct Label {
    connection: Arc<str>,
    operation: &'static str,
}

impl<T> fmt::Debug for Call<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            State::Ready(_) => f.write_str("Call(ready)"),
            State::Pending { label, limit, .. } => f
                .debug_struct("Call")
                .field("connection", &label.connection)
                .field("operation", &label.operation)
                .field("limit", &limit.as_ref().map(|(after, _)| after))
                .finish(),
        }
    }
}

impl<T: Send + 'static> Call<T> {
    /// The operation `operation` of connection `connection`, doing `future` on conn's
    /// runtime.
    pub fn new(
        connection: &str,
        operation: &'static str,
        future: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Self {
        Call {
            state: State::Pending {
                future: Box::pin(future),
                label: Label {
                    connection: Arc::from(connection),
                    operation,
                },
                limit: None,
            },
        }
    }

    /// A call whose outcome is already known (a cache hit): awaiting or blocking on it
    /// returns at once, without leaving the caller's thread.
    pub fn ready(outcome: Result<T>) -> Self {
        Call {
            state: State::Ready(outcome),
        }
    }

    /// Stops the work and fails with a timeout error if it takes longer than `limit`
    /// (replacing the connection's `timeout` setting for this call).
    pub fn timeout(mut self, limit: Duration) -> Self {
        if let State::Pending { limit: current, .. } = &mut self.state {
            *current = Some((limit, Limit::Call));
        }
        self
    }

    /// Applies a limit from a setting unless the call already has one.
    pub(crate) fn default_limit(mut self, limit: Option<(Duration, Limit)>) -> Self {
        if let State::Pending { limit: current, .. } = &mut self.state
            && current.is_none()
        {
            *current = limit;
        }
        self
    }

    /// Runs the call, blocking the calling thread. Works from plain code and from
    /// inside any tokio runtime.
    pub fn blocking(self) -> Result<T> {
        match self.state {
            State::Ready(outcome) => outcome,
            State::Pending {
                future,
                label,
                limit,
            } => runtime::block_on(limited(future, label, limit)),
        }
    }
}

/// `future` within `limit`, on conn's runtime.
async fn limited<T>(
    future: BoxFuture<T>,
    label: Label,
    limit: Option<(Duration, Limit)>,
) -> Result<T> {
    let Some((after, limit)) = limit else {
        return future.await;
    };
    match tokio::time::timeout(after, future).await {
        Ok(outcome) => outcome,
        Err(_) => {
            tracing::warn!(connection = %label.connection, operation = label.operation, ?after, "conn.timeout");
            Err(TimeoutError {
                connection: label.connection.to_string(),
                operation: label.operation.to_owned(),
                after,
                limit,
            }
            .into())
        }
    }
}

impl<T: Send + 'static> IntoFuture for Call<T> {
    type Output = Result<T>;
    type IntoFuture = BoxFuture<T>;

    fn into_future(self) -> Self::IntoFuture {
        match self.state {
            State::Ready(outcome) => Box::pin(std::future::ready(outcome)),
            State::Pending {
                future,
                label,
                limit,
            } => Box::pin(runtime::run(limited(future, label, limit))),
        }
    }
}

/// An operation that borrows what it works on (a statement in a session borrows the
/// session): `.await` it, or call [`blocking`](Self::blocking). It runs inside conn's
/// runtime context wherever it is polled.
#[must_use = "a call does nothing until it is awaited or run with .blocking()"]
pub struct BorrowedCall<'a, T> {
    future: Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>,
}

impl<T> fmt::Debug for BorrowedCall<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BorrowedCall")
    }
}

impl<'a, T: Send + 'a> BorrowedCall<'a, T> {
    /// The operation `future`.
    pub fn new(future: impl Future<Output = Result<T>> + Send + 'a) -> Self {
        BorrowedCall {
            future: Box::pin(future),
        }
    }

    /// Runs it, blocking the calling thread (from plain code or inside any runtime).
    pub fn blocking(self) -> Result<T> {
        runtime::block_on_borrowed(self.future)
    }
}

impl<'a, T: Send + 'a> IntoFuture for BorrowedCall<'a, T> {
    type Output = Result<T>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        match runtime::in_runtime(self.future) {
            Ok(future) => Box::pin(future),
            Err(err) => Box::pin(std::future::ready(Err(err))),
        }
    }
}
