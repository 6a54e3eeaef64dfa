//! The `files` connection type of conn: st-files-connection's `FilesConnection` on
//! object_store, reading CSV, Parquet and JSON lines straight into Arrow.
//!
//! ```toml
//! [connections.s3]                  # a connection named after a protocol uses it
//! key = "AKIA..."                   # s3fs-style keys, as Streamlit users have them
//! secret = "..."
//! client_kwargs = { region_name = "eu-west-1" }
//!
//! [connections.data]
//! type = "files"
//! protocol = "file"                 # file, memory, s3, gcs, azure, http
//! root = "/srv/data"                # every path is under it
//! ```
//!
//! ```no_run
//! use conn_files::FilesConnection;
//! # fn main() -> conn_core::Result<()> {
//! let s3 = conn_core::connection::<FilesConnection>("s3")?;
//! let pets = s3.read("my-bucket/pets.csv").blocking()?;          // a Table
//! let config = s3.read_json("my-bucket/config.json").blocking()?; // a serde_json::Value
//! # Ok(()) }
//! ```
//!
//! A cached read is served only while the object is unchanged (one `HEAD` compares
//! its ETag), so an overwritten file is never served stale; the ttl still applies.
//! `read(path).stream()` hands out a file's record batches as its bytes arrive, in
//! bounded memory (see [`Read::stream`]).
#![deny(missing_docs)]

mod checks;
mod config;
mod format;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod io;
mod parquet_read;
mod read;
mod store;
mod stream;
mod typing;
#[cfg(any(feature = "aws", feature = "gcp", feature = "azure", feature = "http"))]
mod unsent;
mod write;

use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use conn_core::plugin::{Base, CacheValue, Connector, Idempotence, Redactor, Settle, runtime};
use conn_core::stream::{BatchStream, DEFAULT_PREFETCH};
use conn_core::{
    Call, ConnectionConfig, ConnectionType, Env, Error, Map, Result, RetryPolicy, StatsSnapshot,
    Table, Ttl, Value,
};
use futures::TryStreamExt;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};

pub use config::Protocol;
pub use format::{Compression, Format};
pub use io::{BlockingReader, BlockingWriter, ObjectReader, ObjectWriter};
pub use object_store;
pub use store::Stores;

use config::FilesConfig;

conn_core::register_connection_type!(FilesConnection);

/// One cached read: a table, a JSON document or a text.
#[derive(Clone, Debug)]
pub enum ReadValue {
    /// CSV, Parquet or JSON lines.
    Table(Table),
    /// A JSON document.
    Json(Arc<serde_json::Value>),
    /// Text.
    Text(Arc<str>),
}

impl CacheValue for ReadValue {
    fn memory_size(&self) -> usize {
        match self {
            ReadValue::Table(t) => t.memory_size(),
            ReadValue::Json(j) => json_size(j),
            ReadValue::Text(t) => t.len(),
        }
    }
}

/// The memory a JSON document holds: every node's size, its strings' and keys'
/// capacities, and a map entry's overhead (walked, not serialized).
fn json_size(value: &serde_json::Value) -> usize {
    use serde_json::Value as J;
    let node = size_of::<J>();
    node + match value {
        J::String(s) => s.capacity(),
        J::Array(items) => items.iter().map(json_size).sum::<usize>(),
        J::Object(map) => map
            .iter()
            .map(|(k, v)| k.capacity() + 2 * size_of::<usize>() + json_size(v))
            .sum::<usize>(),
        J::Null | J::Bool(_) | J::Number(_) => 0,
    }
}

/// A connection to files in one place: a folder, a bucket, a base URL.
///
/// Cheap to clone (shared). Builds its object stores on first use.
#[derive(Clone)]
pub struct FilesConnection {
    base: Base<FilesConnector, ReadValue>,
}

/// Builds the object stores of a `files` connection.
#[derive(Debug)]
pub struct FilesConnector {
    config: FilesConfig,
    name: Arc<str>,
    redactor: Redactor,
}

impl Connector for FilesConnector {
    type Raw = Arc<Stores>;

    fn from_config(config: &ConnectionConfig) -> Result<Self> {
        Ok(FilesConnector {
            config: FilesConfig::from_config(config)?,
            name: Arc::from(config.name()),
            redactor: config.redactor(),
        })
    }

    async fn connect(&self) -> Result<Arc<Stores>> {
        Ok(Arc::new(Stores::new(
            self.config.clone(),
            Arc::clone(&self.name),
            self.redactor.clone(),
        )))
    }

