//! `SELECT *` of a table into a conn Table, for `scripts/bench-sql` (PostgreSQL, MySQL or
//! MariaDB, SQLite: the URL says which).
//!
//! Usage: sql_select URL SQL RUNS. Connects once, runs the query RUNS times without the
//! result cache, prints the best time in seconds, the rows and the CPU seconds of the RUNS
//! queries (every thread of the process); the driver script reads the peak memory.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use conn::Ttl;
use conn::sql::SqlConnection;

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("URL");
    let sql = args.next().expect("SQL");
    let runs: usize = args.next().map_or(3, |r| r.parse().expect("RUNS"));
    let factory = conn_benches::factory("");
    let conn = factory
        .connection("bench")
        .option("url", url.as_str())
        .get::<SqlConnection>()
        .unwrap();
    conn.query("SELECT 1").ttl(Ttl::ZERO).blocking().unwrap();
    let mut best = f64::INFINITY;
    let mut rows = 0;
    let cpu = process_cpu_seconds();
    for _ in 0..runs {
        let start = Instant::now();
        let table = conn.query(sql.as_str()).ttl(Ttl::ZERO).blocking().unwrap();
        best = best.min(start.elapsed().as_secs_f64());
        rows = table.num_rows();
        drop(table);
    }
    println!("{best:.6} {rows} {:.6}", process_cpu_seconds() - cpu);
}

/// User and system CPU seconds of this process so far, every thread (fields 14 and 15
/// of `/proc/self/stat`, in clock ticks of 1/100 s).
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // The command name may hold spaces: fields are counted after its closing ')'.
    let after = &stat[stat.rfind(')').expect("stat has a command name") + 2..];
    let ticks: u64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|f| f.parse::<u64>().expect("a tick count"))
        .sum();
    ticks as f64 / 100.0
}
