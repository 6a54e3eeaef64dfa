//! Deserializing a [`Value`] and saying where inside it a failure happened.

use serde::de::DeserializeOwned;

use super::{Kind, Source, Value};

/// A deserialization failure with the path inside the value and that spot's source.
#[derive(Debug)]
pub(crate) struct PathError {
    /// Dotted path inside the value (`""` for the value itself).
    pub(crate) path: String,
    /// Source of the innermost value on the path that exists.
    pub(crate) source: Option<Source>,
    /// What went wrong.
    pub(crate) message: String,
}

/// Deserializes a value, reporting where inside it a failure happened.
pub(crate) fn deserialize_value<T: DeserializeOwned>(value: &Value) -> Result<T, PathError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path: Vec<String> = err
            .path()
            .iter()
            .filter_map(|segment| match segment {
                serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                serde_path_to_error::Segment::Enum { variant } => Some(variant.clone()),
                serde_path_to_error::Segment::Unknown => None,
            })
            .collect();
        let mut node = value;
        for key in &path {
            let next = match node.kind() {
                Kind::Table(map) => map.get(key),
                Kind::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            };
            match next {
                Some(next) => node = next,
                None => break,
            }
        }
        PathError {
            path: path.join("."),
            source: Some(node.source().clone()),
            message: err.into_inner().0,
        }
    })
}