    /// With a `root` (or `bucket`), lists one level under it: proves the endpoint, the
    /// credentials and the bucket (a local root must be a folder). Without one there is
    /// no place to ask about, and building the stores is the check.
    async fn health_check(&self, stores: &Arc<Stores>) -> Result<()> {
        if self.config.root.is_none() {
            return Ok(());
        }
        if self.config.protocol == Protocol::Local {
            let folder = stores.local_path("")?.unwrap_or_default();
            if !folder.is_dir() {
                return Err(Error::Io {
                    context: format!("files connection \"{}\", health check", self.name),
                    message: format!("the root {} is not a folder", folder.display()),
                });
            }
            return Ok(());
        }
        let (store, location) = stores.resolve("")?;
        if self.config.protocol == Protocol::Http {
            // Listing over HTTP is WebDAV, which plain web servers refuse: ask for the
            // root itself instead, and take "not found" as an answer.
            return match store.head(&location).await {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(err) => Err(stores.error(&err, "health check (asking for the root)")),
            };
        }
        store
            .list_with_delimiter(Some(&location))
            .await
            .map(drop)
            .map_err(|err| stores.error(&err, "health check (listing the root)"))
    }

    fn reset_loses_data(&self) -> bool {
        self.config.protocol == Protocol::Memory
    }
}

impl ConnectionType for FilesConnection {
    const NAME: &'static str = "files";
    const ALIASES: &'static [&'static str] = &[
        "st_files_connection.FilesConnection",
        "st_files_connection.connection.FilesConnection",
    ];
    const DESCRIPTION: &'static str =
        "local, memory, S3, GCS, Azure and HTTP files through object_store";
    const EXAMPLE_TOML: &'static str =
        "[connections.data]\ntype = \"files\"\nprotocol = \"s3\"\nroot = \"my-bucket/data\"\n";

    fn from_config(config: ConnectionConfig) -> Result<Self> {
        let base = Base::new(&config, Self::NAME)?;
        // object_store retries each request itself, by the connection's `retry`
        // section; a second layer around whole reads would multiply the waits.
        base.set_retry_policy(RetryPolicy::NONE);
        Ok(FilesConnection { base })
    }

    fn native_config(_name: &str, env: &Env) -> Result<Map> {
        Ok(config::native_layer(env))
    }

    fn reset(&self) {
        self.base.reset();
    }

    fn close(&self) {
        self.base.close();
    }

    fn health_check(&self) -> Option<Call<()>> {
        Some(self.base.health_check())
    }
}

/// An object in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// The path, in the form `read` takes.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// When it was last written.
    pub last_modified: chrono::DateTime<chrono::Utc>,
    /// Its ETag, when the store gives one.
    pub e_tag: Option<String>,
}

/// The version of an object a cached read is checked against.
fn version_of(meta: &ObjectMeta) -> Arc<str> {
    match &meta.e_tag {
        Some(tag) => Arc::from(tag.as_str()),
        None => Arc::from(format!("{}|{}", meta.last_modified.to_rfc3339(), meta.size)),
    }
}

impl FilesConnection {
    /// Reads a CSV, Parquet or JSON lines file into a [`Table`]. The format comes from
    /// the extension (case-insensitive, through `.gz`, `.zst` and `.bz2`) unless given.
    pub fn read(&self, path: impl Into<String>) -> Read<Table> {
        Read::new(self.clone(), path.into())
    }

    /// Reads a JSON document.
    pub fn read_json(&self, path: impl Into<String>) -> Read<serde_json::Value> {
        Read::new(self.clone(), path.into()).format(Format::Json)
    }

    /// Reads a text file.
    pub fn read_text(&self, path: impl Into<String>) -> Read<String> {
        Read::new(self.clone(), path.into()).format(Format::Text)
    }

