//! Peak memory of a streamed read against `query()` of the same PostgreSQL table, for
//! `scripts/bench-pg-stream` (issue 14 part 2: a stream's memory is bounded).
//!
//! Usage: `pg_stream_memory URL [ROWS] [QUERY_ROWS]`. Creates the table
//! `conn_bench_stream_ROWS` (id int8, k int4, x float8, s text; ROWS rows, default
//! 10,000,000) if missing, then runs each case in a child process of its own, so that
//! their peaks do not mix: `stream()` consumed batch by batch (each batch dropped once
//! counted) over ROWS rows, and `query()` over QUERY_ROWS rows (default ROWS). Each
//! child reports its peak resident set (`VmHWM` of `/proc/self/status`) above its
//! baseline (the peak after connecting and a first statement), its rows and its time.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_precision_loss,
    clippy::panic
)]

use std::process::Command;
use std::time::Instant;

use conn::Ttl;
use conn::sql::SqlConnection;

/// What a child measured.
struct Measured {
    baseline_kib: u64,
    peak_kib: u64,
    rows: usize,
    seconds: f64,
}

impl Measured {
    fn above_mib(&self) -> f64 {
        self.peak_kib.saturating_sub(self.baseline_kib) as f64 / 1024.0
    }
}

/// The process's peak resident set so far, in KiB.
fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

fn connect(url: &str) -> std::sync::Arc<SqlConnection> {
    let factory = conn_benches::factory("");
    let conn = factory
        .connection("bench")
        .option("url", url)
        .get::<SqlConnection>()
        .unwrap();
    conn.query("SELECT 1").ttl(Ttl::ZERO).blocking().unwrap();
    conn
}

fn table_name(rows: usize) -> String {
    format!("conn_bench_stream_{rows}")
}

/// A child: one case, its figures on stdout as `baseline peak rows seconds`.
fn child(case: &str, url: &str, sql: &str) {
    let conn = connect(url);
    let baseline = peak_kib();
    let start = Instant::now();
    let rows = match case {
        "stream" => {
            let mut rows = 0;
            for batch in conn.query(sql).stream().blocking().unwrap() {
                rows += batch.unwrap().num_rows();
            }
            rows
        }
        "query" => {
            let table = conn.query(sql).ttl(Ttl::ZERO).blocking().unwrap();
            table.num_rows()
        }
        other => panic!("unknown case {other}"),
    };
    let seconds = start.elapsed().as_secs_f64();
    println!("{baseline} {} {rows} {seconds:.3}", peak_kib());
}

fn run_child(case: &str, url: &str, sql: &str) -> Measured {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--child", case, url, sql])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{case}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let fields: Vec<&str> = text.split_whitespace().collect();
    Measured {
        baseline_kib: fields[0].parse().unwrap(),
        peak_kib: fields[1].parse().unwrap(),
        rows: fields[2].parse().unwrap(),
        seconds: fields[3].parse().unwrap(),
    }
}

/// Creates the table of `rows` rows unless it exists.
fn ensure_table(url: &str, rows: usize) {
    let conn = connect(url);
    let name = table_name(rows);
    let start = Instant::now();
    conn.execute(format!(
        "CREATE TABLE IF NOT EXISTS {name} AS SELECT g::int8 AS id, (g % 1000)::int4 AS k, \
         g * 0.25::float8 AS x, md5(g::text) AS s FROM generate_series(1, {rows}) g"
    ))
    .blocking()
    .unwrap();
    eprintln!(
        "table {name} ready ({:.1} s)",
        start.elapsed().as_secs_f64()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        child(&args[1], &args[2], &args[3]);
        return;
    }
    let url = args.first().expect("URL").clone();
    let rows: usize = args.get(1).map_or(10_000_000, |r| r.parse().expect("ROWS"));
    let query_rows: usize = args.get(2).map_or(rows, |r| r.parse().expect("QUERY_ROWS"));
    ensure_table(&url, rows);
    let table = table_name(rows);
    let stream_sql = format!("SELECT * FROM {table}");
    let query_sql = if query_rows == rows {
        stream_sql.clone()
    } else {
        format!("SELECT * FROM {table} WHERE id <= {query_rows}")
    };
    let streamed = run_child("stream", &url, &stream_sql);
    let queried = run_child("query", &url, &query_sql);
    println!("case    rows        seconds   rows/s        peak RSS above baseline");
    for (case, m) in [("stream", &streamed), ("query", &queried)] {
        println!(
            "{case:<7} {:<11} {:<9.2} {:<13.0} {:.1} MiB (baseline {:.1} MiB)",
            m.rows,
            m.seconds,
            m.rows as f64 / m.seconds,
            m.above_mib(),
            m.baseline_kib as f64 / 1024.0
        );
    }
    let per_row = |m: &Measured| m.above_mib() / m.rows as f64;
    println!(
        "query/stream peak: {:.1}x ({:.1}x per row); stream within 64 MiB of baseline: {}",
        queried.above_mib() / streamed.above_mib(),
        per_row(&queried) / per_row(&streamed),
        if streamed.above_mib() <= 64.0 {
            "yes"
        } else {
            "NO"
        }
    );
    assert_eq!(streamed.rows, rows, "the stream read every row");
    assert_eq!(queried.rows, query_rows, "query() read every row");
}
