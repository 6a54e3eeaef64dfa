//! A read that starts after a write through the same connection returned never gets
//! the object from before it. (Found by review: the files type's writes did not gate or
//! clear the result cache.) A cached
//! value is checked against the object's ETag, but a caller who joins a read in flight
//! (single flight) gets that read's value unchecked, and `fill_versioned` answers from
//! an entry stored meanwhile without a version check: a read that starts after a write
//! through the same connection returned can get the object as it was before the write.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};

use conn_core::{ConnectionFactory, Env, Ttl};
use conn_files::FilesConnection;
use conn_files::object_store::path::Path as ObjectPath;
use conn_files::object_store::{
    self, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use futures::stream::BoxStream;

fn local(dir: &Path) -> Arc<FilesConnection> {
    std::fs::create_dir_all(dir.join(".streamlit")).unwrap();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(
        dir.join(".streamlit/secrets.toml"),
        format!(
            "[connections.data]\ntype = \"files\"\nprotocol = \"file\"\nroot = \"{}\"\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let factory = ConnectionFactory::builder()
        .env(Env::from_pairs([(
            "HOME".to_owned(),
            dir.join("home").display().to_string(),
        )]))
        .project_dir(dir)
        .build();
    factory.get::<FilesConnection>("data").unwrap()
}

/// Forwards to the real store; the first GET (not HEAD) reads the object whole, says
/// so on `got`, and hands the bytes over only once `release` says so.
#[derive(Debug)]
struct PausedFirstGet {
    inner: Arc<dyn ObjectStore>,
    gets: AtomicUsize,
    got: parking_lot::Mutex<Option<mpsc::Sender<()>>>,
    release: parking_lot::Mutex<Option<mpsc::Receiver<()>>>,
}

impl std::fmt::Display for PausedFirstGet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PausedFirstGet({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for PausedFirstGet {
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
        if options.head || self.gets.fetch_add(1, Ordering::SeqCst) > 0 {
            return self.inner.get_opts(location, options).await;
        }
        let result = self.inner.get_opts(location, options).await?;
        let (meta, range, attributes) = (
            result.meta.clone(),
            result.range.clone(),
            result.attributes.clone(),
        );
        let bytes = result.bytes().await?;
        let got = self.got.lock().take().unwrap();
        let release = self.release.lock().take().unwrap();
        got.send(()).unwrap();
        tokio::task::spawn_blocking(move || release.recv())
            .await
            .unwrap()
            .unwrap();
        let stream = futures::stream::once(async move { Ok(bytes) });
        Ok(GetResult {
            payload: GetResultPayload::Stream(Box::pin(stream)),
            meta,
            range,
            attributes,
        })
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

/// Found by review (stale read): read A of `a.txt` is in flight (it has the old bytes);
/// the same connection writes `a.txt` and the write returns; read B starts after that
/// and must see the new text, but it joins A's flight (or, if A stored first, is
/// answered from A's entry by `fill_versioned` without the ETag check) and gets the old.
#[test]
fn a_read_after_a_files_write_never_gets_the_object_from_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let conn = local(dir.path());
    std::fs::write(dir.path().join("data/a.txt"), "old").unwrap();
    let stores = conn.stores().blocking().unwrap();
    let (got_tx, got) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let wrapper = Arc::new(PausedFirstGet {
        inner: stores.resolve("a.txt").unwrap().0,
        gets: AtomicUsize::new(0),
        got: parking_lot::Mutex::new(Some(got_tx)),
        release: parking_lot::Mutex::new(Some(release_rx)),
    });
    let layer = Arc::clone(&wrapper);
    stores
        .wrap("", move |_| layer as Arc<dyn ObjectStore>)
        .unwrap();

    let reader = Arc::clone(&conn);
    let first = std::thread::spawn(move || {
        reader
            .read_text("a.txt")
            .ttl(Ttl::Forever)
            .blocking()
            .unwrap()
    });
    got.recv().unwrap();

    // The write returns before the second read starts.
    let mut writer = conn.create_blocking("a.txt").unwrap();
    writer.write_all(b"new").unwrap();
    writer.finish().unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("data/a.txt")).unwrap(),
        "new"
    );

    let misses = conn.stats().cache_misses;
    let reader = Arc::clone(&conn);
    let second = std::thread::spawn(move || {
        reader
            .read_text("a.txt")
            .ttl(Ttl::Forever)
            .blocking()
            .unwrap()
    });
    // Once the second read has missed (it then joins A's flight, or reads afresh),
    // let A finish.
    while conn.stats().cache_misses == misses {
        std::thread::yield_now();
    }
    release.send(()).unwrap();
    assert_eq!(first.join().unwrap(), "old", "A started before the write");
    let after = second.join().unwrap();
    assert_eq!(
        after, "new",
        "a read started after the write returned got the old text"
    );
}