    /// An operation on the stores, as a [`Call`] with the connection's `timeout`;
    /// its errors are redacted.
    fn on_stores<T, F, Fut>(&self, operation: &'static str, work: F) -> Call<T>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Stores>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T>> + Send + 'static,
    {
        let base = self.base.clone();
        let redactor = self.base.connector().redactor.clone();
        self.base.call(operation, async move {
            let stores = base.raw().await?;
            work(stores).await.map_err(|e| e.redacted(&redactor))
        })
    }

    /// Writes `table` to `path` as CSV, Parquet or JSON lines (compressed when the path
    /// ends in `.gz`, `.zst` or `.bz2`); returns the rows written. The connection's
    /// cached reads are dropped when it ends.
    pub fn write(&self, path: &str, table: &Table, format: Format) -> Call<u64> {
        let (path, table) = (path.to_owned(), table.clone());
        self.on_stores_writing("write", move |stores| async move {
            let (store, location) = stores.resolve(&path)?;
            let compression = format::compression_of(&path);
            let delimiter = if format::is_tab_separated(&path) {
                b'\t'
            } else {
                b','
            };
            write::write(store, &location, &table, format, compression, delimiter).await
        })
    }

    /// [`on_stores`](Self::on_stores) for an operation that changes objects: while it
    /// runs, cached reads are neither served nor stored, and they are dropped when it
    /// ends (once its work has ended, if the call is dropped half-way).
    fn on_stores_writing<T, F, Fut>(&self, operation: &'static str, work: F) -> Call<T>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Stores>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T>> + Send + 'static,
    {
        let results = self.base.results().clone();
        self.on_stores(operation, move |stores| async move {
            let (outcome, _stale_results) =
                Settle::new(results.clear_on_drop(), work(stores)).await;
            outcome
        })
    }

    /// Opens an object for a streaming read (`tokio::io::AsyncRead`).
    pub fn open(&self, path: &str) -> Call<ObjectReader> {
        let path = path.to_owned();
        self.on_stores("open", move |stores| async move {
            let (store, location) = stores.resolve(&path)?;
            io::open(&stores, store, location).await
        })
    }

    /// Opens an object for a streaming read from synchronous code (`std::io::Read`).
    pub fn open_blocking(&self, path: &str) -> Result<BlockingReader> {
        self.open(path).blocking().map(BlockingReader::new)
    }

    /// Creates (or overwrites) an object for a streaming write
    /// (`tokio::io::AsyncWrite`; finish with `shutdown().await`).
    pub fn create(&self, path: &str) -> Call<ObjectWriter> {
        let path = path.to_owned();
        let results = self.base.results().clone();
        self.on_stores("create", move |stores| async move {
            let (store, location) = stores.resolve(&path)?;
            let writer = object_store::buffered::BufWriter::new(store, location);
            Ok(ObjectWriter::new(writer, results.clear_on_drop()))
        })
    }

    /// Creates an object for a streaming write from synchronous code
    /// (`std::io::Write`; finish with [`BlockingWriter::finish`]).
    pub fn create_blocking(&self, path: &str) -> Result<BlockingWriter> {
        self.create(path).blocking().map(BlockingWriter::new)
    }

    /// Whether an object exists at `path`.
    pub fn exists(&self, path: &str) -> Call<bool> {
        let path = path.to_owned();
        self.on_stores("exists", move |stores| async move {
            let (store, location) = stores.resolve(&path)?;
            match store.head(&location).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(err) => Err(stores.error(&err, "exists")),
            }
        })
    }

    /// Deletes the object at `path`.
    pub fn delete(&self, path: &str) -> Call<()> {
        let path = path.to_owned();
        self.on_stores_writing("delete", move |stores| async move {
            let (store, location) = stores.resolve(&path)?;
            store
                .delete(&location)
                .await
                .map_err(|err| stores.error(&err, "delete"))
        })
    }

    /// Every object under `prefix` (recursively), sorted by path; paths come back in
    /// the form `prefix` was given.
    pub fn list(&self, prefix: &str) -> Call<Vec<FileInfo>> {
        let prefix = prefix.to_owned();
        self.on_stores(
            "list",
            move |stores| async move { list(&stores, &prefix).await },
        )
    }

    /// The objects matching a glob (`data/*.csv`, `logs/**/2024-*.jsonl`), sorted.
    pub fn glob(&self, pattern: &str) -> Call<Vec<FileInfo>> {
        let wildcard = pattern.find(['*', '?', '[', '{']).unwrap_or(pattern.len());
        let prefix = pattern[..pattern[..wildcard].rfind('/').map_or(0, |i| i + 1)].to_owned();
        let matcher = match globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
        {
            Ok(glob) => glob.compile_matcher(),
            Err(e) => {
                return Call::ready(Err(Error::InvalidArgument(format!(
                    "invalid glob \"{pattern}\": {e}"
                ))));
            }
        };
        self.on_stores("list", move |stores| async move {
            let listed = list(&stores, &prefix).await?;
            Ok(listed
                .into_iter()
                .filter(|f| matcher.is_match(&f.path))
                .collect())
        })
    }

    /// The protocol in use.
    pub fn protocol(&self) -> Protocol {
        self.base.connector().config.protocol
    }

    /// The object stores, for anything conn does not wrap.
    pub fn stores(&self) -> Call<Arc<Stores>> {
        self.base.raw()
    }

    /// Checks that the stores can be built; a failure resets the connection.
    pub fn health_check(&self) -> Call<()> {
        self.base.health_check()
    }

    /// Drops the stores and cached reads; the next use rebuilds them.
    pub fn reset(&self) {
        self.base.reset();
    }

    /// Counters: connects, reads, cache hits and misses, retries, resets.
    pub fn stats(&self) -> StatsSnapshot {
        self.base.stats()
    }

    /// The shared lifecycle: the cache of reads, connection state.
    pub fn base(&self) -> &Base<FilesConnector, ReadValue> {
        &self.base
    }
}

/// Every object under `prefix`, sorted, with paths in the form `prefix` was given.
async fn list(stores: &Stores, prefix: &str) -> Result<Vec<FileInfo>> {
    let (store, location) = stores.resolve(prefix)?;
    let listed: Vec<ObjectMeta> = store
        .list(Some(&location))
        .try_collect()
        .await
        .map_err(|err| stores.error(&err, "list"))?;
    let base = location.as_ref().trim_end_matches('/');
    let mut files: Vec<FileInfo> = listed
        .into_iter()
        .map(|meta| {
            let rest = meta
                .location
                .as_ref()
                .strip_prefix(base)
                .unwrap_or(meta.location.as_ref())
                .trim_start_matches('/');
            FileInfo {
                path: join(prefix, rest),
                size: meta.size,
                last_modified: meta.last_modified,
                e_tag: meta.e_tag,
            }
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

fn join(prefix: &str, rest: &str) -> String {
    if rest.is_empty() {
        prefix.to_owned()
    } else if prefix.is_empty() || prefix.ends_with('/') {
        format!("{prefix}{rest}")
    } else {
        format!("{prefix}/{rest}")
    }
}

impl fmt::Debug for FilesConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilesConnection")
            .field("name", &self.base.name())
            .field("protocol", &self.protocol())
            .finish_non_exhaustive()
    }
}

/// What a read produces: a [`Table`], a JSON value or a `String`.
pub trait ReadOutput: Sized + Send + 'static {
    /// Takes the value out of a cached read.
    #[doc(hidden)]
    fn from_value(value: ReadValue) -> Option<Self>;
}

impl ReadOutput for Table {
    fn from_value(value: ReadValue) -> Option<Self> {
        match value {
            ReadValue::Table(t) => Some(t),
            _ => None,
        }
    }
}

impl ReadOutput for serde_json::Value {
    fn from_value(value: ReadValue) -> Option<Self> {
        match value {
            ReadValue::Json(j) => Some((*j).clone()),
            _ => None,
        }
    }
}

impl ReadOutput for String {
    fn from_value(value: ReadValue) -> Option<Self> {
        match value {
            ReadValue::Text(t) => Some(t.to_string()),
            _ => None,
        }
    }
}

/// A read of one file: set its format, options and ttl, then await it or call
/// [`blocking`](Self::blocking).
#[must_use = "a read does nothing until it is awaited or run with .blocking()"]
pub struct Read<T> {
    conn: FilesConnection,
    path: String,
    format: Option<Format>,
    options: Map,
    ttl: Ttl,
    timeout: Option<Duration>,
    prefetch: usize,
    _output: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Read<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Read")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl<T: ReadOutput> Read<T> {
    fn new(conn: FilesConnection, path: String) -> Self {
        Read {
            conn,
            path,
            format: None,
            options: Map::new(),
            ttl: Ttl::Forever,
            timeout: None,
            prefetch: DEFAULT_PREFETCH,
            _output: PhantomData,
        }
    }

