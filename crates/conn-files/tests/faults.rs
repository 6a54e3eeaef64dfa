//! Fault injection against a real S3-compatible server (moto, issue 13): a loop of reads
//! and writes through a TCP proxy that cuts connections, cuts responses in the middle,
//! stalls and refuses connections.
//!
//! Every read must come through with its known content; every write must leave its
//! object whole if it reported success, and whole or absent if it reported a failure.
//! Each test prints one `FIGURES faults ...` line; `CONN_FAULTS_N` sets the number of
//! operations (100 by default), `CONN_FAULTS_SEED` replays a schedule,
//! `CONN_FAULTS_VERBOSE=1` prints every error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use conn_core::arrow::array::{Array, Int64Array, RecordBatch};
use conn_core::arrow::datatypes::{DataType, Field, Schema};
use conn_core::{ConnectionFactory, Env, Table, Ttl, arrow};
use conn_files::{FilesConnection, Format};
use conn_testkit::MotoServer;
use conn_testkit::faults::{Fault, FaultProxy, Refusal, Rng, Tally, operations};

const BUCKET: &str = "faults";
/// Distinct small objects, read in turn.
const SMALL: u64 = 20;
/// Rows of the large objects (CSV, and Parquet in row groups of `BATCH`), read in
/// batches of `BATCH`.
const ROWS: i64 = 20_000;
const BATCH: usize = 1000;

/// Two connections to the same bucket: `faulty` through the proxy, `direct` to moto.
/// object_store retries each request up to 10 times, pauses doubling from 100 ms to
/// 400 ms (about 3 s in all), which spans the refusals below.
fn factory(dir: &Path, proxied: &str, direct: &str) -> ConnectionFactory {
    let secrets = format!(
        "[connections.faulty]\ntype = \"files\"\nprotocol = \"s3\"\nkey = \"AKIAMOTO\"\n\
         secret = \"moto-secret\"\nendpoint_url = \"{proxied}\"\n\
         client_kwargs = {{ region_name = \"us-east-1\" }}\n\
         retry = {{ attempts = 10, wait = \"100ms\" }}\n\
         [connections.direct]\ntype = \"files\"\nprotocol = \"s3\"\nkey = \"AKIAMOTO\"\n\
         secret = \"moto-secret\"\nendpoint_url = \"{direct}\"\n\
         client_kwargs = {{ region_name = \"us-east-1\" }}\n"
    );
    std::fs::create_dir_all(dir.join(".streamlit")).unwrap();
    std::fs::write(dir.join(".streamlit/secrets.toml"), secrets).unwrap();
    ConnectionFactory::builder()
        .env(Env::from_pairs([(
            "HOME",
            dir.join("home").display().to_string(),
        )]))
        .project_dir(dir)
        .build()
}

/// A table of `(id, v)` rows, `v = id * factor`, ids `from..to`, in batches of `BATCH`.
fn numbers(from: i64, to: i64, factor: i64) -> Table {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("v", DataType::Int64, false),
    ]));
    let ids: Vec<i64> = (from..to).collect();
    let batches = ids
        .chunks(BATCH)
        .map(|chunk| {
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(Int64Array::from(chunk.to_vec())),
                    Arc::new(Int64Array::from_iter_values(
                        chunk.iter().map(|id| id * factor),
                    )),
                ],
            )
            .unwrap()
        })
        .collect();
    Table::new(schema, batches).unwrap()
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

