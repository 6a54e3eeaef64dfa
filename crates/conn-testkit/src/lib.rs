//! Test support for conn connection types, first- or third-party.
//!
//! * [`server_url`] gates tests that need a real server, the way sqlx does: unset
//!   variable, test skipped with a message; unless `CONN_TEST_REQUIRE_SERVERS=1` (set by
//!   CI), which turns a missing server into a failure.
//! * [`Conformance`] is the suite every connection type runs against itself: lazy
//!   connect, health check, reset then reuse, one connect for concurrent first use,
//!   result cache hit and ttl, no secret in `Debug` or errors.
//! * [`faults`]: a TCP proxy that cuts, stalls and refuses connections to a real server,
//!   and the figures of a loop of reads and writes under it; [`servers`]: private
//!   PostgreSQL and MariaDB servers a test may restart, and the Snowflake-protocol
//!   peer ([`servers::SnowflakePeer`]).
#![deny(missing_docs)]

pub mod faults;
pub mod servers;

use std::fmt::Debug;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use conn_core::{ConnectionFactory, ConnectionType, Result, StatsSnapshot, Table, Ttl};

/// The variable that makes a missing server fail the test instead of skipping it.
pub const REQUIRE_SERVERS_VAR: &str = "CONN_TEST_REQUIRE_SERVERS";

/// Whether missing servers fail tests (CI) rather than skip them.
pub fn servers_required() -> bool {
    std::env::var(REQUIRE_SERVERS_VAR).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// The URL of a real `what` server from the variable `var`.
///
/// Unset: prints why the test is skipped and returns `None`, or panics when
/// [`servers_required`].
#[allow(clippy::panic)]
pub fn server_url(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if servers_required() => {
            panic!("{what} is required ({REQUIRE_SERVERS_VAR}=1) but {var} is not set")
        }
        _ => {
            // Straight to stderr, past the test harness's capture, so the skip shows.
            let test = std::thread::current().name().unwrap_or("a test").to_owned();
            let _ = writeln!(
                std::io::stderr(),
                "skipped {test}: set {var} to run it against a real {what}"
            );
            None
        }
    }
}