    /// The format, instead of the one the extension says.
    pub fn format(mut self, format: Format) -> Self {
        self.format = Some(format);
        self
    }

    /// A format option: CSV `delimiter` (or `sep`), `header`, `quote`, `escape`,
    /// `comment`, `infer_rows`; Parquet and JSON lines `columns`; all `batch_size`.
    pub fn option(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.options.insert(key.to_owned(), value.into());
        self
    }

    /// How long the result stays cached (default forever; zero turns caching off).
    pub fn ttl(mut self, ttl: impl Into<Ttl>) -> Self {
        self.ttl = ttl.into();
        self
    }

    /// Stops the read and fails with a timeout error if it takes longer than `limit`
    /// (replacing the connection's `timeout` setting for this read).
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    fn cache_key(&self, format: Format) -> String {
        let mut key = format!("{}\u{0}{format}\u{0}", self.path);
        key.push_str(&Value::from(self.options.clone()).canonical_key());
        key
    }

    fn into_call(self) -> Call<T> {
        let plan = match self.plan() {
            Ok(plan) => plan,
            // A path may carry a secret (`?sig=...`).
            Err(err) => return Call::ready(Err(err.redacted(&self.conn.redactor()))),
        };
        let Read {
            conn,
            path,
            ttl,
            timeout,
            ..
        } = self;
        let redactor = conn.redactor();
        let base = conn.base.clone();
        let call = conn.base.call("read", async move {
            let stores = base.raw().await?;
            let value = read_fresh(&base, stores, &path, ttl, plan).await;
            let value = value.map_err(|e| e.redacted(&redactor))?;
            T::from_value(value)
                .ok_or_else(|| Error::Data("a cached read had another kind of value".into()))
        });
        match timeout {
            Some(limit) => call.timeout(limit),
            None => call,
        }
    }

