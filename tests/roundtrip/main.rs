//! The differential round-trip suite: generated tables are written with `Create` to
//! each backend, read back with a small batch size, and compared with what the backend
//! must give back after its documented differences (docs/roundtrip.md).
//!
//! `CONN_ROUNDTRIP_CASES` sets the cases per backend (default 200), `CONN_ROUNDTRIP_SEED`
//! the seed (default fixed, so CI runs are reproducible). `scripts/roundtrip [CASES]`
//! runs a long one and prints the figures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::needless_pass_by_value,
    missing_docs
)]

mod arrays;
mod duck;
mod files;
mod model;
mod runner;
mod sql;
mod tables;

#[test]
fn postgres() {
    if let Some(backend) = sql::SqlBackend::postgres() {
        runner::run(&backend);
    }
}

#[test]
fn mariadb() {
    if let Some(backend) = sql::SqlBackend::mysql() {
        runner::run(&backend);
    }
}

#[test]
fn sqlite() {
    runner::run(&sql::SqlBackend::sqlite());
}

#[test]
fn duckdb() {
    runner::run(&duck::DuckBackend::new());
}

#[test]
fn files_csv() {
    runner::run(&files::FilesBackend::new(files::Kind::Csv));
}

#[test]
fn files_parquet() {
    runner::run(&files::FilesBackend::new(files::Kind::Parquet));
}

#[test]
fn files_jsonl() {
    runner::run(&files::FilesBackend::new(files::Kind::JsonLines));
}
