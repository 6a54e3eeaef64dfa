//! The `files` type keeps to its root, never changes data on the way in or out, never
//! mixes two versions of an object, fails fast, and never shows a secret: against
//! local files, the memory store and a real S3-compatible server (moto, started when
//! CONN_TEST_MOTO_SERVER names it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use conn_core::arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use conn_core::arrow::datatypes::DataType;
use conn_core::{ConnectionFactory, Env, Table, Ttl};
use conn_files::object_store::path::Path as ObjectPath;
use conn_files::object_store::{
    self, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use conn_files::{FilesConnection, Format};
use futures::stream::BoxStream;

fn factory(dir: &Path, secrets: &str) -> ConnectionFactory {
    std::fs::create_dir_all(dir.join(".streamlit")).unwrap();
    std::fs::write(dir.join(".streamlit/secrets.toml"), secrets).unwrap();
    ConnectionFactory::builder()
        .env(Env::from_pairs([(
            "HOME".to_owned(),
            dir.join("home").display().to_string(),
        )]))
        .project_dir(dir)
        .build()
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// 3,000 rows: `id`, `late` (NULL for the first 1,500 rows), `name` (NULL every 7th).
fn sample_table() -> Table {
    let ids: Vec<i64> = (0..3000).collect();
    let late: Vec<Option<f64>> = (0..3000)
        .map(|i| (i >= 1500).then_some(i as f64 + 0.5))
        .collect();
    let names: Vec<Option<String>> = (0..3000)
        .map(|i| (i % 7 != 0).then(|| format!("n{i}")))
        .collect();
    let batch = |range: std::ops::Range<usize>| {
        RecordBatch::try_from_iter_with_nullable([
            (
                "id",
                Arc::new(Int64Array::from(ids[range.clone()].to_vec())) as ArrayRef,
                false,
            ),
            (
                "late",
                Arc::new(Float64Array::from(late[range.clone()].to_vec())) as ArrayRef,
                true,
            ),
            (
                "name",
                Arc::new(StringArray::from(names[range].to_vec())) as ArrayRef,
                true,
            ),
        ])
        .unwrap()
    };
    let first = batch(0..1000);
    Table::new(
        first.schema(),
        vec![first, batch(1000..2200), batch(2200..3000)],
    )
    .unwrap()
}

type Row = (i64, Option<f64>, Option<String>);

fn rows(table: &Table) -> Vec<Row> {
    table.rows::<Row>().unwrap()
}

fn refused(result: conn_core::Result<impl std::fmt::Debug>, path: &str, root: &str) {
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains(&format!("\"{path}\" is outside the root \"{root}\"")),
        "{err}"
    );
}

#[test]
fn the_root_is_a_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    std::fs::create_dir_all(&root).unwrap();
    let outside = dir.path().join("secret.csv");
    std::fs::write(&outside, "a\n1\n").unwrap();
    std::fs::write(root.join("in.csv"), "a\n2\n").unwrap();
    let factory = factory(
        dir.path(),
        &format!(
            "[connections.data]\ntype = \"files\"\nroot = \"{root}\"\n\
             [connections.mem]\ntype = \"files\"\nprotocol = \"memory\"\nroot = \"base\"\n\
             [connections.web]\ntype = \"files\"\nprotocol = \"http\"\nroot = \"http://127.0.0.1:{port}/base\"\n",
            root = root.display(),
            port = closed_port(),
        ),
    );
    let conn = factory.get::<FilesConnection>("data").unwrap();
    let root_text = root.display().to_string();
    let absolute = outside.display().to_string();
    let file_url = format!("file://{absolute}");
    let table = conn.read("in.csv").blocking().unwrap();
    for path in [
        "../secret.csv",
        "sub/../../secret.csv",
        absolute.as_str(),
        file_url.as_str(),
    ] {
        refused(conn.read(path).blocking(), path, &root_text);
        refused(conn.read_text(path).blocking(), path, &root_text);
        refused(
            conn.write(path, &table, Format::Csv).blocking(),
            path,
            &root_text,
        );
        refused(conn.open_blocking(path), path, &root_text);
        refused(conn.create_blocking(path), path, &root_text);
        refused(conn.exists(path).blocking(), path, &root_text);
        refused(conn.delete(path).blocking(), path, &root_text);
        refused(conn.list(path).blocking(), path, &root_text);
    }
    refused(conn.glob("../*.csv").blocking(), "../", &root_text);
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "a\n1\n");
    // Inside the root, `..` is fine.
    assert_eq!(conn.read("sub/../in.csv").blocking().unwrap().num_rows(), 1);
    assert_eq!(conn.list("").blocking().unwrap().len(), 1);

    let mem = factory.get::<FilesConnection>("mem").unwrap();
    refused(
        mem.write("../x.csv", &table, Format::Csv).blocking(),
        "../x.csv",
        "base",
    );
    refused(mem.exists("/x.csv").blocking(), "/x.csv", "base");
    mem.write("a/../x.csv", &table, Format::Csv)
        .blocking()
        .unwrap();
    assert_eq!(mem.list("").blocking().unwrap()[0].path, "x.csv");

    // Another host, or a path outside the base URL: refused before any request.
    let web = factory.get::<FilesConnection>("web").unwrap();
    let web_root = web_root(&factory);
    for path in [
        "http://127.0.0.2:80/base/x.csv".to_owned(),
        format!("{web_root}/../other/x.csv"),
        "../x.csv".to_owned(),
    ] {
        refused(web.read(path.as_str()).blocking(), &path, &web_root);
    }
    let other_path = format!("{}/x.csv", web_root.replace("/base", "/other"));
    refused(
        web.read(other_path.as_str()).blocking(),
        &other_path,
        &web_root,
    );
}

