//! A write whose call is dropped (a time limit, a caller that gave up) clears the
//! cache when its work ends, not when its future is dropped. (Found by review: the
//! guard cleared and opened the gate at the drop.) The work
//! may go on (a blocking closure cannot be stopped; a server may finish a statement
//! whose cancel comes too late) and commit afterwards; a read between the clear and
//! that commit stores the old value, which is then served after the write's effect is
//! visible, until its ttl.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::memory;

use std::sync::mpsc;

use conn_core::Ttl;
use conn_core::arrow::array::AsArray;
use conn_core::arrow::datatypes::Int64Type;
use conn_duckdb::DuckDbConnection;

fn count(conn: &DuckDbConnection, sql: &str, ttl: Ttl) -> i64 {
    let read = conn.query(sql).ttl(ttl).blocking().unwrap();
    read.column("n")
        .unwrap()
        .as_primitive::<Int64Type>()
        .value(0)
}

/// Found by review (stale read): a `with_raw` call is dropped while its work still runs;
/// the guard clears the cache at once; a cached read then stores the count from before
/// the work's INSERT, and keeps serving it after the INSERT committed.
#[test]
fn a_write_that_outlives_its_dropped_call_still_invalidates_the_cache() {
    let (_dir, conn) = memory();
    conn.execute_batch("CREATE TABLE t (v BIGINT); INSERT INTO t VALUES (1)")
        .blocking()
        .unwrap();
    let cached = "SELECT count(*)::BIGINT AS n FROM t";
    assert_eq!(count(&conn, cached, Ttl::Forever), 1);

    let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
    let (release, release_rx) = mpsc::channel::<()>();
    let (done_tx, done) = mpsc::channel();
    let call = conn.with_raw(move |raw| {
        started_tx.send(()).unwrap();
        release_rx.recv().unwrap();
        let outcome = raw.execute("INSERT INTO t VALUES (2)", []);
        done_tx.send(outcome.is_ok()).unwrap();
        outcome
    });
    // The caller gives up (as a time limit does) once the work has started.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        tokio::select! {
            outcome = call => panic!("the work cannot end before it is released: {outcome:?}"),
            _ = started => {}
        }
    });

    // Between the (premature) clear and the commit: a read stores the old count.
    assert_eq!(count(&conn, cached, Ttl::Forever), 1);
    release.send(()).unwrap();
    let inserted = done.recv().unwrap();
    let fresh = count(
        &conn,
        "SELECT count(*)::BIGINT AS n FROM t WHERE true",
        Ttl::ZERO,
    );
    assert_eq!(fresh, if inserted { 2 } else { 1 });
    assert_eq!(
        count(&conn, cached, Ttl::Forever),
        fresh,
        "the cache serves a count from before a write whose effect is visible"
    );
}
