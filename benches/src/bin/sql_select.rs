//! `SELECT *` of a table into a conn Table, for `scripts/bench-sql` (PostgreSQL, MySQL or
//! MariaDB, SQLite: the URL says which).
//!
//! Usage: sql_select URL SQL RUNS. Connects once, runs the query RUNS times without the
//! result cache, prints the best time in seconds and the rows; the driver script reads
//! the process's CPU time and peak memory.
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
    for _ in 0..runs {
        let start = Instant::now();
        let table = conn.query(sql.as_str()).ttl(Ttl::ZERO).blocking().unwrap();
        best = best.min(start.elapsed().as_secs_f64());
        rows = table.num_rows();
        drop(table);
    }
    println!("{best:.6} {rows}");
}
