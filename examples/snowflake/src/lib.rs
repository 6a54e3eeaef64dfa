//! The Snowflake rows of Streamlit's connection docs, in Rust: `query` with a ttl and
//! parameters, `reset`, a `session` (a transaction of its own) and `write_table`
//! (Streamlit's `write_pandas`).
//!
//! Run with `cargo run -p snowflake-example` after naming a Snowflake account in
//! `~/.snowflake/connections.toml` (`[default]`) or in `.streamlit/secrets.toml`
//! (`[connections.snowflake]`); `tests/peer.rs` runs it against the test peer.
#![deny(missing_docs)]

use std::fmt::Write as _;
use std::time::Duration;

use conn::snowflake::{SnowflakeConnection, WriteMode};
use conn::{Table, Ttl};

/// Runs the docs' steps on `conn` and returns what they printed.
pub fn tour(conn: &SnowflakeConnection) -> conn::Result<String> {
    let mut out = String::new();

    // write_pandas(df, "PET_OWNERS"): a table from Arrow, created in one go.
    let owners = Table::from_batch(
        conn::arrow::array::RecordBatch::try_from_iter([
            (
                "person",
                std::sync::Arc::new(conn::arrow::array::StringArray::from(vec![
                    "jerry", "barbara", "alex",
                ])) as conn::arrow::array::ArrayRef,
            ),
            (
                "pet",
                std::sync::Arc::new(conn::arrow::array::StringArray::from(vec![
                    "fish", "cat", "puppy",
                ])),
            ),
        ])
        .map_err(|e| conn::Error::Data(e.to_string()))?,
    );
    let written = conn
        .write_table("pet_owners", &owners, WriteMode::Replace)
        .blocking()?;
    let _ = writeln!(out, "wrote {written} rows");

    // conn.query("select * from pet_owners", ttl=600): cached for ten minutes.
    let all = conn
        .query("select * from pet_owners order by person")
        .ttl(Ttl::After(Duration::from_secs(600)))
        .blocking()?;
    let _ = writeln!(out, "{all}");

    // conn.query(sql, params=[...]): positional parameters.
    let cats = conn
        .query("select person from pet_owners where pet = ?")
        .bind("cat")
        .blocking()?;
    let _ = writeln!(out, "{cats}");

    // conn.reset(): a new session on next use (cached results are dropped).
    conn.reset();

    // conn.session(): a session of its own; dropping it uncommitted rolls back.
    let mut session = conn.session().blocking()?;
    session
        .execute("insert into pet_owners values (?, ?)")
        .bind("grace")
        .bind("parrot")
        .blocking()?;
    session.commit().blocking()?;
    let count = conn
        .query("select count(*) as owners from pet_owners")
        .ttl(Ttl::ZERO)
        .blocking()?;
    let _ = writeln!(out, "{count}");
    Ok(out)
}
