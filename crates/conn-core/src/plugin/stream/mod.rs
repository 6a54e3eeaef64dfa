//! The machinery of streamed reads; the user-facing side is documented in
//! [`crate::stream`].

mod fit;
mod sink;

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use futures::Stream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::runtime;
use crate::error::{Error, Result};

pub use sink::BatchSink;

/// Batches a producer may have ready before its reader takes them, by default.
pub const DEFAULT_PREFETCH: usize = 2;

/// What goes from a [`BatchSink`] to its [`BatchStream`].
#[derive(Debug)]
pub(crate) enum Message {
    /// The schema of a result that may have no rows (sent before any batch).
    Schema(SchemaRef),
    /// A batch of rows, in the announced schema.
    Batch(RecordBatch),
    /// The read failed; nothing follows.
    Error(Error),
    /// The result is complete; nothing follows.
    End,
}

/// A streamed read: the schema up front, then record batches in order.
///
/// Use it as a [`futures::Stream`] of `Result<RecordBatch>` in async code, or iterate it
/// (it is [`IntoIterator`]) to block for each batch. After an error nothing follows.
/// Dropping it stops the read on the server where the type can.
#[must_use = "a stream reads nothing unless it is consumed; dropping it cancels the read"]
pub struct BatchStream {
    schema: SchemaRef,
    first: Option<RecordBatch>,
    receiver: mpsc::Receiver<Message>,
    /// The producer; aborted when the stream is dropped.
    producer: Option<AbortOnDrop>,
    ended: bool,
}

impl fmt::Debug for BatchStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchStream")
            .field("columns", &self.schema.fields().len())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl BatchStream {
    /// Waits for the producer's first message: the schema (with the first batch, if
    /// any) or the error that ended the read before it started.
    pub(crate) async fn start(
        mut receiver: mpsc::Receiver<Message>,
        producer: AbortOnDrop,
    ) -> Result<Self> {
        let (schema, first) = match receiver.recv().await {
            Some(Message::Schema(schema)) => (schema, None),
            Some(Message::Batch(batch)) => (batch.schema(), Some(batch)),
            Some(Message::Error(err)) => return Err(err),
            Some(Message::End) => {
                return Err(Error::Data(
                    "the read ended before it announced its columns (a bug of the \
                     connection type)"
                        .into(),
                ));
            }
            None => return Err(stopped_early()),
        };
        Ok(BatchStream {
            schema,
            first,
            receiver,
            producer: Some(producer),
            ended: false,
        })
    }

    /// The schema every batch has.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The next batch, blocking the calling thread (works from plain code and from
    /// inside any tokio runtime). `None` when the read is done.
    pub fn next_blocking(&mut self) -> Option<Result<RecordBatch>> {
        use futures::StreamExt;
        match runtime::block_on_borrowed(async { Ok(self.next().await) }) {
            Ok(next) => next,
            Err(err) => {
                self.ended = true;
                Some(Err(err))
            }
        }
    }

    /// Reads the rest of the stream into memory, as `query()` would have (without its
    /// widening: the types are the announced ones).
    pub async fn collect(mut self) -> Result<crate::Table> {
        use futures::StreamExt;
        let mut batches = Vec::new();
        while let Some(batch) = self.next().await {
            batches.push(batch?);
        }
        crate::Table::new(self.schema.clone(), batches)
    }
}

impl BatchStream {
    /// The read is over: nothing more will come, and the producer finishes alone.
    fn finished(&mut self) {
        self.ended = true;
        if let Some(producer) = self.producer.take() {
            producer.let_go();
        }
    }
}

impl Stream for BatchStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(batch) = self.first.take() {
            return Poll::Ready(Some(Ok(batch)));
        }
        if self.ended {
            return Poll::Ready(None);
        }
        loop {
            return match self.receiver.poll_recv(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Some(Message::Batch(batch))) => Poll::Ready(Some(Ok(batch))),
                // The sink announces a schema only before any batch: nothing to hand out.
                Poll::Ready(Some(Message::Schema(_))) => continue,
                Poll::Ready(Some(Message::Error(err))) => {
                    self.finished();
                    Poll::Ready(Some(Err(err)))
                }
                Poll::Ready(Some(Message::End)) => {
                    self.finished();
                    Poll::Ready(None)
                }
                // The producer is gone without saying the result was complete (it
                // panicked, or its runtime shut down): an error, never a short result.
                Poll::Ready(None) => {
                    self.finished();
                    Poll::Ready(Some(Err(stopped_early())))
                }
            };
        }
    }
}

impl IntoIterator for BatchStream {
    type Item = Result<RecordBatch>;
    type IntoIter = BlockingBatches;

    fn into_iter(self) -> BlockingBatches {
        BlockingBatches { stream: self }
    }
}

/// A [`BatchStream`] as a blocking iterator: each `next` waits for the next batch.
#[derive(Debug)]
pub struct BlockingBatches {
    stream: BatchStream,
}

impl BlockingBatches {
    /// The schema every batch has.
    pub fn schema(&self) -> SchemaRef {
        self.stream.schema()
    }
}

impl Iterator for BlockingBatches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        self.stream.next_blocking()
    }
}

/// The error of a stream whose producer stopped without ending it.
fn stopped_early() -> Error {
    Error::Cancelled {
        context: "a streamed read whose producer stopped before the end of the result (see \
                  the log)"
            .into(),
    }
}

/// A spawned task, aborted when this is dropped unless it was let go.
#[derive(Debug)]
pub(crate) struct AbortOnDrop(Option<JoinHandle<()>>);

impl AbortOnDrop {
    pub(crate) fn new(task: JoinHandle<()>) -> Self {
        AbortOnDrop(Some(task))
    }

    /// Lets the task finish on its own (it has handed out everything; what is left is
    /// its cleanup, such as returning a connection to its pool).
    fn let_go(mut self) {
        self.0 = None;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            runtime::abort_counted(task);
        }
    }
}

/// The channel between a producer and its reader, `prefetch` batches deep (at least 1).
pub(crate) fn channel(prefetch: usize) -> (BatchSink, mpsc::Receiver<Message>) {
    let (sender, receiver) = mpsc::channel(prefetch.max(1));
    (BatchSink::new(sender), receiver)
}

#[cfg(test)]
mod tests;