fn web_root(factory: &ConnectionFactory) -> String {
    factory
        .connection("web")
        .type_name("files")
        .config()
        .unwrap()
        .get_as::<String>("root")
        .unwrap()
        .unwrap()
}

#[test]
fn every_write_format_with_and_without_compression_reads_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let factory = factory(
        dir.path(),
        &format!(
            "[connections.memory]\ntype = \"files\"\n\
             [connections.data]\ntype = \"files\"\nroot = \"{}\"\n",
            dir.path().join("data").display()
        ),
    );
    let table = sample_table();
    let expected = rows(&table);
    for name in ["memory", "data"] {
        let conn = factory.get::<FilesConnection>(name).unwrap();
        for (path, format, magic) in [
            ("t.csv", Format::Csv, &b"id,late,name"[..]),
            ("t.csv.gz", Format::Csv, &[0x1f, 0x8b][..]),
            ("t.csv.zst", Format::Csv, &[0x28, 0xb5, 0x2f, 0xfd][..]),
            ("t.csv.bz2", Format::Csv, &b"BZh"[..]),
            ("t.jsonl", Format::Jsonl, &b"{\"id\":0"[..]),
            ("t.jsonl.gz", Format::Jsonl, &[0x1f, 0x8b][..]),
            ("t.jsonl.zst", Format::Jsonl, &[0x28, 0xb5, 0x2f, 0xfd][..]),
            ("t.jsonl.bz2", Format::Jsonl, &b"BZh"[..]),
            ("t.parquet", Format::Parquet, &b"PAR1"[..]),
        ] {
            assert_eq!(conn.write(path, &table, format).blocking().unwrap(), 3000);
            let mut raw = Vec::new();
            conn.open_blocking(path)
                .unwrap()
                .read_to_end(&mut raw)
                .unwrap();
            assert!(raw.starts_with(magic), "{name} {path}: {:?}", &raw[..8]);
            for batch_size in [None, Some(3)] {
                // (JSON lines columns come in the order first seen: ask for ours.)
                let mut read = conn
                    .read(path)
                    .option("columns", vec!["id", "late", "name"])
                    .ttl(Ttl::ZERO);
                if let Some(size) = batch_size {
                    read = read.option("batch_size", size);
                }
                let back = read.blocking().unwrap();
                assert_eq!(
                    back.schema().field(1).data_type(),
                    &DataType::Float64,
                    "{name} {path}"
                );
                assert_eq!(rows(&back), expected, "{name} {path} {batch_size:?}");
            }
        }
        let err = conn
            .write("t.parquet.gz", &table, Format::Parquet)
            .blocking()
            .unwrap_err()
            .to_string();
        assert!(err.contains("Parquet compresses inside the file"), "{err}");
        assert!(!conn.exists("t.parquet.gz").blocking().unwrap());
    }
}

