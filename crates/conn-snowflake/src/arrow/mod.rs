//! Snowflake's raw results (Arrow IPC or JSON rowsets, described by `rowtype`) into
//! proper Arrow types.

mod rowtype;

pub(crate) use rowtype::Column;
