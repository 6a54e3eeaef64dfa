//! [`BatchSink`]: where a connection type puts the batches of a streamed read.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::Message;
use super::fit;
use crate::error::{Error, Result};
use crate::table::Table;

/// The producing end of a streamed read. A connection type's
/// [`Queryable::fetch_stream`](crate::plugin::Queryable::fetch_stream) sends each batch
/// as soon as it has it; [`send`](Self::send) waits while the reader is the prefetch
/// depth behind, which is what bounds memory.
///
/// The first batch (or [`announce`](Self::announce) for a result without rows) fixes
/// the schema; later batches are fitted to it (see [`crate::stream`]). Cloning is cheap
/// and clones share one stream: a retried attempt gets a clone, and may run again only
/// while [`started`](Self::started) is false.
#[derive(Clone, Debug)]
pub struct BatchSink {
    sender: mpsc::Sender<Message>,
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    /// The schema announced to the reader, once it was.
    schema: Option<SchemaRef>,
    /// Rows handed out so far (for the row numbers of errors).
    rows: usize,
    /// Whether a batch with rows was handed out: no attempt may start over after it.
    started: bool,
    /// Whether anything was sent or announced: the statement ran.
    touched: bool,
}

impl BatchSink {
    pub(super) fn new(sender: mpsc::Sender<Message>) -> Self {
        BatchSink {
            sender,
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    /// Hands `batch` to the reader, waiting while the reader is behind. A batch
    /// without rows only announces its schema (when none was yet). Fails when the
    /// reader is gone (the read should stop) or when a value does not fit the announced
    /// type of its column.
    pub async fn send(&self, batch: RecordBatch) -> Result<()> {
        let message = {
            let mut state = self.state.lock();
            state.touched = true;
            match &state.schema {
                None if batch.num_rows() == 0 => {
                    state.schema = Some(batch.schema());
                    Message::Schema(batch.schema())
                }
                None => {
                    state.schema = Some(batch.schema());
                    state.rows = batch.num_rows();
                    state.started = true;
                    Message::Batch(batch)
                }
                Some(_) if batch.num_rows() == 0 => return Ok(()),
                Some(schema) => {
                    let fitted = fit::to_schema(&batch, schema, state.rows)?;
                    state.rows += fitted.num_rows();
                    state.started = true;
                    Message::Batch(fitted)
                }
            }
        };
        self.deliver(message).await
    }

    /// Hands every batch of `table` to the reader, announcing its schema when it has
    /// no rows.
    pub async fn send_table(&self, table: Table) -> Result<()> {
        for batch in table.batches() {
            self.send(batch.clone()).await?;
        }
        self.announce(table.schema().clone()).await
    }

    /// Announces `schema` when no batch did: a result without rows still has columns.
    /// Does nothing once a schema was announced.
    pub async fn announce(&self, schema: SchemaRef) -> Result<()> {
        let message = {
            let mut state = self.state.lock();
            state.touched = true;
            if state.schema.is_some() {
                return Ok(());
            }
            state.schema = Some(schema.clone());
            Message::Schema(schema)
        };
        self.deliver(message).await
    }

    /// [`send`](Self::send) from blocking code: a driver that produces batches on a
    /// blocking thread (inside [`run_blocking`](crate::plugin::runtime::run_blocking)).
    /// Never call it from async code: it blocks the thread until the reader takes up.
    pub fn send_blocking(&self, batch: RecordBatch) -> Result<()> {
        futures::executor::block_on(self.send(batch))
    }

    /// [`announce`](Self::announce) from blocking code.
    pub fn announce_blocking(&self, schema: SchemaRef) -> Result<()> {
        futures::executor::block_on(self.announce(schema))
    }

    /// Whether rows were handed out: from then on the read cannot be retried, and an
    /// error ends the stream.
    pub fn started(&self) -> bool {
        self.state.lock().started
    }

    /// Whether anything was sent or announced (the statement ran and answered).
    pub fn touched(&self) -> bool {
        self.state.lock().touched
    }

    /// Whether the reader is gone (the stream was dropped): the producer should stop.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Ends the stream: the result is complete. (A channel that closes without this is
    /// an error for the reader, never a complete result.)
    pub(crate) async fn end(&self) {
        // A reader that is gone needs no end.
        let _ = self.sender.send(Message::End).await;
    }

    /// Ends the stream with `err` (the reader sees it after the batches before it).
    pub(crate) async fn fail(&self, err: Error) {
        // A reader that is gone needs no error.
        let _ = self.sender.send(Message::Error(err)).await;
    }

    async fn deliver(&self, message: Message) -> Result<()> {
        self.sender
            .send(message)
            .await
            .map_err(|_| Error::Cancelled {
                context: "a streamed read whose reader was dropped".into(),
            })
    }
}