    /// The format, compression and options of the read, and its cache key.
    fn plan(&self) -> Result<ReadPlan> {
        let inferred = format::infer(&self.path);
        let (format, compression, tab) = match (self.format, inferred) {
            (Some(format), inferred) => (
                format,
                format::compression_of(&self.path),
                inferred.map(|i| i.tab_separated).unwrap_or(false),
            ),
            (None, Ok(i)) => (i.format, i.compression, i.tab_separated),
            (None, Err(err)) => return Err(err),
        };
        let wants_table = std::any::TypeId::of::<T>() == std::any::TypeId::of::<Table>();
        if wants_table != format.is_tabular() {
            return Err(Error::InvalidArgument(if wants_table {
                format!(
                    "{} is {format}, which is not a table: use read_json or read_text",
                    self.path
                )
            } else {
                format!("{} is {format}: use read for tables", self.path)
            }));
        }
        Ok(ReadPlan {
            options: read::ReadOptions::parse(format, tab, &self.options)?,
            key: self.cache_key(format),
            format,
            compression,
        })
    }

    /// Runs the read from synchronous code.
    pub fn blocking(self) -> Result<T> {
        self.into_call().blocking()
    }
}

impl Read<Table> {
    /// For [`stream`](Self::stream): how many batches may be read ahead of the reader
    /// (default [`DEFAULT_PREFETCH`], at least 1). Each one costs a batch of memory
    /// (`batch_size` rows).
    pub fn prefetch(mut self, batches: usize) -> Self {
        self.prefetch = batches.max(1);
        self
    }

    /// Streams the file: resolves once its columns are known (with the first batch,
    /// or the end of a file without records) to a [`BatchStream`] of record batches
    /// decoded as the bytes arrive (CSV and JSON lines, also compressed, through one
    /// download, in batches of `batch_size` rows; Parquet row group by row group,
    /// pinned to one version of the object, in batches that end at row group
    /// boundaries). Memory holds at most [`prefetch`](Self::prefetch) batches ahead of
    /// the reader, plus the sample the column types are inferred from (the first
    /// `infer_rows` records of CSV and JSON lines, at most 64 MiB and one line, kept
    /// while the stream runs; the decoded batches of those records are held back while
    /// a CSV date-time column has held only NULLs), the batches held while a column
    /// holds only NULLs (8 batches or about 262,144 rows, see
    /// [`BatchSink::send`](conn_core::plugin::BatchSink::send)) and, for Parquet, one
    /// row group's column chunks.
    ///
    /// A stream bypasses the cache (the ttl is not used). The column types are those
    /// of the first `infer_rows` records (CSV, JSON lines): a later record that does
    /// not fit them ends the stream with an error naming the column and the row. The
    /// time limit covers the wait for the first batch. Dropping the stream stops the
    /// download. See `docs/files.md`.
    pub fn stream(self) -> Call<BatchStream> {
        let plan = match self.plan() {
            Ok(plan) => plan,
            Err(err) => return Call::ready(Err(err.redacted(&self.conn.redactor()))),
        };
        let Read {
            conn,
            path,
            timeout,
            prefetch,
            ..
        } = self;
        let redactor = conn.redactor();
        let stats = Arc::clone(conn.base.handle().stats());
        let (path, plan) = (Arc::<str>::from(path), Arc::new(plan));
        let call = conn.base.stream(
            Idempotence::Read,
            prefetch,
            move |_, stores: Arc<Stores>, sink| {
                stats.record_query();
                let (path, plan, redactor) =
                    (Arc::clone(&path), Arc::clone(&plan), redactor.clone());
                async move {
                    stream::object(
                        stores,
                        &path,
                        plan.format,
                        plan.compression,
                        &plan.options,
                        &sink,
                    )
                    .await
                    .map_err(|e| e.redacted(&redactor))
                }
            },
        );
        match timeout {
            Some(limit) => call.timeout(limit),
            None => call,
        }
    }
}

/// What a read does, settled before it runs.
struct ReadPlan {
    key: String,
    format: Format,
    compression: Option<Compression>,
    options: read::ReadOptions,
}

impl FilesConnection {
    fn redactor(&self) -> Redactor {
        self.base.connector().redactor.clone()
    }
}

impl<T: ReadOutput> IntoFuture for Read<T> {
    type Output = Result<T>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<T>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        self.into_call().into_future()
    }
}

