//! Fault injection against real servers (issue 13, "Reliability suite"): a loop of
//! reads and writes while the server is restarted (a private PostgreSQL cluster, a
//! private MariaDB server) or while a TCP proxy between conn and the shared servers
//! cuts connections, cuts results in the middle, stalls and refuses connections.
//!
//! Every read must come through with its known value; every write must be applied once
//! if it reported success and at most once (never in part) if it reported a failure.
//! Each test prints one `FIGURES faults ...` line. `CONN_FAULTS_N` sets the number of
//! operations (100 by default; docs/reliability.md has the figures of a long run),
//! `CONN_FAULTS_SEED` replays a schedule, `CONN_FAULTS_VERBOSE=1` prints every error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use common::{MYSQL_VAR, MySqlScratch, POSTGRES_VAR, PgScratch, Project, standalone};
use conn_core::arrow::array::{Array, Int64Array, RecordBatch, StringArray};
use conn_core::arrow::datatypes::{DataType, Field, Schema};
use conn_core::{Table, Ttl, arrow};
use conn_sql::{SqlConnection, WriteMode};
use conn_testkit::faults::{Fault, FaultProxy, Refusal, Rng, Tally, operations};
use conn_testkit::servers::{MariaDbServer, PgCluster, Shutdown};

/// Rows of the large read: several batches of `BATCH` rows.
const ROWS: i64 = 3000;
const BATCH: usize = 500;

/// The connection under faults: retries that span a restart or a refusal of a few
/// seconds (40 attempts, pauses doubling from 100 ms to 250 ms: about 9.5 s in all),
/// small batches so that the large read is several.
fn secrets(url: &str) -> String {
    format!(
        "[connections.faulty]\ntype = \"sql\"\nurl = \"{url}\"\n\
         retry = {{ attempts = 40, wait = \"250ms\" }}\nbatch_size = {BATCH}\n\
         connect_timeout = \"5s\"\n"
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Postgres,
    MySql,
}

/// The operations of the loop, in turn: operation `i` is `Op::of(i)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    SmallRead,
    LargeRead,
    Write,
}

impl Op {
    fn of(i: u64) -> Op {
        match i % 3 {
            0 => Op::SmallRead,
            1 => Op::LargeRead,
            _ => Op::Write,
        }
    }
}

/// What a fault loop runs against.
struct Subject {
    dialect: Dialect,
    /// The connection under faults.
    conn: Arc<SqlConnection>,
    /// A connection that sees no fault, to set up and to count what was written.
    direct: SqlConnection,
    table: String,
    /// Keeps the connection's configuration alive.
    _project: Project,
}

impl Subject {
    fn new(dialect: Dialect, url: &str, direct: SqlConnection) -> Subject {
        let project = Project::new(&secrets(url));
        let table = conn_testkit::unique_name("faults");
        let text = match dialect {
            Dialect::Postgres => "text",
            Dialect::MySql => "VARCHAR(40)",
        };
        direct
            .execute(format!(
                "CREATE TABLE {table} (id BIGINT NOT NULL, note {text} NOT NULL)"
            ))
            .blocking()
            .unwrap();
        Subject {
            dialect,
            conn: project.sql("faulty"),
            direct,
            table,
            _project: project,
        }
    }

    /// `2 * i` through a parameter (the row path).
    fn small_read(&self, i: u64, tally: &mut Tally) {
        let sql = match self.dialect {
            Dialect::Postgres => "SELECT CAST(:n AS bigint) * 2 AS v",
            Dialect::MySql => "SELECT CAST(:n AS SIGNED) * 2 AS v",
        };
        let started = Instant::now();
        let outcome = self
            .conn
            .query(sql)
            .param("n", i as i64)
            .ttl(Ttl::ZERO)
            .blocking();
        tally.read(started.elapsed(), outcome, |table| {
            let v = ints(table, "v")?;
            if v == [2 * i as i64] {
                Ok(())
            } else {
                Err(format!("SELECT {i} * 2 gave {v:?}"))
            }
        });
    }