/// Log output kept in memory, for tests that search every log line for secrets: give a
/// clone as the writer of a tracing subscriber (`.with_writer(move || log.clone())`),
/// then read [`text`](Self::text).
#[derive(Clone, Debug, Default)]
pub struct CapturedLog(Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLog {
    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A name no other test run uses: `prefix` plus the process id and a counter.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

/// How the suite reads through a connection of type `T`.
pub type ReadFn<T> = fn(&T, Ttl) -> Result<Table>;

/// The conformance suite for connection type `T`.
///
/// Give it a factory in which `name` is a working connection of type `T`, a cheap
/// read, and the connection's counters; optionally a secret from the configuration
/// and a configured connection that fails to connect, to check that the secret never
/// shows.
#[derive(Debug)]
pub struct Conformance<T: ConnectionType> {
    /// A factory that knows the connections below.
    pub factory: ConnectionFactory,
    /// A working connection of type `T`.
    pub name: String,
    /// A small read (`SELECT 1`, a tiny file) with the given ttl, blocking.
    pub read: ReadFn<T>,
    /// The connection's counters.
    pub stats: fn(&T) -> StatsSnapshot,
    /// The connection's health check, blocking.
    pub health_check: fn(&T) -> Result<()>,
    /// A secret of the working connection's configuration.
    pub secret: Option<String>,
    /// A configured connection whose reads fail (wrong password, missing bucket), whose
    /// configuration holds [`secret`](Self::secret).
    pub failing_name: Option<String>,
}

impl<T: ConnectionType + Debug> Conformance<T> {
    /// Runs every check; panics with a message naming the first that fails.
    pub fn run(&self) {
        self.connects_lazily_and_reads();
        self.health_check_passes();
        self.reset_then_reuse();
        self.concurrent_first_use_connects_once();
        self.result_cache_hit_and_ttl();
        self.secrets_never_show();
    }

    fn fresh(&self) -> Arc<T> {
        self.factory
            .connection(&self.name)
            .fresh()
            .get::<T>()
            .unwrap_or_else(|e| {
                fail(&format!(
                    "the connection {} cannot be built: {e}",
                    self.name
                ))
            })
    }

    fn read(&self, conn: &T, ttl: Ttl) -> Table {
        (self.read)(conn, ttl).unwrap_or_else(|e| fail(&format!("the read failed: {e}")))
    }

    /// Getting a connection does not connect; the first read does, once.
    pub fn connects_lazily_and_reads(&self) {
        let conn = self.fresh();
        check(
            (self.stats)(&conn).connects == 0,
            "getting a connection must not connect",
        );
        self.read(&conn, Ttl::ZERO);
        self.read(&conn, Ttl::ZERO);
        check(
            (self.stats)(&conn).connects == 1,
            "two reads must share one connect",
        );
    }

    /// The health check passes on a working connection.
    pub fn health_check_passes(&self) {
        let conn = self.fresh();
        if let Err(e) = (self.health_check)(&conn) {
            fail(&format!("the health check failed: {e}"));
        }
    }

    /// After `reset`, the next read reconnects and works.
    pub fn reset_then_reuse(&self) {
        let conn = self.fresh();
        self.read(&conn, Ttl::ZERO);
        conn.reset();
        self.read(&conn, Ttl::ZERO);
        let stats = (self.stats)(&conn);
        check(
            stats.connects == 2,
            "a read after reset must reconnect once",
        );
        check(stats.resets >= 1, "reset must be counted");
    }

    /// 32 threads reading at once through a new connection connect once.
    pub fn concurrent_first_use_connects_once(&self) {
        let conn = self.fresh();
        let threads = 32;
        let barrier = Arc::new(Barrier::new(threads));
        let read = self.read;
        let failures: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let barrier = Arc::clone(&barrier);
                    let conn = Arc::clone(&conn);
                    scope.spawn(move || {
                        barrier.wait();
                        read(&conn, Ttl::ZERO).map(drop)
                    })
                })
                .collect();
            handles
                .into_iter()
                .filter_map(|h| match h.join() {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e.to_string()),
                    Err(_) => Some("a reading thread panicked".to_owned()),
                })
                .collect()
        });
        if let Some(first) = failures.first() {
            fail(&format!(
                "{} of {threads} concurrent reads failed: {first}",
                failures.len()
            ));
        }
        check(
            (self.stats)(&conn).connects == 1,
            "concurrent first reads must share one connect",
        );
    }

    /// A cached read returns the same data without a new query; an expired one runs
    /// again.
    pub fn result_cache_hit_and_ttl(&self) {
        let conn = self.fresh();
        let first = self.read(&conn, Ttl::Forever);
        let before = (self.stats)(&conn);
        let again = self.read(&conn, Ttl::Forever);
        let after = (self.stats)(&conn);
        check(
            again.shares_data_with(&first),
            "a cache hit must share the cached data",
        );
        check(
            after.queries == before.queries,
            "a cache hit must not query",
        );
        check(
            after.cache_hits == before.cache_hits + 1,
            "a cache hit must be counted",
        );

        let ttl = Ttl::After(Duration::from_millis(100));
        self.read(&conn, ttl);
        let fresh = (self.stats)(&conn).queries;
        std::thread::sleep(Duration::from_millis(150));
        self.read(&conn, ttl);
        check(
            (self.stats)(&conn).queries == fresh + 1,
            "an expired result must be read again",
        );
    }

    /// The secret shows in no `Debug` output and no error.
    pub fn secrets_never_show(&self) {
        let Some(secret) = &self.secret else {
            return;
        };
        let conn = self.fresh();
        let debug = format!("{conn:?}");
        check(
            !debug.contains(secret.as_str()),
            "Debug of a connection shows a secret",
        );
        let config = self.factory.connection(&self.name).config();
        if let Ok(config) = config {
            check(
                !format!("{config:?}").contains(secret.as_str()),
                "Debug of a configuration shows a secret",
            );
        }
        if let Some(failing) = &self.failing_name {
            match self.factory.connection(failing).get::<T>() {
                Err(err) => check_no_secret(&err, secret),
                Ok(conn) => match (self.read)(&conn, Ttl::ZERO) {
                    Ok(_) => fail(&format!("reads through {failing} were expected to fail")),
                    Err(err) => check_no_secret(&err, secret),
                },
            }
        }
    }
}

fn check_no_secret(err: &conn_core::Error, secret: &str) {
    let shown = format!("{err} / {err:?}");
    check(!shown.contains(secret), "an error shows a secret");
}

#[allow(clippy::panic)]
fn fail(message: &str) -> ! {
    panic!("conformance: {message}")
}

fn check(ok: bool, message: &str) {
    if !ok {
        fail(message);
    }
}

/// The variable naming moto's `moto_server` executable (scripts/setup-python installs
/// it into a venv).
pub const MOTO_SERVER_VAR: &str = "CONN_TEST_MOTO_SERVER";

/// A moto S3-compatible server on 127.0.0.1, started for one test and stopped when
/// dropped.
#[derive(Debug)]
pub struct MotoServer {
    child: std::process::Child,
    port: u16,
}

impl MotoServer {
    /// Starts moto if [`MOTO_SERVER_VAR`] is set (see [`server_url`] for what happens
    /// when it is not). With `enforce_auth`, every request must carry credentials moto
    /// knows, so any made-up key is refused the way AWS refuses it.
    #[allow(clippy::panic)]
    pub fn start(enforce_auth: bool) -> Option<MotoServer> {
        let program = server_url(MOTO_SERVER_VAR, "S3-compatible server (moto)")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("no free port for moto: {e}"));
        let mut command = std::process::Command::new(&program);
        command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if enforce_auth {
            command.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let server = MotoServer { child, port };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("moto did not start listening on 127.0.0.1:{port} within 10 s")
    }

    /// The endpoint URL (`http://127.0.0.1:PORT`).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket (moto accepts unsigned requests unless auth is enforced).
    #[allow(clippy::panic)]
    pub fn create_bucket(&self, bucket: &str) {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port))
            .unwrap_or_else(|e| panic!("cannot reach moto: {e}"));
        let request = format!(
            "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        stream
            .write_all(request.as_bytes())
            .unwrap_or_else(|e| panic!("cannot create bucket {bucket}: {e}"));
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        if !response.starts_with("HTTP/1.1 200") {
            panic!("moto refused to create bucket {bucket}: {response}");
        }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
