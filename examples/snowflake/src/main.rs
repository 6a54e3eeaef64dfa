//! Runs the Snowflake tour on `[connections.snowflake]` (secrets.toml) or the default
//! connection of `~/.snowflake/connections.toml`.
//!
//! Run with `cargo run -p snowflake-example`.
#![allow(clippy::print_stdout)]

use conn::snowflake::SnowflakeConnection;

fn main() -> conn::Result<()> {
    let conn = conn::connection::<SnowflakeConnection>("snowflake")?;
    print!("{}", snowflake_example::tour(&conn)?);
    Ok(())
}
