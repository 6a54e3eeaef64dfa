//! The soak: 64 threads for a bounded time mixing cached, short-lived and uncached reads,
//! writes, resets, and edits of secrets.toml with the watcher on, against a SQLite file
//! and the real PostgreSQL server. It holds conn to three promises:
//!
//! * no call fails (0 unexpected errors);
//! * no read is stale after a write: a thread that changed a row reads its new value
//!   through a cached query (one hour ttl), and a total it reads after its own write is
//!   larger than every total it read before;
//! * resident memory is stable: its growth from the end of the warm-up (the first
//!   quarter) to the end stays under [`RSS_GROWTH_BOUND`].
//!
//! `CONN_SOAK_SECONDS` sets each backend's duration (default 4: CI);
//! `scripts/reliability` runs it for minutes. Each backend prints one `FIGURES soak`
//! line. Its own test binary: its memory figures must be its alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use conn::sql::SqlConnection;
use conn::{ConnectionFactory, Env, Ttl};

/// Threads calling conn at once.
const THREADS: usize = 64;
/// The most resident memory may grow after the warm-up, in bytes.
const RSS_GROWTH_BOUND: u64 = 64 << 20;
/// Threads per role: writer, cached reader, short-ttl reader, uncached reader.
const ROLES: usize = 4;

fn seconds() -> u64 {
    std::env::var("CONN_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4)
}

/// Resident memory of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The project folder, its secrets.toml holding `[connections.db]` with `url`.
struct Project {
    dir: tempfile::TempDir,
    url: String,
}

impl Project {
    fn new(url: impl FnOnce(&Path) -> String) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".streamlit")).unwrap();
        let url = url(dir.path());
        let project = Project { dir, url };
        project.write_secrets(0);
        project
    }

    fn write_secrets(&self, n: u64) {
        write_secrets(self.dir.path(), &self.url, n);
    }

    fn factory(&self) -> ConnectionFactory {
        ConnectionFactory::builder()
            .env(Env::from_pairs([(
                "HOME",
                self.dir.path().join("home").display().to_string(),
            )]))
            .project_dir(self.dir.path())
            .build()
    }
}

/// Writes the project's secrets with edit number `n`: the connection's section changes
/// (its retry attempts alternate), so the watcher resets the connection. Written whole,
/// then renamed over, so the watcher never reads half a file.
fn write_secrets(project: &Path, url: &str, n: u64) {
    let attempts = 4 + n % 2;
    let text = format!(
        "[connections.db]\ntype = \"sql\"\nurl = \"{url}\"\n\
         retry = {{ attempts = {attempts}, wait = \"50ms\" }}\n"
    );
    let folder = project.join(".streamlit");
    let temp: PathBuf = folder.join("secrets.toml.new");
    std::fs::write(&temp, text).unwrap();
    std::fs::rename(&temp, folder.join("secrets.toml")).unwrap();
}

/// What the threads saw.
#[derive(Default)]
struct Tally {
    calls: AtomicU64,
    writes: AtomicU64,
    resets: AtomicU64,
    edits: AtomicU64,
    errors: AtomicU64,
    stale: AtomicU64,
    first_failures: Mutex<Vec<String>>,
}

impl Tally {
    fn failed(&self, what: &str) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.note(what);
    }

    fn stale_read(&self, what: &str) {
        self.stale.fetch_add(1, Ordering::Relaxed);
        self.note(what);
    }

    fn note(&self, what: &str) {
        let mut first = self.first_failures.lock().unwrap();
        if first.len() < 10 {
            first.push(what.to_owned());
        }
    }
}

fn total(conn: &SqlConnection, ttl: Ttl) -> conn::Result<i64> {
    let table = conn
        .query("SELECT CAST(sum(v) AS BIGINT) AS s FROM counters")
        .ttl(ttl)
        .blocking()?;
    Ok(table.rows::<(i64,)>()?[0].0)
}