#[test]
fn columns_come_back_in_the_order_asked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let factory = factory(
        dir.path(),
        &format!(
            "[connections.memory]\ntype = \"files\"\n\
             [connections.data]\ntype = \"files\"\nroot = \"{}\"\n",
            dir.path().join("data").display()
        ),
    );
    let table = sample_table();
    for name in ["memory", "data"] {
        let conn = factory.get::<FilesConnection>(name).unwrap();
        for (path, format) in [
            ("c.csv", Format::Csv),
            ("c.csv.gz", Format::Csv),
            ("c.jsonl", Format::Jsonl),
            ("c.parquet", Format::Parquet),
        ] {
            conn.write(path, &table, format).blocking().unwrap();
            let back = conn
                .read(path)
                .option("columns", vec!["name", "id"])
                .option("batch_size", 5)
                .blocking()
                .unwrap();
            assert_eq!(back.column_names(), vec!["name", "id"], "{name} {path}");
            let pairs = back.rows::<(Option<String>, i64)>().unwrap();
            assert_eq!(pairs[8], (Some("n8".into()), 8), "{name} {path}");
            assert_eq!(pairs[2999].1, 2999);
            let err = conn
                .read(path)
                .option("columns", vec!["id", "id"])
                .blocking()
                .unwrap_err()
                .to_string();
            assert_eq!(err, "read option `columns` names \"id\" twice");
        }
    }
}

#[derive(serde::Deserialize)]
struct Wide {
    n: f64,
    empty_first: Option<i64>,
    s: String,
}

/// CSV and JSON lines whose first 1,000 rows say "integer" and "no value", and whose
/// later rows say otherwise: the columns widen, nothing becomes NULL or is truncated,
/// whatever the batch size.
#[test]
fn later_rows_widen_inferred_types_instead_of_losing_values() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let factory = factory(
        dir.path(),
        &format!(
            "[connections.memory]\ntype = \"files\"\n\
             [connections.data]\ntype = \"files\"\nroot = \"{}\"\n",
            dir.path().join("data").display()
        ),
    );
    let mut csv = String::from("n,empty_first,s\n");
    let mut jsonl = String::new();
    for i in 0..1500 {
        let n = if i == 1200 {
            "4.5".to_owned()
        } else {
            i.to_string()
        };
        let late = if i >= 1100 {
            format!("{i}")
        } else {
            String::new()
        };
        csv.push_str(&format!("{n},{late},s{i}\n"));
        let late_json = if i >= 1100 {
            format!("{i}")
        } else {
            "null".into()
        };
        jsonl.push_str(&format!(
            "{{\"n\": {n}, \"empty_first\": {late_json}, \"s\": \"s{i}\"}}\n"
        ));
    }
    for name in ["memory", "data"] {
        let conn = factory.get::<FilesConnection>(name).unwrap();
        let put = |path: &str, bytes: &[u8]| {
            let mut w = conn.create_blocking(path).unwrap();
            w.write_all(bytes).unwrap();
            w.finish().unwrap();
        };
        put("wide.csv", csv.as_bytes());
        put("wide.jsonl", jsonl.as_bytes());
        for path in ["wide.csv", "wide.jsonl"] {
            let mut tables = Vec::new();
            for batch_size in [None, Some(2), Some(3), Some(7)] {
                let mut read = conn.read(path).ttl(Ttl::ZERO);
                if let Some(size) = batch_size {
                    read = read.option("batch_size", size);
                }
                let table = read.blocking().unwrap();
                let type_of = |column: &str| {
                    table
                        .schema()
                        .field_with_name(column)
                        .unwrap()
                        .data_type()
                        .clone()
                };
                assert_eq!(type_of("n"), DataType::Float64, "{name} {path}");
                assert_eq!(type_of("empty_first"), DataType::Int64, "{name} {path}");
                let rows = table
                    .rows::<Wide>()
                    .unwrap()
                    .into_iter()
                    .map(|w| (w.n, w.empty_first, w.s))
                    .collect::<Vec<_>>();
                assert_eq!(rows[1200].0, 4.5, "{name} {path}: not truncated");
                assert_eq!(rows[1199], (1199.0, Some(1099 + 100), "s1199".into()));
                assert_eq!(rows[1099].1, None);
                assert_eq!(rows[1100].1, Some(1100), "{name} {path}: not NULL");
                tables.push(rows);
            }
            assert!(tables.windows(2).all(|w| w[0] == w[1]), "{name} {path}");
        }
        put(
            "overflow.csv",
            format!(
                "{}99999999999999999999\n",
                "n\n".to_owned() + &"1\n".repeat(1500)
            )
            .as_bytes(),
        );
        // Too large for Int64: inferred from every row, the column is text, and the
        // value is kept as written.
        let table = conn.read("overflow.csv").blocking().unwrap();
        assert_eq!(table.schema().field(0).data_type(), &DataType::Utf8);
        assert_eq!(
            table.rows::<(String,)>().unwrap()[1500].0,
            "99999999999999999999"
        );
        put(
            "mixed.jsonl",
            format!("{}{{\"n\": \"abc\"}}\n", "{\"n\": 1}\n".repeat(1500)).as_bytes(),
        );
        // A string after 1,500 integers: inferred from every row, the column is text
        // (the numbers as written), never a NULL or an error-free wrong value.
        let table = conn.read("mixed.jsonl").blocking().unwrap();
        assert_eq!(table.schema().field(0).data_type(), &DataType::Utf8);
        let values = table.rows::<(String,)>().unwrap();
        assert_eq!(
            (values[0].0.as_str(), values[1500].0.as_str()),
            ("1", "abc")
        );
    }
}

