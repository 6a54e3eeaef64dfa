//! `rowtype`: how Snowflake describes each result column.

use serde::Deserialize;

/// One entry of a query answer's `data.rowtype`. Lenient: every field may be missing
/// (test peers and older servers omit some).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Column {
    /// The column's name, as Snowflake spells it (upper case unless quoted).
    pub name: String,
    /// Snowflake's type name in lower case: `fixed`, `real`, `text`, `boolean`, `date`,
    /// `time`, `timestamp_ntz`, `timestamp_ltz`, `timestamp_tz`, `binary`, `variant`,
    /// `object`, `array`, and others (`geography`, `vector`, `map`...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Digits after the point (FIXED), or the fractional-second digits (TIME, TIMESTAMP).
    pub scale: Option<i64>,
    /// Total digits (FIXED).
    pub precision: Option<i64>,
    /// Whether the column may hold NULL.
    pub nullable: Option<bool>,
    /// Bytes (TEXT, BINARY).
    pub byte_length: Option<i64>,
    /// Characters (TEXT).
    pub length: Option<i64>,
}