/// Whether `table` holds exactly `(id, id * factor)` for ids `from..to`.
fn check_numbers(table: &Table, from: i64, to: i64, factor: i64) -> Result<(), String> {
    let ids = ints(table, "id")?;
    let v = ints(table, "v")?;
    let expected: Vec<i64> = (from..to).collect();
    if ids != expected {
        return Err(format!(
            "{} rows, ids {:?}..., expected {from}..{to}",
            ids.len(),
            &ids[..ids.len().min(5)]
        ));
    }
    match ids.iter().zip(&v).position(|(id, v)| *v != id * factor) {
        None => Ok(()),
        Some(row) => Err(format!(
            "row {row}: {} * {factor} read as {}",
            ids[row], v[row]
        )),
    }
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

/// The faults of the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProxyFault {
    /// Before every fourth operation, every open connection is reset 0 to 30 ms later.
    CutAll,
    /// Every other large read is cut after 1 000 to 100 000 bytes from the server (less
    /// than half of the object); every other write's answers after 0 to 400 bytes.
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

fn run(fault: ProxyFault) {
    let Some(moto) = MotoServer::start(false) else {
        return;
    };
    moto.create_bucket(BUCKET);
    let (proxy, proxied) = FaultProxy::for_url(&moto.endpoint()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let factory = factory(dir.path(), &proxied, &moto.endpoint());
    let faulty = factory.get::<FilesConnection>("faulty").unwrap();
    let direct = factory.get::<FilesConnection>("direct").unwrap();

    // What the reads must find, written without faults.
    for j in 0..SMALL {
        let j = j as i64;
        direct
            .write(
                &format!("{BUCKET}/small/{j}.csv"),
                &numbers(j, j + 1, 2),
                Format::Csv,
            )
            .blocking()
            .unwrap();
    }
    let large = numbers(0, ROWS, 3);
    direct
        .write(&format!("{BUCKET}/large.csv"), &large, Format::Csv)
        .blocking()
        .unwrap();
    direct
        .write(&format!("{BUCKET}/large.parquet"), &large, Format::Parquet)
        .blocking()
        .unwrap();

    let n = operations();
    let mut rng = Rng::from_env();
    let mut tally = Tally::new("s3", fault.name(), n, rng.seed());
    for i in 0..n {
        let op = Op::of(i);
        let injected = match fault {
            ProxyFault::CutAll if i.is_multiple_of(4) => {
                proxy.inject_in(rng.millis(0, 30), Fault::CutAll);
                true
            }
            ProxyFault::CutMidResult if op == Op::LargeRead && (i / 3).is_multiple_of(2) => {
                proxy.inject(Fault::CutAfter(rng.between(1_000, 100_000)));
                true
            }
            ProxyFault::CutMidResult if op == Op::Write && (i / 3) % 2 == 1 => {
                proxy.inject(Fault::CutAfter(rng.between(0, 400)));
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
        match op {
            Op::SmallRead => {
                let j = (i % SMALL) as i64;
                let started = Instant::now();
                let outcome = faulty
                    .read(format!("{BUCKET}/small/{j}.csv"))
                    .ttl(Ttl::ZERO)
                    .blocking();
                tally.read(started.elapsed(), outcome, |t| {
                    check_numbers(t, j, j + 1, 2)
                });
            }
            Op::LargeRead => {
                // CSV (one streaming GET) and Parquet (range requests) in turn.
                let path = if (i / 3).is_multiple_of(2) {
                    format!("{BUCKET}/large.csv")
                } else {
                    format!("{BUCKET}/large.parquet")
                };
                let started = Instant::now();
                let outcome = faulty
                    .read(path)
                    .option("batch_size", BATCH as i64)
                    .ttl(Ttl::ZERO)
                    .blocking();
                tally.read(started.elapsed(), outcome, |t| {
                    let batches = t.batches().len();
                    if batches < 2 {
                        return Err(format!("{batches} batch(es)"));
                    }
                    check_numbers(t, 0, ROWS, 3)
                });
            }
            Op::Write => {
                // Object `i` holds the rows 10i..10i+3 times 5, as CSV or Parquet.
                let (path, format) = write_path(i);
                let id = i as i64 * 10;
                let outcome = faulty
                    .write(&path, &numbers(id, id + 3, 5), format)
                    .blocking();
                tally.write(i, outcome);
            }
        }
    }
    proxy.heal();

    // Every object written is listed once and whole.
    let listed = direct.list(&format!("{BUCKET}/out")).blocking().unwrap();
    let mut present = Vec::new();
    for file in &listed {
        let i: u64 = file
            .path
            .rsplit('/')
            .next()
            .and_then(|name| name.split('.').next())
            .and_then(|stem| stem.parse().ok())
            .unwrap_or_else(|| panic!("an object nobody wrote: {}", file.path));
        let id = i as i64 * 10;
        let back = direct
            .read(file.path.clone())
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap_or_else(|e| panic!("{} cannot be read back: {e}", file.path));
        check_numbers(&back, id, id + 3, 5)
            .unwrap_or_else(|why| panic!("{} is not whole: {why}", file.path));
        present.push((i, 1));
    }
    tally.check_writes(present);
    let stats = proxy.stats();
    tally.note("proxy_connections", stats.connections);
    tally.note("proxy_cut", stats.cut);
    tally.note("proxy_refused", stats.refused);
    tally.finish();
}

/// Where write `i` goes, and its format.
fn write_path(i: u64) -> (String, Format) {
    if (i / 3).is_multiple_of(2) {
        (format!("{BUCKET}/out/{i}.csv"), Format::Csv)
    } else {
        (format!("{BUCKET}/out/{i}.parquet"), Format::Parquet)
    }
}

#[test]
fn s3_connections_cut() {
    run(ProxyFault::CutAll);
}

#[test]
fn s3_responses_cut_in_the_middle() {
    run(ProxyFault::CutMidResult);
}

#[test]
fn s3_stalled() {
    run(ProxyFault::Stall);
}

#[test]
fn s3_refusing_connections() {
    run(ProxyFault::Refuse);
}

/// A server (or load balancer) that accepts connections and closes them at once: hyper
/// cancels the request on such a connection before writing it ("connection was not
/// ready"), an error object_store does not retry. conn sends it again (nothing reached
/// the server), so every read and write here succeeds, and every write is applied once.
#[test]
fn s3_connections_closed_on_accept_are_sent_again() {
    let Some(moto) = MotoServer::start(false) else {
        return;
    };
    moto.create_bucket(BUCKET);
    let (proxy, proxied) = FaultProxy::for_url(&moto.endpoint()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let factory = factory(dir.path(), &proxied, &moto.endpoint());
    let faulty = factory.get::<FilesConnection>("faulty").unwrap();
    let direct = factory.get::<FilesConnection>("direct").unwrap();
    direct
        .write(
            &format!("{BUCKET}/closed/in.csv"),
            &numbers(0, 3, 2),
            Format::Csv,
        )
        .blocking()
        .unwrap();
    let rounds = 30;
    for round in 0..rounds {
        // The pooled connections are gone; new ones are accepted and closed for 150 ms.
        proxy.inject(Fault::CutAll);
        proxy.inject(Fault::Refuse(
            std::time::Duration::from_millis(150),
            Refusal::AcceptAndClose,
        ));
        let read = faulty
            .read(format!("{BUCKET}/closed/in.csv"))
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap_or_else(|e| panic!("read {round}: {e}"));
        check_numbers(&read, 0, 3, 2).unwrap();
        proxy.inject(Fault::CutAll);
        proxy.inject(Fault::Refuse(
            std::time::Duration::from_millis(150),
            Refusal::AcceptAndClose,
        ));
        let id = round * 10;
        faulty
            .write(
                &format!("{BUCKET}/closed/out-{round}.csv"),
                &numbers(id, id + 3, 5),
                Format::Csv,
            )
            .blocking()
            .unwrap_or_else(|e| panic!("write {round}: {e}"));
    }
    proxy.heal();
    let listed = direct.list(&format!("{BUCKET}/closed")).blocking().unwrap();
    assert_eq!(listed.len(), 1 + rounds as usize, "{listed:?}");
    for round in 0..rounds {
        let back = direct
            .read(format!("{BUCKET}/closed/out-{round}.csv"))
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap();
        let id = round * 10;
        check_numbers(&back, id, id + 3, 5).unwrap();
    }
    let refused = proxy.stats().refused;
    assert!(
        refused >= u64::try_from(rounds).unwrap(),
        "the proxy closed only {refused} connections on accept"
    );
    println!("FIGURES faults target=s3 fault=closed_on_accept rounds={rounds} refused={refused}");
}
