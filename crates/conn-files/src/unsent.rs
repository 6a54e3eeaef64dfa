//! Retries of requests that never left the client.
//!
//! object_store retries a request when it can tell what went wrong; an error it cannot
//! classify fails at once, even with retries configured (object_store 0.13 and
//! apache/arrow-rs-object-store#368). One such error is hyper's "operation was canceled:
//! connection was not ready": a new connection closed by the server (or a proxy, or a
//! load balancer) before the request was written on it. Nothing reached the server, so
//! sending the request again is safe for every method, a PUT included: it cannot apply
//! a write twice.
//!
//! [`UnsentRetry`] wraps a cloud store and sends such requests again, by the
//! connection's `retry` section (the same attempts and waits object_store uses for the
//! errors it does classify, so the two never multiply: object_store made no retry of
//! these). Any other error passes through untouched.

use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use conn_core::RetryPolicy;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};

/// A store whose requests are sent again when they provably never left the client.
#[derive(Debug)]
pub(crate) struct UnsentRetry {
    inner: Arc<dyn ObjectStore>,
    policy: RetryPolicy,
}

impl UnsentRetry {
    /// `inner`, with unsent requests retried by `policy`.
    pub(crate) fn new(inner: Arc<dyn ObjectStore>, policy: RetryPolicy) -> Self {
        UnsentRetry { inner, policy }
    }

    /// Runs `request` until it succeeds, fails with an error other than "never sent",
    /// or has used the policy's attempts. Waits `wait`, doubling up to 4 x `wait`.
    async fn run<T, F, Fut>(&self, mut request: F) -> object_store::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = object_store::Result<T>>,
    {
        let mut attempt = 1;
        let mut wait = self.policy.wait;
        loop {
            match request().await {
                Err(err) if attempt < self.policy.attempts && was_never_sent(&err) => {
                    tracing::debug!(attempt, "request never sent ({err}); sending it again");
                    tokio::time::sleep(wait).await;
                    wait = wait
                        .saturating_mul(2)
                        .min(self.policy.wait.saturating_mul(4));
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }
}

/// Whether `err` says the request was never written to the server: hyper canceled it
/// because its connection closed before it was ready.
pub(crate) fn was_never_sent(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(error) = cause {
        if error
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_canceled)
        {
            return true;
        }
        cause = error.source();
    }
    false
}

impl fmt::Display for UnsentRetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

#[async_trait]
impl ObjectStore for UnsentRetry {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.run(|| self.inner.put_opts(location, payload.clone(), opts.clone()))
            .await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.run(|| self.inner.put_multipart_opts(location, opts.clone()))
            .await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.run(|| self.inner.get_opts(location, options.clone()))
            .await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        self.run(|| self.inner.get_ranges(location, ranges)).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.run(|| self.inner.list_with_delimiter(prefix)).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.run(|| self.inner.copy_opts(from, to, options.clone()))
            .await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        // Passed on as is (conn renames nothing); a rename is not one request.
        self.inner.rename_opts(from, to, options).await
    }
}
