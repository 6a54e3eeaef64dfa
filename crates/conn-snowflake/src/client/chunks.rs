//! Downloading a result's chunks: in order, a few at once, with the headers the answer
//! asks for (`chunkHeaders`, or the SSE-C key `qrmk`), gunzipped when they are gzip.

use std::io::Read as _;

use bytes::Bytes;
use conn_core::{Error, Result};
use futures::{Stream, StreamExt as _, TryStreamExt as _};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::{FIRST_BACKOFF, SEND_ATTEMPTS, SnowflakeClient};
use crate::protocol::QueryData;

impl SnowflakeClient {
    /// The bodies of the answer's chunks, in the answer's order, at most
    /// `client_prefetch_threads` downloading at once.
    pub(crate) fn chunk_bodies(
        &self,
        data: &QueryData,
    ) -> Result<impl Stream<Item = Result<Bytes>> + Send + 'static> {
        let headers = self.chunk_headers(data)?;
        let client = self.clone();
        let urls: Vec<String> = data.chunks.iter().map(|chunk| chunk.url.clone()).collect();
        let concurrency = self.settings().chunk_concurrency;
        Ok(futures::stream::iter(urls.into_iter().enumerate())
            .map(move |(index, url)| {
                let (client, headers) = (client.clone(), headers.clone());
                async move { client.download_chunk(index, &url, headers).await }
            })
            .buffered(concurrency)
            .into_stream())
    }

    /// The headers every chunk download carries.
    fn chunk_headers(&self, data: &QueryData) -> Result<HeaderMap> {
        let mut headers = HeaderMap::new();
        let bad = |what: &str| {
            self.ctx().protocol_error(
                "downloading results",
                format!("unusable chunk header {what}"),
            )
        };
        if let Some(given) = &data.chunk_headers {
            for (name, value) in given {
                let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad(name))?;
                let value = HeaderValue::from_str(value).map_err(|_| bad(name.as_str()))?;
                headers.insert(name, value);
            }
        } else if let Some(key) = &data.qrmk {
            headers.insert(
                "x-amz-server-side-encryption-customer-algorithm",
                HeaderValue::from_static("AES256"),
            );
            let mut value = HeaderValue::from_str(key).map_err(|_| bad("qrmk"))?;
            value.set_sensitive(true);
            headers.insert("x-amz-server-side-encryption-customer-key", value);
        }
        Ok(headers)
    }

    /// One chunk's body, sent again when the network or the store fails.
    async fn download_chunk(&self, index: usize, url: &str, headers: HeaderMap) -> Result<Bytes> {
        let doing = format!("downloading result chunk {}", index + 1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let failure = match self
                .http()
                .get(url)
                .headers(headers.clone())
                .timeout(self.settings().network_timeout)
                .send()
                .await
            {
                Err(err) => self.ctx().transport_error(&doing, err, false),
                Ok(response) if response.status().is_success() => match response.bytes().await {
                    Ok(body) => return self.gunzip(&doing, body),
                    Err(err) => self.ctx().transport_error(&doing, err, false),
                },
                Ok(response) => {
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    let err = self.ctx().status_error(&doing, status, &body);
                    if !(status.is_server_error() || status.as_u16() == 429) {
                        return Err(err);
                    }
                    err
                }
            };
            if attempt >= SEND_ATTEMPTS {
                return Err(failure);
            }
            tokio::time::sleep(FIRST_BACKOFF * 2_u32.pow(attempt - 1)).await;
        }
    }

    /// The body, gunzipped if it starts with gzip's magic bytes (stores send chunks
    /// compressed without saying so).
    fn gunzip(&self, doing: &str, body: Bytes) -> Result<Bytes> {
        if !body.starts_with(&[0x1f, 0x8b]) {
            return Ok(body);
        }
        let mut out = Vec::with_capacity(body.len() * 4);
        flate2::read::MultiGzDecoder::new(&body[..])
            .read_to_end(&mut out)
            .map_err(|e| -> Error {
                self.ctx()
                    .protocol_error(doing, format!("the chunk is not valid gzip: {e}"))
            })?;
        Ok(Bytes::from(out))
    }
}