/// A read through the cache that is never stale: a cached value is returned only if
/// the object's version is unchanged (one `HEAD`); concurrent reads of one key read
/// the object once.
async fn read_fresh(
    base: &Base<FilesConnector, ReadValue>,
    stores: Arc<Stores>,
    path: &str,
    ttl: Ttl,
    plan: ReadPlan,
) -> Result<ReadValue> {
    let (store, location) = stores.resolve(path)?;
    let results = base.results();
    let stats = base.handle().stats();
    if let Some(cached) = results.lookup_versioned(&plan.key, ttl) {
        let meta = store
            .head(&location)
            .await
            .map_err(|e| stores.error(&e, "read"))?;
        if cached.version.as_deref() == Some(&*version_of(&meta)) {
            stats.record_cache_hit();
            return Ok(cached.value);
        }
        tracing::debug!(path, "conn.files: object changed since it was cached");
        results.invalidate(&plan.key);
    }
    stats.record_cache_miss();
    let local = stores.local_path(path)?;
    results
        .fill_versioned(&plan.key, ttl, || async {
            stats.record_query();
            let (value, version) = read_object(
                &stores,
                Arc::clone(&store),
                &location,
                local,
                plan.format,
                plan.compression,
                &plan.options,
            )
            .await?;
            Ok((value, Some(version)))
        })
        .await
}

async fn read_object(
    stores: &Stores,
    store: Arc<dyn ObjectStore>,
    location: &object_store::path::Path,
    local: Option<std::path::PathBuf>,
    format: Format,
    compression: Option<Compression>,
    options: &read::ReadOptions,
) -> Result<(ReadValue, Arc<str>)> {
    // Uncompressed local tables: plain file I/O on a blocking thread, as fast as the
    // format crates alone.
    if let Some(path) = local.filter(|_| compression.is_none() && format.is_tabular()) {
        let meta = store
            .head(location)
            .await
            .map_err(|e| stores.error(&e, "read"))?;
        let options = options.clone();
        let table = runtime::run_blocking(move || match format {
            Format::Parquet => parquet_read::read_local(&path, &options),
            _ => read::local::text_table(&path, format, &options),
        })
        .await?;
        return Ok((ReadValue::Table(table), version_of(&meta)));
    }
    if format == Format::Parquet {
        if compression.is_some() {
            return Err(Error::InvalidArgument(format!(
                "{location}: Parquet compresses inside the file; a compressed .parquet file \
                 cannot be read"
            )));
        }
        let (table, meta) = parquet_read::read(stores, store, location, options).await?;
        return Ok((ReadValue::Table(table), version_of(&meta)));
    }
    if format.is_tabular() {
        let (table, meta) =
            read::text_table(stores, store, location, format, compression, options).await?;
        return Ok((ReadValue::Table(table), version_of(&meta)));
    }
    let result = store
        .get(location)
        .await
        .map_err(|e| stores.error(&e, "read"))?;
    let version = version_of(&result.meta);
    let reader = read::byte_reader(result, compression, stores.redactor());
    let value = match format {
        Format::Json => ReadValue::Json(Arc::new(read::json(reader, location).await?)),
        Format::Text => ReadValue::Text(Arc::from(read::text(reader, location).await?)),
        _ => return Err(Error::Data("tables are read above".into())),
    };
    Ok((value, version))
}