/// A writer: bumps its own row, then reads it back through a cached query and the
/// total through another: neither may be older than the write.
fn writer(id: i64, factory: &ConnectionFactory, tally: &Tally, stop: &AtomicBool) {
    let mut mine = 0_i64;
    let mut last_total = i64::MIN;
    while !stop.load(Ordering::Relaxed) {
        let conn = match factory.get::<SqlConnection>("db") {
            Ok(conn) => conn,
            Err(err) => {
                tally.failed(&format!("get: {err}"));
                continue;
            }
        };
        let before = total(&conn, Ttl::from(Duration::from_secs(3600)));
        match conn
            .execute("UPDATE counters SET v = v + 1 WHERE id = :id")
            .param("id", id)
            .blocking()
        {
            Ok(1) => {
                mine += 1;
                tally.writes.fetch_add(1, Ordering::Relaxed);
            }
            Ok(n) => tally.failed(&format!("writer {id}: the update changed {n} rows")),
            Err(err) => {
                // A write that failed is not retried by conn once it may have reached
                // the database: whether it applied is unknown, so the thread reads its
                // row to know (and counts it if it did).
                tally.failed(&format!("writer {id}: {err}"));
                match own_value(&conn, id, Ttl::ZERO) {
                    Ok(v) => {
                        if v > mine {
                            tally.writes.fetch_add(1, Ordering::Relaxed);
                        }
                        mine = v;
                    }
                    Err(_) => return,
                }
            }
        }
        match own_value(&conn, id, Ttl::from(Duration::from_secs(3600))) {
            Ok(v) if v == mine => {}
            Ok(v) => tally.stale_read(&format!("writer {id}: wrote {mine}, read {v}")),
            Err(err) => tally.failed(&format!("writer {id} reading back: {err}")),
        }
        match (before, total(&conn, Ttl::from(Duration::from_secs(3600)))) {
            (Ok(before), Ok(after)) => {
                if after <= before.max(last_total) {
                    tally.stale_read(&format!(
                        "writer {id}: total {after} after a write, {} before",
                        before.max(last_total)
                    ));
                }
                last_total = after;
            }
            (Err(err), _) | (_, Err(err)) => tally.failed(&format!("writer {id} total: {err}")),
        }
        tally.calls.fetch_add(4, Ordering::Relaxed);
    }
}

fn own_value(conn: &SqlConnection, id: i64, ttl: Ttl) -> conn::Result<i64> {
    let table = conn
        .query("SELECT v FROM counters WHERE id = :id")
        .param("id", id)
        .ttl(ttl)
        .blocking()?;
    Ok(table.rows::<(i64,)>()?[0].0)
}

/// A reader of the total with `ttl`: the total never goes down.
fn reader(id: usize, ttl: Ttl, factory: &ConnectionFactory, tally: &Tally, stop: &AtomicBool) {
    let mut last = i64::MIN;
    while !stop.load(Ordering::Relaxed) {
        let read = factory
            .get::<SqlConnection>("db")
            .and_then(|conn| total(&conn, ttl));
        match read {
            Ok(now) if now < last => {
                tally.stale_read(&format!("reader {id}: total {now} after {last}"));
            }
            Ok(now) => last = now,
            Err(err) => tally.failed(&format!("reader {id}: {err}")),
        }
        tally.calls.fetch_add(1, Ordering::Relaxed);
    }
}