    /// `ROWS` rows `(id, id * k)` with `k = i + 1`, in several batches; on PostgreSQL
    /// through COPY (no parameter) and through rows (a parameter) in turn.
    fn large_read(&self, i: u64, tally: &mut Tally) {
        let k = i as i64 + 1;
        let by_parameter = (i / 3) % 2 == 1;
        let factor = if by_parameter {
            ":k".to_owned()
        } else {
            k.to_string()
        };
        let sql = match self.dialect {
            Dialect::Postgres => format!(
                "SELECT g AS id, g::bigint * {factor} AS v FROM generate_series(1, {ROWS}) AS g \
                 ORDER BY g"
            ),
            Dialect::MySql => {
                format!("SELECT seq AS id, seq * {factor} AS v FROM seq_1_to_{ROWS} ORDER BY seq")
            }
        };
        let mut query = self.conn.query(sql).ttl(Ttl::ZERO);
        if by_parameter {
            query = query.param("k", k);
        }
        let started = Instant::now();
        let outcome = query.blocking();
        tally.read(started.elapsed(), outcome, |table| {
            let batches = table.batches().len();
            let expected_batches = (ROWS as usize).div_ceil(BATCH);
            if batches != expected_batches {
                return Err(format!("{batches} batches, expected {expected_batches}"));
            }
            let ids = ints(table, "id")?;
            let v = ints(table, "v")?;
            let expected: Vec<i64> = (1..=ROWS).collect();
            if ids != expected {
                return Err(format!(
                    "{} rows, ids {:?}..., expected 1..={ROWS}",
                    ids.len(),
                    &ids[..ids.len().min(5)]
                ));
            }
            match ids.iter().zip(&v).position(|(id, v)| *v != id * k) {
                None => Ok(()),
                Some(row) => Err(format!("row {row}: {} * {k} read as {}", ids[row], v[row])),
            }
        });
    }

    /// In turn, one row (id `3i`) inserted with `execute`, three rows (ids `3i`,
    /// `3i + 1`, `3i + 2`) written with `write_table`.
    fn write(&self, i: u64, tally: &mut Tally) {
        let first = 3 * i;
        if (i / 3).is_multiple_of(2) {
            let outcome = self
                .conn
                .execute(format!(
                    "INSERT INTO {} (id, note) VALUES (:id, :note)",
                    self.table
                ))
                .param("id", first as i64)
                .param("note", format!("w{first}"))
                .blocking();
            tally.write(first, outcome);
        } else {
            let ids = [first, first + 1, first + 2];
            let outcome = self
                .conn
                .write_table(&self.table, &rows(&ids), WriteMode::Append)
                .blocking();
            tally.write_all(&ids, outcome);
        }
    }

    /// Compares what the table holds, read without faults, with the writes.
    fn check_writes(&self, tally: &mut Tally) {
        let table = self
            .direct
            .query(format!(
                "SELECT id, COUNT(*) AS n, MIN(note) AS lo, MAX(note) AS hi FROM {} GROUP BY id",
                self.table
            ))
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap();
        let ids = ints(&table, "id").unwrap();
        let counts = ints(&table, "n").unwrap();
        let lo = strings(&table, "lo");
        let hi = strings(&table, "hi");
        for (row, id) in ids.iter().enumerate() {
            let note = format!("w{id}");
            assert!(
                lo[row] == note && hi[row] == note,
                "row {id} holds the note {:?}..{:?}, written as {note:?}",
                lo[row],
                hi[row]
            );
        }
        tally.check_writes(
            ids.iter()
                .zip(&counts)
                .map(|(id, n)| (*id as u64, *n as u64)),
        );
    }

    /// Adds the connection's counters to the figures.
    fn note_stats(&self, tally: &mut Tally) {
        let stats = self.conn.stats();
        tally.note("connects", stats.connects);
        tally.note("retries", stats.retries);
        tally.note("resets", stats.resets);
    }
}

