//! From a connection's configuration and a path to an object store and a location in it.
//!
//! Paths follow st-files-connection: for S3, GCS and Azure the first segment is the
//! bucket (`my-bucket/data/pets.csv`, or `s3://my-bucket/data/pets.csv`) unless `root`
//! or `bucket` fixes it; local paths are absolute or relative to `root` (default: the
//! working directory). One store is built per bucket and reused.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use conn_core::{Error, ErrorClass, Redactor, Result};
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
    let message = redactor.redact(&err.to_string());
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
    pub fn resolve(&self, path: &str) -> Result<(Arc<dyn ObjectStore>, ObjectPath)> {
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
                Ok((store, self.location(&self.config.prefix, rest)?))
            }
            Protocol::Local => self.local(rest),
            Protocol::Http => self.http(path),
            Protocol::S3 | Protocol::Gcs | Protocol::Azure => {
                let (bucket, key) = match (&self.config.bucket, scheme) {
                    (Some(bucket), None) => (bucket.clone(), rest.to_owned()),
                    _ => {
                        let trimmed = rest.trim_start_matches('/');
                        let (bucket, key) = trimmed.split_once('/').unwrap_or((trimmed, ""));
                        (bucket.to_owned(), key.to_owned())
                    }
                };
                if bucket.is_empty() {
                    return Err(Error::InvalidArgument(format!(
                        "\"{path}\" names no bucket: write it as bucket/key, or set `root` or \
                         `bucket` for connection \"{}\"",
                        self.name
                    )));
                }
                let prefix = if self.config.bucket.as_deref() == Some(bucket.as_str()) {
                    self.config.prefix.as_str()
                } else {
                    ""
                };
                let store = self.bucket_store(&bucket)?;
                Ok((store, self.location(prefix, &key)?))
            }
        }
    }

    fn location(&self, prefix: &str, key: &str) -> Result<ObjectPath> {
        let joined = if prefix.is_empty() {
            key.to_owned()
        } else {
            format!(
                "{}/{}",
                prefix.trim_end_matches('/'),
                key.trim_start_matches('/')
            )
        };
        ObjectPath::parse(joined.trim_matches('/')).map_err(|e| {
            Error::InvalidArgument(format!("\"{key}\" is not a valid object path: {e}"))
        })
    }

    /// The file system path of `path`, for a local connection: local files are read
    /// with plain file I/O, which object_store's local store only wraps.
    pub(crate) fn local_path(&self, path: &str) -> Result<Option<std::path::PathBuf>> {
        if self.config.protocol != Protocol::Local {
            return Ok(None);
        }
        let path = path.strip_prefix("file://").unwrap_or(path);
        let root = if self.config.prefix.is_empty() {
            std::env::current_dir().map_err(|e| Error::Io {
                context: "finding the working directory".into(),
                message: e.to_string(),
            })?
        } else {
            std::path::PathBuf::from(&self.config.prefix)
        };
        let full = root.join(path);
        Ok(Some(std::path::absolute(&full).unwrap_or(full)))
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
        if let Some((scheme, rest)) = path.split_once("://") {
            let (host, key) = rest.split_once('/').unwrap_or((rest, ""));
            let base = format!("{scheme}://{host}");
            return Ok((self.bucket_store(&base)?, self.location("", key)?));
        }
        if self.config.prefix.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "\"{path}\" is relative, but connection \"{}\" has no `root` base URL",
                self.name
            )));
        }
        let base = self.config.prefix.clone();
        Ok((self.bucket_store(&base)?, self.location("", path)?))
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
        let options = &self.config.options;
        let built: std::result::Result<Arc<dyn ObjectStore>, object_store::Error> =
            match self.config.protocol {
                Protocol::Local => Ok(Arc::new(object_store::local::LocalFileSystem::new())),
                Protocol::Memory => Ok(Arc::new(object_store::memory::InMemory::new())),
                #[cfg(feature = "aws")]
                Protocol::S3 => {
                    let mut builder =
                        object_store::aws::AmazonS3Builder::new().with_bucket_name(bucket);
                    for (key, value) in options {
                        if let Ok(key) = key.parse() {
                            builder = builder.with_config(key, value);
                        }
                    }
                    builder.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
                }
                #[cfg(feature = "gcp")]
                Protocol::Gcs => {
                    let mut builder = object_store::gcp::GoogleCloudStorageBuilder::new()
                        .with_bucket_name(bucket);
                    for (key, value) in options {
                        if let Ok(key) = key.parse() {
                            builder = builder.with_config(key, value);
                        }
                    }
                    builder.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
                }
                #[cfg(feature = "azure")]
                Protocol::Azure => {
                    let mut builder = object_store::azure::MicrosoftAzureBuilder::new()
                        .with_container_name(bucket);
                    for (key, value) in options {
                        if let Ok(key) = key.parse() {
                            builder = builder.with_config(key, value);
                        }
                    }
                    builder.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
                }
                #[cfg(feature = "http")]
                Protocol::Http => {
                    let mut builder = object_store::http::HttpBuilder::new().with_url(bucket);
                    // A plain-HTTP base URL says plain HTTP is intended.
                    if bucket.starts_with("http://") {
                        builder =
                            builder.with_config(object_store::ClientConfigKey::AllowHttp, "true");
                    }
                    for (key, value) in options {
                        if let Ok(key) = key.parse() {
                            builder = builder.with_config(key, value);
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
}
