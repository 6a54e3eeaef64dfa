//! Requests that never left the client, told to object_store as such.
//!
//! object_store retries a request when it can tell what went wrong; an error it cannot
//! classify fails at once, even with retries configured (object_store 0.13 and
//! apache/arrow-rs-object-store#368). One such error is hyper's "operation was canceled:
//! connection was not ready": a new connection closed by the server (or a proxy, or a
//! load balancer) before the request was written on it. Nothing reached the server, so
//! sending the request again is safe for every method, a PUT or a multipart part
//! included: it cannot apply a write twice.
//!
//! [`CanceledIsUnsent`] builds object_store's usual reqwest client and marks such errors
//! as "request not sent" (`HttpErrorKind::Request`), which object_store retries on
//! every path (reads, listings, puts, multipart parts, deletes) within the connection's
//! own retry budget: no second layer of retries, nothing multiplied. Any other error
//! passes through untouched.

use async_trait::async_trait;
use object_store::ClientOptions;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse, HttpService,
    ReqwestConnector,
};

/// object_store's reqwest client, with "canceled before sending" marked as not sent.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CanceledIsUnsent;

impl HttpConnector for CanceledIsUnsent {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let inner = ReqwestConnector::default().connect(options)?;
        Ok(HttpClient::new(MarkUnsent(inner)))
    }
}

#[derive(Debug)]
struct MarkUnsent(HttpClient);

#[async_trait]
impl HttpService for MarkUnsent {
    async fn call(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.0.execute(request).await.map_err(mark_unsent)
    }
}

/// `err` as "request not sent" when object_store could not classify it and hyper
/// canceled the request before writing it.
fn mark_unsent(err: HttpError) -> HttpError {
    if err.kind() == HttpErrorKind::Unknown && was_never_sent(&err) {
        HttpError::new(HttpErrorKind::Request, err)
    } else {
        err
    }
}

/// Whether `err` says the request was never written to the server: hyper canceled it
/// because its connection closed before it was ready.
fn was_never_sent(err: &(dyn std::error::Error + 'static)) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_errors_pass_through_unchanged() {
        let err = HttpError::new(HttpErrorKind::Unknown, std::io::Error::other("boom"));
        assert_eq!(mark_unsent(err).kind(), HttpErrorKind::Unknown);
        let err = HttpError::new(HttpErrorKind::Timeout, std::io::Error::other("slow"));
        assert_eq!(mark_unsent(err).kind(), HttpErrorKind::Timeout);
    }
}