impl Drop for Subject {
    fn drop(&mut self) {
        let _ = self
            .direct
            .execute(format!("DROP TABLE IF EXISTS {}", self.table))
            .blocking();
    }
}

/// The rows `ids` with their notes, as a table to write.
fn rows(ids: &[u64]) -> Table {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("note", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values(
                ids.iter().map(|&id| id as i64),
            )),
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|id| format!("w{id}")),
            )),
        ],
    )
    .unwrap();
    Table::from_batch(batch)
}

/// The integer column `name` as i64 values (a NULL or a missing column is an error).
fn ints(table: &Table, name: &str) -> Result<Vec<i64>, String> {
    let column = table.column(name).map_err(|e| e.to_string())?;
    let column = arrow::compute::cast(&column, &DataType::Int64).map_err(|e| e.to_string())?;
    let column = column
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or("not integers")?;
    if column.null_count() > 0 {
        return Err(format!("{} NULLs in {name}", column.null_count()));
    }
    Ok(column.values().to_vec())
}

fn strings(table: &Table, name: &str) -> Vec<String> {
    let column = table.column(name).unwrap();
    let column = arrow::compute::cast(&column, &DataType::Utf8).unwrap();
    let column = column.as_any().downcast_ref::<StringArray>().unwrap();
    column
        .iter()
        .map(|s| s.unwrap_or("NULL").to_owned())
        .collect()
}

/// Runs the loop of `operations()` operations, small reads, large reads and writes in
/// turn; before each, `inject` may inject a fault.
fn run_loop(
    subject: &Subject,
    target: &str,
    fault: &str,
    mut inject: impl FnMut(u64, Op, &mut Rng, &mut Tally),
) -> Tally {
    let n = operations();
    let mut rng = Rng::from_env();
    let mut tally = Tally::new(target, fault, n, rng.seed());
    for i in 0..n {
        let op = Op::of(i);
        inject(i, op, &mut rng, &mut tally);
        match op {
            Op::SmallRead => subject.small_read(i, &mut tally),
            Op::LargeRead => subject.large_read(i, &mut tally),
            Op::Write => subject.write(i, &mut tally),
        }
    }
    tally
}

/// The proxied faults against one shared server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProxyFault {
    /// Before every fourth operation, every open connection is reset 0 to 30 ms later.
    CutAll,
    /// Every other large read is cut after 100 to 32 000 bytes from the server (less
    /// than half of its result); every other write's answer after 0 to 80 bytes.
    CutMidResult,
    /// Before every fourth operation, 0 to 10 ms later, every byte is held for 50 to
    /// 400 ms.
    Stall,
    /// Before every tenth operation, the server "goes down": open connections are reset
    /// and new ones refused for 0.2 to 1 s (the port closed, or accepting and closing, in
    /// turn).
    Refuse,
}

impl ProxyFault {
    fn name(self) -> &'static str {
        match self {
            ProxyFault::CutAll => "cut_all",
            ProxyFault::CutMidResult => "cut_mid_result",
            ProxyFault::Stall => "stall",
            ProxyFault::Refuse => "refuse",
        }
    }
}

