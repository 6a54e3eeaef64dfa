//! The `snowflake` connection type of conn: Streamlit's `SnowflakeConnection`.
//!
//! conn speaks Snowflake's REST protocol itself (login, query with binds, polling,
//! chunk download, token renewal) on reqwest, and turns Snowflake's raw Arrow into
//! proper Arrow types. See `docs/snowflake.md`.
#![deny(missing_docs)]

mod arrow;
