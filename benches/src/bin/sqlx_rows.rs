//! The driver's own cost under conn-sql: `SELECT *` through sqlx (MySQL or SQLite) as a
//! prepared statement (MySQL's binary protocol, as conn-sql runs it), each row fetched and
//! dropped, no value decoded. Compared with `sql_select` on the same query it splits
//! conn's time into the driver's row delivery and conn's decoding and batch building
//! (see benches/README.md).
//!
//! Usage: sqlx_rows URL SQL RUNS, with URL in sqlx's form (`mysql://...`,
//! `sqlite:///abs/file.db`). Prints the best time in seconds and the rows. With
//! `SQLITE_ROW_BUFFER=N`, sqlx's SQLite worker may run N rows ahead (its default is 50).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use futures::TryStreamExt;
use sqlx::{AssertSqlSafe, Connection};

/// Runs `$sql` `$runs` times on `$conn`, rows fetched and dropped; (best seconds, rows).
macro_rules! best_of {
    ($conn:expr, $sql:expr, $runs:expr) => {{
        let mut best = f64::INFINITY;
        let mut n = 0usize;
        for _ in 0..$runs {
            let start = Instant::now();
            n = 0;
            let mut rows = sqlx::query(AssertSqlSafe($sql.to_owned())).fetch(&mut $conn);
            while let Some(row) = rows.try_next().await.unwrap() {
                drop(row);
                n += 1;
            }
            best = best.min(start.elapsed().as_secs_f64());
        }
        (best, n)
    }};
}

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("URL");
    let sql = args.next().expect("SQL");
    let runs: usize = args.next().map_or(3, |r| r.parse().expect("RUNS"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (best, rows) = if url.starts_with("sqlite:") {
            // SQLITE_ROW_BUFFER: rows the worker thread may run ahead (sqlx's default 50).
            let mut options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
            if let Ok(size) = std::env::var("SQLITE_ROW_BUFFER") {
                options = options.row_buffer_size(size.parse().expect("SQLITE_ROW_BUFFER"));
            }
            let mut conn = sqlx::SqliteConnection::connect_with(&options)
                .await
                .unwrap();
            best_of!(conn, sql, runs)
        } else {
            let mut conn = sqlx::MySqlConnection::connect(&url).await.unwrap();
            best_of!(conn, sql, runs)
        };
        println!("{best:.6} {rows}");
    });
}
