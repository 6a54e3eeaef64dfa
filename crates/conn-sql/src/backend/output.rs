//! Where the batches of a read go: into one table (`query()`), or to a stream's sink as
//! each one is built (`stream()`). The drivers decode the same way for both; only the
//! end of each batch differs.

use conn_core::plugin::BatchSink;
use conn_core::plugin::CancelGuard;
use conn_core::{Error, Result, Table};
use sqlx::Database;

use super::checkout::Checkout;
use crate::arrow::{Batches, ColumnDecoder};

/// Where a read's batches go.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Output<'a> {
    /// Every batch kept; each column's type settled over the whole result at its end.
    Table,
    /// Each batch sent as soon as it is built; the stream fixes the types by its first.
    Stream(&'a BatchSink),
}

/// What a read produced.
#[derive(Debug)]
pub(crate) enum Read {
    /// The whole result ([`Output::Table`]).
    Table(Table),
    /// Every batch went to the sink ([`Output::Stream`]).
    Streamed,
}

impl Read {
    /// The table of a read into [`Output::Table`].
    pub(crate) fn into_table(self) -> Result<Table> {
        match self {
            Read::Table(table) => Ok(table),
            Read::Streamed => Err(Error::Data(
                "a read into a table was streamed (a bug of conn-sql)".into(),
            )),
        }
    }
}

impl<'a> Output<'a> {
    /// The batch assembler for a result with columns `names`.
    pub(crate) fn batches<D: ColumnDecoder>(
        self,
        names: Vec<String>,
        decoders: Vec<D>,
        batch_size: usize,
    ) -> Batches<D> {
        let batches = Batches::new(names, decoders, batch_size);
        match self {
            Output::Table => batches,
            Output::Stream(_) => batches.handing_out(),
        }
    }

    /// Sends the batches built so far to the stream (waiting while its reader is
    /// behind); nothing for a table. Fails when the reader is gone or a batch does not
    /// fit the stream's types: the server is then still sending, and the connection
    /// is mid-result.
    #[inline]
    pub(crate) async fn send_ready<D: ColumnDecoder>(self, batches: &mut Batches<D>) -> Result<()> {
        if let Output::Stream(sink) = self
            && batches.has_ready()
        {
            for batch in batches.take_ready() {
                sink.send(batch).await?;
            }
        }
        Ok(())
    }

    /// The end of the result: the table, or the last batches sent (a result without
    /// rows announces its schema).
    pub(crate) async fn finish<D: ColumnDecoder>(self, batches: Batches<D>) -> Result<Read> {
        match self {
            Output::Table => batches.finish().map(Read::Table),
            Output::Stream(sink) => {
                for batch in batches.finish_handing_out()? {
                    sink.send(batch).await?;
                }
                Ok(Read::Streamed)
            }
        }
    }

    /// [`send_ready`](Self::send_ready) from blocking code (a driver reading on one of
    /// conn's blocking threads): waits while the reader is behind.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    #[inline]
    pub(crate) fn send_ready_blocking<D: ColumnDecoder>(
        self,
        batches: &mut Batches<D>,
    ) -> Result<()> {
        if let Output::Stream(sink) = self
            && batches.has_ready()
        {
            for batch in batches.take_ready() {
                sink.send_blocking(batch)?;
            }
        }
        Ok(())
    }

    /// [`finish`](Self::finish) from blocking code.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) fn finish_blocking<D: ColumnDecoder>(self, batches: Batches<D>) -> Result<Read> {
        match self {
            Output::Table => batches.finish().map(Read::Table),
            Output::Stream(sink) => {
                for batch in batches.finish_handing_out()? {
                    sink.send_blocking(batch)?;
                }
                Ok(Read::Streamed)
            }
        }
    }

    /// The stream's sink, for a streamed read.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) fn sink(self) -> Option<&'a BatchSink> {
        match self {
            Output::Table => None,
            Output::Stream(sink) => Some(sink),
        }
    }

    /// Whether batches are streamed.
    pub(crate) fn is_stream(self) -> bool {
        matches!(self, Output::Stream(_))
    }

    /// After a read on a pooled connection: disarms the cancel guard and returns the
    /// connection to its pool, or closes it (see [`Checkout::settle`]). A streamed read
    /// that failed without a server error (its reader went away, a batch did not fit
    /// the stream's types, the connection broke) may have left the server sending
    /// rows: the guard then fires (the statement is cancelled on the server) and the
    /// connection is closed.
    pub(crate) fn release<DB: Database, T>(
        self,
        guard: CancelGuard,
        conn: Checkout<DB>,
        outcome: &Result<T>,
    ) {
        match outcome {
            Err(err) if self.is_stream() && err.code().is_none() => {
                drop(guard);
                drop(conn);
            }
            _ => {
                guard.disarm();
                conn.settle(outcome);
            }
        }
    }
}
