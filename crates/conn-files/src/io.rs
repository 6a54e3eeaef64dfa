//! Streaming access to one object: async and blocking readers and writers.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use conn_core::Result;
use conn_core::plugin::{ClearGuard, runtime};
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::io::{AsyncBufRead, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::ReadValue;
use crate::read::byte_reader;
use crate::store::Stores;

/// An object being read as a stream (`tokio::io::AsyncRead`). Bytes arrive as they are
/// downloaded; nothing is buffered beyond a read buffer.
pub struct ObjectReader {
    inner: Pin<Box<dyn AsyncBufRead + Send>>,
}

impl std::fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectReader").finish_non_exhaustive()
    }
}

pub(crate) async fn open(
    stores: &Stores,
    store: Arc<dyn ObjectStore>,
    location: ObjectPath,
) -> Result<ObjectReader> {
    let result = store
        .get(&location)
        .await
        .map_err(|e| stores.error(&e, "open"))?;
    Ok(ObjectReader {
        inner: byte_reader(result, None, stores.redactor()),
    })
}

impl AsyncRead for ObjectReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.inner.as_mut().poll_read(cx, buf)
    }
}

/// An object being read as a stream from synchronous code (`std::io::Read`). Usable
/// from plain threads and from inside a tokio runtime.
#[derive(Debug)]
pub struct BlockingReader {
    reader: ObjectReader,
}

impl BlockingReader {
    pub(crate) fn new(reader: ObjectReader) -> Self {
        BlockingReader { reader }
    }
}

impl io::Read for BlockingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let reader = &mut self.reader;
        runtime::block_on_borrowed(async { Ok(reader.read(buf).await) })
            .map_err(io::Error::other)?
    }
}

/// An object being written as a stream (`tokio::io::AsyncWrite`; finish with
/// `shutdown().await`, which makes the object appear whole; dropped unfinished, the
/// upload is abandoned).
///
/// While it is open, the connection's cached reads are neither served nor stored (its
/// write gate is closed), and they are dropped when it is finished or dropped: a read
/// can never return the object from before the write after the write completed.
pub struct ObjectWriter {
    inner: BufWriter,
    stale_results: Option<ClearGuard<ReadValue>>,
}

impl std::fmt::Debug for ObjectWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectWriter")
            .field("open", &self.stale_results.is_some())
            .finish_non_exhaustive()
    }
}

impl ObjectWriter {
    pub(crate) fn new(inner: BufWriter, stale_results: ClearGuard<ReadValue>) -> Self {
        ObjectWriter {
            inner,
            stale_results: Some(stale_results),
        }
    }
}

impl AsyncWrite for ObjectWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let done = std::task::ready!(Pin::new(&mut self.inner).poll_shutdown(cx));
        // The object is complete (or the upload failed): cached reads may predate it.
        drop(self.stale_results.take());
        Poll::Ready(done)
    }
}

/// An object being written as a stream from synchronous code (`std::io::Write`). Call
/// [`finish`](Self::finish) to complete the upload; dropping it unfinished abandons it.
pub struct BlockingWriter {
    writer: Option<ObjectWriter>,
}

impl std::fmt::Debug for BlockingWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingWriter")
            .field("open", &self.writer.is_some())
            .finish()
    }
}

impl BlockingWriter {
    pub(crate) fn new(writer: ObjectWriter) -> Self {
        BlockingWriter {
            writer: Some(writer),
        }
    }

    fn writer(&mut self) -> io::Result<&mut ObjectWriter> {
        self.writer
            .as_mut()
            .ok_or_else(|| io::Error::other("the writer is already finished"))
    }

    /// Completes the upload: the object appears whole.
    pub fn finish(mut self) -> io::Result<()> {
        let writer = self.writer()?;
        runtime::block_on_borrowed(async { Ok(writer.shutdown().await) })
            .map_err(io::Error::other)??;
        self.writer = None;
        Ok(())
    }
}

impl io::Write for BlockingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let writer = self.writer()?;
        runtime::block_on_borrowed(async { Ok(writer.write(buf).await) })
            .map_err(io::Error::other)?
    }

    fn flush(&mut self) -> io::Result<()> {
        let writer = self.writer()?;
        runtime::block_on_borrowed(async { Ok(writer.flush().await) }).map_err(io::Error::other)?
    }
}

impl Drop for BlockingWriter {
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            // An unfinished upload is abandoned; dropping the writer needs the runtime.
            runtime::drop_in_runtime(writer);
        }
    }
}
