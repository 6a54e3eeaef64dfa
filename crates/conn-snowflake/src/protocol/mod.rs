//! The messages of Snowflake's REST protocol, as lenient serde structs: every field may
//! be missing (test peers and older servers omit some), and unknown fields are
//! ignored.

pub(crate) mod binds;

use std::collections::BTreeMap;

use conn_core::Secret;
use serde::{Deserialize, Deserializer};

use crate::arrow::Column;

/// "Still running": poll `getResultUrl`.
pub(crate) const QUERY_IN_PROGRESS: &str = "333333";
/// "Still running (asynchronous)": poll `getResultUrl`.
pub(crate) const QUERY_IN_PROGRESS_ASYNC: &str = "333334";
/// The session token expired: renew it with the master token.
pub(crate) const SESSION_EXPIRED: &str = "390112";
/// The master token expired: log in again.
pub(crate) const MASTER_TOKEN_EXPIRED: &str = "390114";
/// The session is gone (closed, or not found): log in again.
pub(crate) const SESSION_GONE: &str = "390111";
/// Tokens that are no longer valid.
pub(crate) const TOKEN_INVALID: &[&str] = &["390104", "390113", "390115"];

/// Every answer's envelope. `data` stays JSON until `success` says what it holds.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Answer {
    pub data: serde_json::Value,
    #[serde(deserialize_with = "text_or_number")]
    pub code: Option<String>,
    pub message: Option<String>,
    pub success: bool,
}

/// A failed answer's `data`: the query id and SQLSTATE when there are.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ErrorData {
    pub query_id: Option<String>,
    pub sql_state: Option<String>,
}

/// A successful login's `data`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct LoginData {
    pub token: Option<Secret>,
    pub master_token: Option<Secret>,
    pub session_id: Option<serde_json::Value>,
    pub parameters: Vec<Parameter>,
}

/// A token renewal's `data`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct RenewData {
    pub session_token: Option<Secret>,
    pub master_token: Option<Secret>,
}

/// One session parameter the server reports (`TIMEZONE`, ...).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Parameter {
    pub name: String,
    pub value: serde_json::Value,
}

/// A query answer's `data`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct QueryData {
    pub query_id: Option<String>,
    pub get_result_url: Option<String>,
    pub rowtype: Vec<Column>,
    /// A JSON rowset: rows of text or NULL.
    pub rowset: Option<Vec<Vec<serde_json::Value>>>,
    /// An Arrow IPC stream, base64.
    pub rowset_base64: Option<String>,
    pub query_result_format: Option<String>,
    pub total: Option<u64>,
    pub chunks: Vec<ChunkInfo>,
    pub chunk_headers: Option<BTreeMap<String, String>>,
    pub qrmk: Option<String>,
    pub parameters: Vec<Parameter>,
    pub statement_type_id: Option<i64>,
}

/// One result chunk to download.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ChunkInfo {
    pub url: String,
    pub row_count: u64,
}

impl QueryData {
    /// Whether the result is Arrow (the server's default) rather than JSON.
    pub fn is_arrow(&self) -> bool {
        match self.query_result_format.as_deref() {
            Some(format) => format.eq_ignore_ascii_case("arrow"),
            None => self.rowset_base64.is_some(),
        }
    }

    /// The session's TIMEZONE when this answer reports it.
    pub fn timezone(&self) -> Option<String> {
        timezone(&self.parameters)
    }
}

/// The TIMEZONE parameter among `parameters`.
pub(crate) fn timezone(parameters: &[Parameter]) -> Option<String> {
    parameters
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case("TIMEZONE"))
        .and_then(|p| p.value.as_str())
        .map(str::to_owned)
}

/// A JSON rowset cell as text (`None` for NULL); numbers and booleans as the server
/// would have written them.
pub(crate) fn cell_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

/// Codes come as text (`"390112"`) or as numbers.
fn text_or_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(text) => Some(text),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}
