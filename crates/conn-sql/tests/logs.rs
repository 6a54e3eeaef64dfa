//! Secrets never reach logs: everything conn and sqlx log at TRACE level, through a
//! connect, queries, a terminated backend and its retry, is captured and searched.
//! (Its own test binary: it installs the global tracing subscriber.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{POSTGRES_VAR, PgScratch, Project};
use conn_core::Ttl;

#[test]
fn no_secret_in_any_log_line() {
    let Some(base) = conn_testkit::server_url(POSTGRES_VAR, "PostgreSQL") else {
        return;
    };
    let captured = conn_testkit::CapturedLog::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let scratch = PgScratch::new(&base);
    let secret = "Log-S3cret-789";
    // Trust authentication accepts any password, so the URL can carry one.
    let url = scratch
        .url
        .replacen("postgres@", &format!("postgres:{secret}@"), 1);
    let project = Project::new(&format!(
        "[connections.pg]\ntype = \"sql\"\nurl = \"{url}\"\nretry = {{ wait = \"10ms\" }}\n\
         create_engine_kwargs = {{ pool_pre_ping = false }}\n"
    ));
    let conn = project.sql("pg");
    let pid = conn
        .query("SELECT pg_backend_pid() AS pid")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(i32,)>()
        .unwrap()[0]
        .0;
    scratch
        .admin()
        .query("SELECT pg_terminate_backend(:pid) AS done")
        .param("pid", pid)
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    conn.query("SELECT 1 AS one").blocking().unwrap();
    conn.query("SELECT 1 AS one").blocking().unwrap();
    let _ = conn.query("SELEC broken").blocking();

    let logs = captured.text();
    for event in ["conn.connect", "conn.retry", "conn.query", "conn.reset"] {
        assert!(logs.contains(event), "no {event} in the logs:\n{logs}");
    }
    assert!(!logs.contains(secret), "a secret in the logs:\n{logs}");
    assert!(!logs.contains("Log-S3cret"), "part of a secret in the logs");
}