/// Forwards to the real store; right after the first read of an attempt (the HEAD
/// that gives size and ETag, then the first ranged GET: the footer) overwrites the
/// object with other bytes, up to `overwrites` times, so that the reads that follow
/// (metadata, row groups) would see another version.
#[derive(Debug)]
struct OverwriteAfterFooter {
    inner: Arc<dyn ObjectStore>,
    /// Written in turn, so that each overwrite really changes the object.
    replacements: [bytes::Bytes; 2],
    gets_this_attempt: AtomicUsize,
    overwrites: AtomicUsize,
}

impl std::fmt::Display for OverwriteAfterFooter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OverwriteAfterFooter({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for OverwriteAfterFooter {
    async fn put_opts(
        &self,
        location: &ObjectPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &ObjectPath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &ObjectPath,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        if options.head {
            self.gets_this_attempt.store(0, Ordering::SeqCst);
            return self.inner.get_opts(location, options).await;
        }
        let result = self.inner.get_opts(location, options).await;
        let first = self.gets_this_attempt.fetch_add(1, Ordering::SeqCst) == 0;
        if first && result.is_ok() && self.overwrites.load(Ordering::SeqCst) > 0 {
            let left = self.overwrites.fetch_sub(1, Ordering::SeqCst);
            let bytes = self.replacements[left % 2].clone();
            self.inner.put(location, bytes.into()).await?;
        }
        result
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<ObjectPath>>,
    ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &ObjectPath,
        to: &ObjectPath,
        options: object_store::CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

fn moto_factory(moto: &conn_testkit::MotoServer, dir: &Path, extra: &str) -> ConnectionFactory {
    factory(
        dir,
        &format!(
            "[connections.s3]\nkey = \"AKIAMOTO\"\nsecret = \"moto-Secret-123\"\n\
             endpoint_url = \"{}\"\nregion = \"us-east-1\"\n{extra}",
            moto.endpoint()
        ),
    )
}

#[test]
fn a_parquet_object_overwritten_mid_read_is_never_mixed() {
    let Some(moto) = conn_testkit::MotoServer::start(false) else {
        return;
    };
    moto.create_bucket("pinned");
    let dir = tempfile::tempdir().unwrap();
    let factory = moto_factory(&moto, dir.path(), "");
    let s3 = factory.get::<FilesConnection>("s3").unwrap();
    // Large enough that the row groups are read after the footer, in requests of
    // their own.
    let old = {
        let ids: Vec<i64> = (0..200_000).collect();
        Table::from_batch(
            RecordBatch::try_from_iter([
                ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
                (
                    "late",
                    Arc::new(Float64Array::from(vec![Some(2.0); 200_000])) as ArrayRef,
                ),
                (
                    "name",
                    Arc::new(StringArray::from(vec![Some("old"); 200_000])) as ArrayRef,
                ),
            ])
            .unwrap(),
        )
    };
    // The new version: other values, another length.
    let newer = {
        let ids: Vec<i64> = (0..500).map(|i| i * 1000).collect();
        Table::from_batch(
            RecordBatch::try_from_iter([
                ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
                (
                    "late",
                    Arc::new(Float64Array::from(vec![Some(1.0); 500])) as ArrayRef,
                ),
                (
                    "name",
                    Arc::new(StringArray::from(vec![Some("new"); 500])) as ArrayRef,
                ),
            ])
            .unwrap(),
        )
    };
    let raw = |table: &Table| {
        s3.write("pinned/raw.parquet", table, Format::Parquet)
            .blocking()
            .unwrap();
        let mut bytes = Vec::new();
        s3.open_blocking("pinned/raw.parquet")
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        bytes::Bytes::from(bytes)
    };
    // Overwrites alternate: new (odd count left), old (even), new, ...
    let replacements = [raw(&old), raw(&newer)];
    let stores = s3.stores().blocking().unwrap();

    for overwrites in [1, 5] {
        s3.write("pinned/t.parquet", &old, Format::Parquet)
            .blocking()
            .unwrap();
        let wrapper = Arc::new(OverwriteAfterFooter {
            inner: stores.resolve("pinned/t.parquet").unwrap().0,
            replacements: replacements.clone(),
            gets_this_attempt: AtomicUsize::new(0),
            overwrites: AtomicUsize::new(overwrites),
        });
        let layer = Arc::clone(&wrapper);
        stores
            .wrap("pinned", move |_| layer as Arc<dyn ObjectStore>)
            .unwrap();
        let read = s3.read("pinned/t.parquet").ttl(Ttl::ZERO).blocking();
        assert!(
            wrapper.overwrites.load(Ordering::SeqCst) < overwrites,
            "the object was overwritten mid-read"
        );
        match (overwrites, read) {
            // Changed once: the read starts over and returns the new version whole.
            (1, Ok(table)) => assert_eq!(rows(&table), rows(&newer)),
            // Changed on every attempt: a clear error, no mixed table.
            (_, Err(err)) => {
                let text = err.to_string();
                assert!(text.contains("changed while it was being read"), "{text}");
                assert!(text.contains("t.parquet"), "{text}");
            }
            (n, other) => panic!("{n} overwrites gave {other:?}"),
        }
        // Unwrap again: the plain store for the next round.
        let plain = Arc::clone(&wrapper.inner);
        stores.wrap("pinned", move |_| plain).unwrap();
    }
}

#[test]
fn an_unreachable_endpoint_fails_fast_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let factory = factory(
        dir.path(),
        &format!(
            "[connections.s3]\nkey = \"AKIA-UNREACHABLE\"\nsecret = \"Unreachable-Secret-0\"\nregion = \"us-east-1\"\n\
             endpoint_url = \"http://127.0.0.1:{port}\"\n\
             [connections.web]\ntype = \"files\"\nprotocol = \"http\"\nroot = \"http://127.0.0.1:{port}/base\"\n"
        ),
    );
    for (name, path) in [("s3", "bucket/x.csv"), ("web", "x.csv")] {
        let conn = factory.get::<FilesConnection>(name).unwrap();
        let started = Instant::now();
        let err = conn.read(path).blocking().unwrap_err().to_string();
        let elapsed = started.elapsed();
        eprintln!("{name}: failed after {elapsed:?}: {err}");
        assert!(elapsed < Duration::from_secs(30), "{name}: {elapsed:?}");
        assert!(
            err.to_lowercase().contains("connection refused"),
            "{name}: {err}"
        );
        assert!(
            err.starts_with(&format!("files connection \"{name}\", read: ")),
            "{err}"
        );
        assert_eq!(conn.stats().retries, 0, "conn adds no retries of its own");
    }
}

#[test]
fn secrets_never_show_in_errors() {
    let Some(moto) = conn_testkit::MotoServer::start(true) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let factory = factory(
        dir.path(),
        &format!(
            "[connections.s3]\nkey = \"AKIAWRONGKEY77\"\nsecret = \"Wr0ng-Secret-456\"\n\
             token = \"T0ken-Secret-789\"\nendpoint_url = \"{}\"\nregion = \"us-east-1\"\n\
             [connections.web]\ntype = \"files\"\nprotocol = \"http\"\n\
             root = \"http://127.0.0.1:{port}/base?sig=Qu3ry-Secret-1&page=2\"\n",
            moto.endpoint()
        ),
    );
    let secrets = [
        "Wr0ng-Secret-456",
        "T0ken-Secret-789",
        "AKIAWRONGKEY77",
        "Qu3ry-Secret-1",
        "Path-S3cret-2",
    ];
    let clean = |what: &str, err: conn_core::Error| {
        let shown = format!("{err} {err:?}");
        for secret in secrets {
            assert!(!shown.contains(secret), "{what}: {shown}");
        }
        shown
    };
    let s3 = factory.get::<FilesConnection>("s3").unwrap();
    let table = sample_table();
    let shown = clean("read", s3.read("pets/p.csv").blocking().unwrap_err());
    assert!(
        shown.contains("InvalidAccessKeyId") || shown.contains("403"),
        "{shown}"
    );
    clean("open", s3.open_blocking("pets/p.csv").unwrap_err());
    clean(
        "write",
        s3.write("pets/p.csv", &table, Format::Csv)
            .blocking()
            .unwrap_err(),
    );
    clean(
        "write parquet",
        s3.write("pets/p.parquet", &table, Format::Parquet)
            .blocking()
            .unwrap_err(),
    );
    clean("list", s3.list("pets").blocking().unwrap_err());
    clean("exists", s3.exists("pets/p.csv").blocking().unwrap_err());
    clean("delete", s3.delete("pets/p.csv").blocking().unwrap_err());
    clean(
        "parquet read",
        s3.read("pets/p.parquet").blocking().unwrap_err(),
    );

    let web = factory.get::<FilesConnection>("web").unwrap();
    let shown = clean("http read", web.read("x.csv").blocking().unwrap_err());
    assert!(
        shown.contains("sig=***") || !shown.contains("sig="),
        "{shown}"
    );
    let presigned = format!("http://127.0.0.1:{port}/base/x.csv?X-Amz-Signature=Path-S3cret-2");
    clean(
        "presigned read",
        web.read(presigned.as_str()).blocking().unwrap_err(),
    );
    clean("presigned open", web.open_blocking(&presigned).unwrap_err());
    clean(
        "outside the root",
        web.read("http://127.0.0.9/x.csv?token=Path-S3cret-2")
            .blocking()
            .unwrap_err(),
    );
}

/// A server that accepts connections and never answers: a read past its limit is
/// dropped (the request with it) and says which limit fired.
#[test]
fn a_read_past_its_limit_stops_and_says_which_limit() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&accepted);
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            counted.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let factory = factory(
        dir.path(),
        &format!(
            "[connections.stalled]\ntype = \"files\"\nprotocol = \"http\"\n\
             root = \"http://127.0.0.1:{port}\"\ntimeout = \"300ms\"\n"
        ),
    );
    let conn = factory.get::<FilesConnection>("stalled").unwrap();
    let started = Instant::now();
    let err = conn.read("pets.csv").blocking().unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.kind(), conn_core::ErrorKind::Timeout, "{err}");
    assert!(
        err.to_string()
            .starts_with("connection \"stalled\": read timed out after 300ms (`timeout` set at "),
        "{err}"
    );
    assert!(
        accepted.load(Ordering::SeqCst) >= 1,
        "the request reached the server"
    );
    // One call's own limit replaces the connection's.
    let err = conn
        .read_text("notes.txt")
        .timeout(Duration::from_millis(100))
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("read timed out after 100ms (the limit given to this call with .timeout())"),
        "{err}"
    );
}
