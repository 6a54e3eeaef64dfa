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
    /// First batches held back while a column has held only NULLs (its type is not
    /// known yet: a decoder that types by values gives it a placeholder).
    held: Vec<RecordBatch>,
    /// Rows in `held`.
    held_rows: usize,
}

/// At most this many batches are held back before the schema is announced.
const HOLD_BATCHES: usize = 8;
/// At most this many rows are held back before the schema is announced.
const HOLD_ROWS: usize = 262_144;

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
    ///
    /// While a column of the first batches holds only NULLs, its type may be a
    /// placeholder (a decimal's scale, SQLite's dynamic types come from the values):
    /// those batches are held back (at most 8 batches or 262,144
    /// rows) until a value shows the column's type, and the schema is announced with it.
    pub async fn send(&self, batch: RecordBatch) -> Result<()> {
        let messages = {
            let mut state = self.state.lock();
            state.touched = true;
            match &state.schema {
                None if batch.num_rows() == 0 => {
                    if !state.held.is_empty() {
                        return Ok(());
                    }
                    state.schema = Some(batch.schema());
                    vec![Message::Schema(batch.schema())]
                }
                None => {
                    // Nothing of it may be sent twice from now on.
                    state.started = true;
                    state.held_rows += batch.num_rows();
                    state.held.push(batch);
                    if undetermined(&state.held)
                        && state.held.len() < HOLD_BATCHES
                        && state.held_rows < HOLD_ROWS
                    {
                        return Ok(());
                    }
                    release_held(&mut state)?
                }
                Some(_) if batch.num_rows() == 0 => return Ok(()),
                Some(schema) => {
                    let fitted = fit::to_schema(&batch, schema, state.rows)?;
                    state.rows += fitted.num_rows();
                    state.started = true;
                    vec![Message::Batch(fitted)]
                }
            }
        };
        for message in messages {
            self.deliver(message).await?;
        }
        Ok(())
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
        let messages = {
            let mut state = self.state.lock();
            state.touched = true;
            if state.schema.is_some() {
                return Ok(());
            }
            if state.held.is_empty() {
                state.schema = Some(schema.clone());
                vec![Message::Schema(schema)]
            } else {
                release_held(&mut state)?
            }
        };
        for message in messages {
            self.deliver(message).await?;
        }
        Ok(())
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
        // Batches still held back (every one NULL in some column) go out first.
        let held = {
            let mut state = self.state.lock();
            if state.held.is_empty() {
                Ok(Vec::new())
            } else {
                release_held(&mut state)
            }
        };
        match held {
            Ok(messages) => {
                for message in messages {
                    if self.deliver(message).await.is_err() {
                        return;
                    }
                }
                // A reader that is gone needs no end.
                let _ = self.sender.send(Message::End).await;
            }
            Err(err) => self.fail(err).await,
        }
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

/// Whether some column has held only NULLs in every batch of `held`.
fn undetermined(held: &[RecordBatch]) -> bool {
    let Some(first) = held.first() else {
        return false;
    };
    (0..first.num_columns()).any(|column| {
        held.iter().all(|batch| {
            let array = batch.column(column);
            array.logical_null_count() == array.len()
        })
    })
}

/// Announces the schema of the held batches (each column typed by the first batch
/// where it holds a value) and hands them out, fitted to it.
fn release_held(state: &mut State) -> Result<Vec<Message>> {
    let held = std::mem::take(&mut state.held);
    state.held_rows = 0;
    let first = held[0].schema();
    let fields: Vec<arrow::datatypes::FieldRef> = first
        .fields()
        .iter()
        .enumerate()
        .map(|(column, field)| {
            let typed = held.iter().find(|batch| {
                let array = batch.column(column);
                array.logical_null_count() < array.len()
            });
            match typed {
                Some(batch) if batch.schema().field(column).data_type() != field.data_type() => {
                    Arc::new(
                        field
                            .as_ref()
                            .clone()
                            .with_data_type(batch.schema().field(column).data_type().clone())
                            .with_nullable(true),
                    )
                }
                _ => Arc::clone(field),
            }
        })
        .collect();
    let schema: SchemaRef = Arc::new(arrow::datatypes::Schema::new_with_metadata(
        fields,
        first.metadata().clone(),
    ));
    let mut messages = Vec::with_capacity(held.len());
    for batch in &held {
        let fitted = fit::to_schema(batch, &schema, state.rows)?;
        state.rows += fitted.num_rows();
        messages.push(Message::Batch(fitted));
    }
    state.schema = Some(schema);
    Ok(messages)
}
