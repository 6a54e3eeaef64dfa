//! From a connection's configuration and a path to an object store and a location in it.
//!
//! Paths follow st-files-connection: for S3, GCS and Azure the first segment is the
//! bucket (`my-bucket/data/pets.csv`, or `s3://my-bucket/data/pets.csv`) unless `root`
//! or `bucket` fixes it; local paths are absolute or relative to `root` (default: the
//! working directory). One store is built per bucket and reused.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use conn_core::plugin::Redactor;
use conn_core::{Error, ErrorClass, Result};
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
use parking_lot::Mutex;

use crate::config::{FilesConfig, Protocol, protocol_label};

/// The object stores of one connection.
pub struct Stores {
    config: FilesConfig,
    name: Arc<str>,
    redactor: Redactor,
    by_bucket: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
    memory: Option<Arc<dyn ObjectStore>>,
}

impl fmt::Debug for Stores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stores")
            .field("connection", &self.name)
            .field("protocol", &self.config.protocol)
            .field("buckets", &self.by_bucket.lock().keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// An object store error as a conn error, with secrets removed. Missing objects,
/// permissions and bad paths are permanent; other failures (after object_store's own
/// retries) may be transient.
pub(crate) fn to_conn_error(
    err: &object_store::Error,
    name: &str,
    what: &str,
    redactor: &Redactor,
) -> Error {
    use object_store::Error as E;
    // The causes too: "connection refused" is often only in the source chain.
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    let message = redactor.redact(&text);
    let class = match err {
        E::Generic { .. } if looks_like_client_error(&message) => ErrorClass::Permanent,
        E::Generic { .. } | E::JoinError { .. } => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    };
    Error::driver(
        format!("files connection \"{name}\", {what}"),
        class,
        message,
    )
}

/// Whether a generic store error carries a 4xx status (a missing bucket, bad
/// credentials): retrying cannot help.
fn looks_like_client_error(message: &str) -> bool {
    (400..500).any(|code| {
        message.contains(&format!("status {code}")) || message.contains(&format!("{code} "))
    }) || message.contains("NoSuchBucket")
        || message.contains("InvalidAccessKeyId")
        || message.contains("SignatureDoesNotMatch")
        || message.contains("AccessDenied")
}

impl Stores {
    pub(crate) fn new(config: FilesConfig, name: Arc<str>, redactor: Redactor) -> Self {
        let memory: Option<Arc<dyn ObjectStore>> = (config.protocol == Protocol::Memory)
            .then(|| Arc::new(object_store::memory::InMemory::new()) as Arc<dyn ObjectStore>);
        // (The connection's redactor already knows the secret query parameters of
        // configured URLs, such as a `root` with `?sig=...`.)
        Stores {
            config,
            name,
            redactor,
            by_bucket: Mutex::new(HashMap::new()),
            memory,
        }
    }

    /// The connection's protocol.
    pub fn protocol(&self) -> Protocol {
        self.config.protocol
    }

    pub(crate) fn error(&self, err: &object_store::Error, what: &str) -> Error {
        to_conn_error(err, &self.name, what, &self.redactor)
    }

    /// The store holding `path` and the location of `path` in it.
    ///
    /// With a `root` (or `bucket`), the root is a boundary: an absolute path, a `..`
    /// that climbs out of it, or a URL naming another bucket or host (or a key
    /// outside the root's prefix) is refused before any request is made.
    pub fn resolve(&self, path: &str) -> Result<(Arc<dyn ObjectStore>, ObjectPath)> {
        // A path may carry a secret (`?sig=...`): errors never show it.
        self.resolve_path(path)
            .map_err(|e| e.redacted(&self.redactor))
    }

    fn resolve_path(&self, path: &str) -> Result<(Arc<dyn ObjectStore>, ObjectPath)> {
        let protocol = self.config.protocol;
        let (scheme, rest) = match path.split_once("://") {
            Some((scheme, rest)) => (Some(scheme), rest),
            None => (None, path),
        };
        if let Some(scheme) = scheme
            && protocol != Protocol::Http
            && Protocol::from_name(scheme) != Some(protocol)
        {
            return Err(Error::InvalidArgument(format!(
                "\"{path}\" is a {scheme} URL but connection \"{}\" uses the {} protocol",
                self.name,
                protocol_label(protocol)
            )));
        }
        match protocol {
            Protocol::Memory => {
                let store = self
                    .memory
                    .clone()
                    .ok_or_else(|| Error::InvalidArgument("the memory store is missing".into()))?;
                let key = self.confined(path, rest)?;
                Ok((store, self.location(&self.config.prefix, &key)?))
            }
            Protocol::Local => self.local(path),
            Protocol::Http => self.http(path),
            Protocol::S3 | Protocol::Gcs | Protocol::Azure => {
                let (bucket, key) = self.bucket_and_key(path, scheme.is_some(), rest)?;
                let store = self.bucket_store(&bucket)?;
                Ok((store, self.location("", &key)?))
            }
        }
    }

    /// The bucket and full key of a bucket protocol's path.
    fn bucket_and_key(&self, path: &str, is_url: bool, rest: &str) -> Result<(String, String)> {
        let split = |text: &str| {
            let trimmed = text.trim_start_matches('/');
            let (bucket, key) = trimmed.split_once('/').unwrap_or((trimmed, ""));
            (bucket.to_owned(), key.to_owned())
        };
        match (&self.config.bucket, is_url) {
            // Relative to the root.
            (Some(bucket), false) => {
                let key = self.confined(path, rest)?;
                Ok((bucket.clone(), join_key(&self.config.prefix, &key)))
            }
            // A URL under a root: its bucket, and its key under the root's prefix.
            (Some(bucket), true) => {
                let (named, key) = split(rest);
                if &named != bucket {
                    return Err(self.outside(path, &format!("it names bucket \"{named}\"")));
                }
                let segments =
                    normalize(&key).ok_or_else(|| self.outside(path, "a `..` climbs out of it"))?;
                let prefix = normalize(&self.config.prefix).unwrap_or_default();
                if !segments.starts_with(&prefix) {
                    return Err(self.outside(path, "its key is not under the root's prefix"));
                }
                Ok((bucket.clone(), segments.join("/")))
            }
            // No root: `bucket/key`.
            (None, _) => {
                let (bucket, key) = split(rest);
                if bucket.is_empty() {
                    return Err(Error::InvalidArgument(format!(
                        "\"{path}\" names no bucket: write it as bucket/key, or set `root` or \
                         `bucket` for connection \"{}\"",
                        self.name
                    )));
                }
                let segments = normalize(&key).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "\"{path}\": a `..` climbs out of bucket \"{bucket}\"; refused"
                    ))
                })?;
                Ok((bucket, segments.join("/")))
            }
        }
    }

    /// The error for a path outside the connection's root.
    fn outside(&self, path: &str, why: &str) -> Error {
        Error::InvalidArgument(format!(
            "\"{path}\" is outside the root \"{}\" of connection \"{}\" ({why}); refused",
            self.config.root.as_deref().unwrap_or_default(),
            self.name
        ))
    }

    /// A path relative to the root, normalized; with a root, an absolute path or a
    /// `..` climbing out of it is refused.
    fn confined(&self, path: &str, relative: &str) -> Result<String> {
        let rooted = self.config.root.is_some();
        if rooted && relative.starts_with('/') {
            return Err(self.outside(path, "an absolute path"));
        }
        let segments = normalize(relative).ok_or_else(|| {
            if rooted {
                self.outside(path, "a `..` climbs out of it")
            } else {
                Error::InvalidArgument(format!("\"{path}\": a `..` climbs above the top; refused"))
            }
        })?;
        Ok(segments.join("/"))
    }

    fn location(&self, prefix: &str, key: &str) -> Result<ObjectPath> {
        let joined = join_key(prefix, key);
        ObjectPath::parse(joined.trim_matches('/')).map_err(|e| {
            Error::InvalidArgument(format!("\"{key}\" is not a valid object path: {e}"))
        })
    }

    /// The file system path of `path`, for a local connection: local files are read
    /// with plain file I/O, which object_store's local store only wraps. Under a
    /// `root`, the path must stay inside it.
    pub(crate) fn local_path(&self, path: &str) -> Result<Option<std::path::PathBuf>> {
        if self.config.protocol != Protocol::Local {
            return Ok(None);
        }
        let relative = path.strip_prefix("file://").unwrap_or(path);
        if self.config.prefix.is_empty() {
            // No root: relative to the working directory, absolute paths as given.
            let cwd = std::env::current_dir().map_err(|e| Error::Io {
                context: "finding the working directory".into(),
                message: e.to_string(),
            })?;
            let full = cwd.join(relative);
            return Ok(Some(std::path::absolute(&full).unwrap_or(full)));
        }
        if std::path::Path::new(relative).is_absolute() {
            return Err(self.outside(path, "an absolute path"));
        }
        let segments =
            normalize(relative).ok_or_else(|| self.outside(path, "a `..` climbs out of it"))?;
        let root = std::path::PathBuf::from(&self.config.prefix);
        let mut full = std::path::absolute(&root).unwrap_or(root);
        full.extend(segments);
        Ok(Some(full))
    }

    fn local(&self, path: &str) -> Result<(Arc<dyn ObjectStore>, ObjectPath)> {
        let absolute = self.local_path(path)?.unwrap_or_default();
        let store = self.bucket_store("")?;
        let location = ObjectPath::from_absolute_path(&absolute).map_err(|e| {
            Error::InvalidArgument(format!("\"{path}\" is not a valid file path: {e}"))
        })?;
        Ok((store, location))
    }

    fn http(&self, path: &str) -> Result<(Arc<dyn ObjectStore>, ObjectPath)> {
        let root = self.config.prefix.as_str();
        if let Some((base, key)) = split_url(path) {
            let segments = if let Some((root_base, root_path)) = split_url(root) {
                if !base.eq_ignore_ascii_case(&root_base) {
                    return Err(self.outside(path, &format!("it names {base}")));
                }
                let segments =
                    normalize(&key).ok_or_else(|| self.outside(path, "a `..` climbs out of it"))?;
                let under = normalize(&root_path).unwrap_or_default();
                if !segments.starts_with(&under) {
                    return Err(self.outside(path, "it is not under the root's path"));
                }
                segments
            } else {
                normalize(&key).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "\"{path}\": a `..` climbs above the top; refused"
                    ))
                })?
            };
            return Ok((
                self.bucket_store(&base)?,
                self.location("", &segments.join("/"))?,
            ));
        }
        if root.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "\"{path}\" is relative, but connection \"{}\" has no `root` base URL",
                self.name
            )));
        }
        let key = self.confined(path, path)?;
        Ok((self.bucket_store(root)?, self.location("", &key)?))
    }

    /// Wraps the store of one bucket (the base URL for HTTP, `""` for local files)
    /// in a layer of the caller's: request metrics, throttling, fault injection in
    /// tests. Every later use of that bucket goes through the wrapper, until the
    /// connection is reset.
    pub fn wrap(
        &self,
        bucket: &str,
        wrap: impl FnOnce(Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore>,
    ) -> Result<()> {
        if self.config.protocol == Protocol::Memory {
            return Err(Error::InvalidArgument(
                "the memory store of a connection cannot be wrapped".into(),
            ));
        }
        let store = self.bucket_store(bucket)?;
        self.by_bucket.lock().insert(bucket.to_owned(), wrap(store));
        Ok(())
    }

    /// The store of one bucket (or base URL), built once.
    fn bucket_store(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>> {
        if let Some(store) = self.by_bucket.lock().get(bucket) {
            return Ok(Arc::clone(store));
        }
        let store = self.build(bucket)?;
        self.by_bucket
            .lock()
            .insert(bucket.to_owned(), Arc::clone(&store));
        Ok(store)
    }

    fn build(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>> {
        // Local and memory stores have no buckets.
        let _ = bucket;
        let options = &self.config.options;
        let built: std::result::Result<Arc<dyn ObjectStore>, object_store::Error> =
            match self.config.protocol {
                Protocol::Local => Ok(Arc::new(object_store::local::LocalFileSystem::new())),
                Protocol::Memory => Ok(Arc::new(object_store::memory::InMemory::new())),
                #[cfg(feature = "aws")]
                Protocol::S3 => {
                    let mut builder = object_store::aws::AmazonS3Builder::new()
                        .with_http_connector(crate::unsent::CanceledIsUnsent)
                        .with_bucket_name(bucket)
                        .with_retry(self.retry_config());
                    for (key, value) in options {
                        if let Ok(key) = key.parse() {
                            builder = builder.with_config(key, value.expose());
                        }
                    }
                    builder.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
                }
                #[cfg(feature = "gcp")]
                Protocol::Gcs => {
                    let mut builder = object_store::gcp::GoogleCloudStorageBuilder::new()
                        .with_http_connector(crate::unsent::CanceledIsUnsent)
                        .with_bucket_name(bucket)
                        .with_retry(self.retry_config());
                    for (key, value) in options {
                        if let Ok(key) = key.parse() {
                            builder = builder.with_config(key, value.expose());
                        }
                    }
                    builder.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
                }
                #[cfg(feature = "azure")]
                Protocol::Azure => {
                    let mut builder = object_store::azure::MicrosoftAzureBuilder::new()
                        .with_http_connector(crate::unsent::CanceledIsUnsent)
                        .with_container_name(bucket)
                        .with_retry(self.retry_config());
                    for (key, value) in options {
                        if let Ok(key) = key.parse() {
                            builder = builder.with_config(key, value.expose());
                        }
                    }
                    builder.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
                }
                #[cfg(feature = "http")]
                Protocol::Http => {
                    let mut builder = object_store::http::HttpBuilder::new()
                        .with_http_connector(crate::unsent::CanceledIsUnsent)
                        .with_url(bucket)
                        .with_retry(self.retry_config());
                    // A plain-HTTP base URL says plain HTTP is intended.
                    if bucket.starts_with("http://") {
                        builder =
                            builder.with_config(object_store::ClientConfigKey::AllowHttp, "true");
                    }
                    for (key, value) in options {
                        if let Ok(key) = key.parse() {
                            builder = builder.with_config(key, value.expose());
                        }
                    }
                    builder.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
                }
                #[allow(unreachable_patterns)]
                other => {
                    return Err(Error::InvalidArgument(format!(
                        "the {} protocol is not compiled in",
                        protocol_label(other)
                    )));
                }
            };
        let _ = options;
        built.map_err(|e| self.error(&e, "configuring the store"))
    }

    /// object_store's retries for every request, from the connection's `retry`
    /// section: `attempts - 1` retries, backing off from `wait` (doubling, at most
    /// 4 x `wait`), and none started later than [`STORE_RETRY_TIMEOUT`] after the
    /// first attempt. conn adds no retries of its own around them.
    #[cfg(any(feature = "aws", feature = "gcp", feature = "azure", feature = "http"))]
    fn retry_config(&self) -> object_store::RetryConfig {
        let policy = self.config.store_retry;
        object_store::RetryConfig {
            backoff: object_store::BackoffConfig {
                init_backoff: policy.wait,
                max_backoff: policy.wait.saturating_mul(4),
                base: 2.0,
            },
            max_retries: usize::try_from(policy.attempts.saturating_sub(1)).unwrap_or(0),
            retry_timeout: STORE_RETRY_TIMEOUT,
        }
    }

    /// The redactor of the connection's secrets.
    pub(crate) fn redactor(&self) -> &Redactor {
        &self.redactor
    }
}

/// No retry of a request starts later than this after its first attempt.
#[cfg(any(feature = "aws", feature = "gcp", feature = "azure", feature = "http"))]
const STORE_RETRY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// `key` under `prefix`.
fn join_key(prefix: &str, key: &str) -> String {
    let prefix = prefix.trim_matches('/');
    let key = key.trim_start_matches('/');
    match (prefix.is_empty(), key.is_empty()) {
        (true, _) => key.to_owned(),
        (false, true) => prefix.to_owned(),
        (false, false) => format!("{prefix}/{key}"),
    }
}

/// `key`'s segments with empty and `.` segments dropped and each `..` applied;
/// `None` when a `..` climbs above the start.
fn normalize(key: &str) -> Option<Vec<&str>> {
    let mut segments = Vec::new();
    for segment in key.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop()?;
            }
            other => segments.push(other),
        }
    }
    Some(segments)
}

/// `scheme://host[:port]` and the path after it, for a URL.
fn split_url(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    Some((format!("{scheme}://{host}"), path.to_owned()))
}