fn through_proxy(dialect: Dialect, base: &str, fault: ProxyFault) {
    let (target, url, direct, _pg, _my) = match dialect {
        Dialect::Postgres => {
            let scratch = PgScratch::new(base);
            let url = scratch.url.clone();
            (
                "postgres",
                url.clone(),
                standalone(&url),
                Some(scratch),
                None,
            )
        }
        Dialect::MySql => {
            let scratch = MySqlScratch::new(base);
            let url = scratch.url.clone();
            (
                "mariadb",
                url.clone(),
                standalone(&url),
                None,
                Some(scratch),
            )
        }
    };
    let (proxy, proxied) = FaultProxy::for_url(&url).unwrap();
    let subject = Subject::new(dialect, &proxied, direct);
    let mut tally = run_loop(&subject, target, fault.name(), |i, op, rng, tally| {
        let injected = match fault {
            ProxyFault::CutAll if i.is_multiple_of(4) => {
                proxy.inject_in(rng.millis(0, 30), Fault::CutAll);
                true
            }
            ProxyFault::CutMidResult if op == Op::LargeRead && (i / 3).is_multiple_of(2) => {
                proxy.inject(Fault::CutAfter(rng.between(100, 32_000)));
                true
            }
            ProxyFault::CutMidResult if op == Op::Write && (i / 3) % 2 == 1 => {
                proxy.inject(Fault::CutAfter(rng.between(0, 80)));
                true
            }
            ProxyFault::Stall if i.is_multiple_of(4) => {
                proxy.inject_in(rng.millis(0, 10), Fault::Stall(rng.millis(50, 400)));
                true
            }
            ProxyFault::Refuse if i.is_multiple_of(10) => {
                let how = if (i / 10).is_multiple_of(2) {
                    Refusal::Unbound
                } else {
                    Refusal::AcceptAndClose
                };
                let delay = rng.millis(0, 10);
                proxy.inject_in(delay, Fault::Refuse(rng.millis(200, 1000), how));
                proxy.inject_in(delay, Fault::CutAll);
                true
            }
            _ => false,
        };
        if injected {
            tally.fault();
        }
    });
    proxy.heal();
    subject.check_writes(&mut tally);
    subject.note_stats(&mut tally);
    let stats = proxy.stats();
    tally.note("proxy_connections", stats.connections);
    tally.note("proxy_cut", stats.cut);
    tally.note("proxy_refused", stats.refused);
    tally.finish();
}

/// Restarts a private server from a thread of its own while the loop runs: before
/// every tenth operation, 0 to 30 ms later, one restart, in turn clean, crash-like, and
/// down for 0.5 to 1.5 s.
fn restarts<R: Sync>(
    dialect: Dialect,
    target: &str,
    server: &R,
    url: &str,
    stop: fn(&R, Shutdown),
    start: fn(&R),
) {
    let subject = Subject::new(dialect, url, standalone(url));
    let mut tally = std::thread::scope(|scope| {
        let (requests, received) = sync_channel::<(Duration, u64, Duration)>(0);
        scope.spawn(move || {
            for (delay, kind, down) in received {
                std::thread::sleep(delay);
                match kind % 3 {
                    0 => stop(server, Shutdown::Clean),
                    1 => stop(server, Shutdown::Crash),
                    _ => {
                        stop(server, Shutdown::Clean);
                        std::thread::sleep(down);
                    }
                }
                start(server);
            }
        });
        let mut kind = 0;
        let tally = run_loop(&subject, target, "restart", |i, _, rng, tally| {
            if i % 10 == 5 {
                // Waits for the previous restart to end.
                requests
                    .send((rng.millis(0, 30), kind, rng.millis(500, 1500)))
                    .unwrap();
                kind += 1;
                tally.fault();
            }
        });
        drop(requests);
        tally
    });
    subject.check_writes(&mut tally);
    subject.note_stats(&mut tally);
    tally.finish();
}

#[test]
fn postgres_restarted_during_reads_and_writes() {
    let Some(cluster) = PgCluster::start() else {
        return;
    };
    restarts(
        Dialect::Postgres,
        "postgres-private",
        &cluster,
        &cluster.url(),
        PgCluster::stop,
        PgCluster::start_again,
    );
}

#[test]
fn mariadb_restarted_during_reads_and_writes() {
    let Some(server) = MariaDbServer::start() else {
        return;
    };
    restarts(
        Dialect::MySql,
        "mariadb-private",
        &server,
        &server.url(),
        MariaDbServer::stop,
        MariaDbServer::start_again,
    );
}

fn postgres(fault: ProxyFault) {
    if let Some(base) = conn_testkit::server_url(POSTGRES_VAR, "PostgreSQL") {
        through_proxy(Dialect::Postgres, &base, fault);
    }
}