/// Runs the soak against `project`'s connection and returns the figures line.
fn soak(backend: &str, project: &Project, setup: &[&str]) -> String {
    let factory = project.factory();
    let conn = factory.get::<SqlConnection>("db").unwrap();
    for statement in setup {
        conn.execute(*statement).blocking().unwrap();
    }
    let writers = THREADS / ROLES;
    for id in 0..i64::try_from(writers).unwrap() {
        conn.execute("INSERT INTO counters (id, v) VALUES (:id, 0)")
            .param("id", id)
            .blocking()
            .unwrap();
    }
    let _watcher = factory.watch_secrets().unwrap();

    let duration = Duration::from_secs(seconds());
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(THREADS + 3));
    let mut threads = Vec::new();
    for i in 0..THREADS {
        let (factory, tally, stop, start) = (
            factory.clone(),
            Arc::clone(&tally),
            Arc::clone(&stop),
            Arc::clone(&start),
        );
        threads.push(std::thread::spawn(move || {
            start.wait();
            match i % ROLES {
                0 => writer(i64::try_from(i / ROLES).unwrap(), &factory, &tally, &stop),
                1 => reader(
                    i,
                    Ttl::from(Duration::from_secs(3600)),
                    &factory,
                    &tally,
                    &stop,
                ),
                2 => reader(
                    i,
                    Ttl::from(Duration::from_millis(20)),
                    &factory,
                    &tally,
                    &stop,
                ),
                _ => reader(i, Ttl::ZERO, &factory, &tally, &stop),
            }
        }));
    }
    // The resetter: the connection reset under the threads' feet.
    {
        let (factory, tally, stop, start) = (
            factory.clone(),
            Arc::clone(&tally),
            Arc::clone(&stop),
            Arc::clone(&start),
        );
        threads.push(std::thread::spawn(move || {
            start.wait();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if let Ok(conn) = factory.get::<SqlConnection>("db") {
                    conn.reset();
                    tally.resets.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    // The editor: secrets.toml rewritten, each edit resetting the connection.
    {
        let (tally, stop, start) = (Arc::clone(&tally), Arc::clone(&stop), Arc::clone(&start));
        let project_dir = project.dir.path().to_owned();
        let url = project.url.clone();
        threads.push(std::thread::spawn(move || {
            start.wait();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(250));
                n += 1;
                write_secrets(&project_dir, &url, n);
                tally.edits.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    start.wait();
    let began = Instant::now();
    std::thread::sleep(duration / 4);
    let warm = rss();
    std::thread::sleep(duration - duration / 4);
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().unwrap();
    }
    let elapsed = began.elapsed();
    let end = rss();

    // Every write the writers counted is in the table, once.
    let conn = factory.get::<SqlConnection>("db").unwrap();
    let stored = total(&conn, Ttl::ZERO).unwrap();
    let writes = tally.writes.load(Ordering::Relaxed);
    let errors = tally.errors.load(Ordering::Relaxed);
    let stale = tally.stale.load(Ordering::Relaxed);
    let growth = end.saturating_sub(warm);
    let figures = format!(
        "FIGURES soak backend={backend} threads={THREADS} seconds={:.1} calls={} writes={writes} \
         stored={stored} resets={} edits={} errors={errors} stale={stale} rss_warm_mib={} \
         rss_end_mib={} growth_mib={:.1}",
        elapsed.as_secs_f64(),
        tally.calls.load(Ordering::Relaxed),
        tally.resets.load(Ordering::Relaxed),
        tally.edits.load(Ordering::Relaxed),
        warm >> 20,
        end >> 20,
        growth as f64 / f64::from(1 << 20),
    );
    figures_line(&figures);
    let failures = tally.first_failures.lock().unwrap().join("\n  ");
    assert_eq!(errors, 0, "{figures}\nfirst failures:\n  {failures}");
    assert_eq!(stale, 0, "{figures}\nfirst failures:\n  {failures}");
    assert_eq!(
        u64::try_from(stored).unwrap(),
        writes,
        "the table holds {stored} increments, the writers made {writes}"
    );
    assert!(
        tally.edits.load(Ordering::Relaxed) > 0 && tally.resets.load(Ordering::Relaxed) > 0,
        "{figures}"
    );
    assert!(
        growth < RSS_GROWTH_BOUND,
        "resident memory grew {} MiB after the warm-up (bound {} MiB): {figures}",
        growth >> 20,
        RSS_GROWTH_BOUND >> 20
    );
    figures
}

#[test]
fn soak_sqlite_then_postgres() {
    let sqlite = Project::new(|dir| format!("sqlite:///{}/soak.db", dir.display()));
    soak(
        "sqlite",
        &sqlite,
        &[
            "PRAGMA journal_mode = WAL",
            "CREATE TABLE counters (id INTEGER PRIMARY KEY, v BIGINT NOT NULL)",
        ],
    );

    let Some(base) = conn_testkit::server_url("CONN_TEST_POSTGRES_URL", "PostgreSQL") else {
        return;
    };
    let schema = conn_testkit::unique_name("conn_soak");
    let admin = Project::new(|_| base.clone());
    let admin_conn = admin.factory().get::<SqlConnection>("db").unwrap();
    admin_conn
        .execute(format!("CREATE SCHEMA {schema}"))
        .blocking()
        .unwrap();
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
    let postgres = Project::new(|_| url.clone());
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        soak(
            "postgres",
            &postgres,
            &["CREATE TABLE counters (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)"],
        )
    }));
    admin_conn
        .execute(format!("DROP SCHEMA {schema} CASCADE"))
        .blocking()
        .unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Prints a figures line past the test harness's capture, so CI logs show it.
fn figures_line(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}