fn mariadb(fault: ProxyFault) {
    if let Some(base) = conn_testkit::server_url(MYSQL_VAR, "MySQL/MariaDB") {
        through_proxy(Dialect::MySql, &base, fault);
    }
}

#[test]
fn postgres_connections_cut() {
    postgres(ProxyFault::CutAll);
}

#[test]
fn postgres_results_cut_in_the_middle() {
    postgres(ProxyFault::CutMidResult);
}

#[test]
fn postgres_stalled() {
    postgres(ProxyFault::Stall);
}

#[test]
fn postgres_refusing_connections() {
    postgres(ProxyFault::Refuse);
}

#[test]
fn mariadb_connections_cut() {
    mariadb(ProxyFault::CutAll);
}

#[test]
fn mariadb_results_cut_in_the_middle() {
    mariadb(ProxyFault::CutMidResult);
}

#[test]
fn mariadb_stalled() {
    mariadb(ProxyFault::Stall);
}

#[test]
fn mariadb_refusing_connections() {
    mariadb(ProxyFault::Refuse);
}

/// A server that accepts connections and closes them at once (restarting, or a proxy
/// in front of a stopped server) is retried until it answers again: sqlx reports the
/// closed connection as an "unexpected response from SSLRequest: 0x00", which is not a
/// permanent protocol error.
#[test]
fn a_postgres_server_that_accepts_and_closes_is_retried() {
    let Some(base) = conn_testkit::server_url(POSTGRES_VAR, "PostgreSQL") else {
        return;
    };
    let (proxy, proxied) = FaultProxy::for_url(&base).unwrap();
    let project = Project::new(&secrets(&proxied));
    let conn = project.sql("faulty");
    proxy.inject(Fault::Refuse(
        Duration::from_millis(600),
        Refusal::AcceptAndClose,
    ));
    let started = Instant::now();
    let table = conn.query("SELECT 41 + 1 AS v").ttl(Ttl::ZERO).blocking();
    let table = table.unwrap_or_else(|e| panic!("the read was not retried: {e}"));
    assert_eq!(ints(&table, "v").unwrap(), [42]);
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert!(proxy.stats().refused >= 1, "{:?}", proxy.stats());
    assert!(conn.stats().retries >= 1, "{:?}", conn.stats());
}

/// A write whose `BEGIN` fails on a broken connection has sent nothing of itself: it is
/// retried on a new connection, and applied once.
#[test]
fn a_write_whose_begin_is_cut_is_retried_and_applied_once() {
    let Some(base) = conn_testkit::server_url(POSTGRES_VAR, "PostgreSQL") else {
        return;
    };
    let scratch = PgScratch::new(&base);
    // Without TLS, so that the bytes of each answer are known.
    let url = format!("{}&sslmode=disable", scratch.url);
    let (proxy, proxied) = FaultProxy::for_url(&url).unwrap();
    let subject = Subject::new(Dialect::Postgres, &proxied, standalone(&url));
    // One idle connection in the pool, back from its first use.
    subject
        .conn
        .query("SELECT 1")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let retries = subject.conn.stats().retries;
    // Taking the idle connection pings it (ReadyForQuery: 6 bytes); the connection is
    // then cut 5 bytes into the answer to BEGIN.
    proxy.inject(Fault::CutAfter(6 + 5));
    let written = subject
        .conn
        .write_table(&subject.table, &rows(&[7, 8]), WriteMode::Append)
        .blocking();
    assert_eq!(proxy.stats().cut, 1, "the cut did not happen");
    assert_eq!(written.unwrap(), 2);
    assert_eq!(subject.conn.stats().retries, retries + 1);
    let back = subject
        .direct
        .query(format!("SELECT id FROM {} ORDER BY id", subject.table))
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    assert_eq!(ints(&back, "id").unwrap(), [7, 8]);
}
