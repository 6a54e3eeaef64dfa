//! Configuration errors: a key missing, misspelled or wrong, each naming the connection,
//! the key and where its value came from.

use std::path::PathBuf;

use super::describe_files;
use crate::suggest::sentence_end;
use crate::value::Source;

/// A connection's configuration is incomplete or wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The connection is not defined anywhere and nothing says what type it is.
    #[error("{}", describe_not_configured(self))]
    NotConfigured {
        /// The connection name.
        connection: String,
        /// The environment variable prefix that would define it.
        env_prefix: String,
        /// Secrets locations looked at.
        searched: Vec<PathBuf>,
        /// Secrets locations that were read.
        loaded: Vec<PathBuf>,
        /// A defined connection with a near name.
        suggestion: Option<String>,
        /// A misspelled section holding this connection: `[connection.pets_db]` at ...
        misspelled_section: Option<(String, Source)>,
    },

    /// The connection is configured but says nothing of its type.
    #[error(
        "cannot infer the connection type of \"{connection}\": add type = \"...\" to \
         [connections.{connection}]{at}, set {env_prefix}TYPE, or ask for a type in code. \
         Registered types: {registered}",
        at = section.as_ref().map(|s| format!(" ({s})")).unwrap_or_default(),
        registered = registered.join(", ")
    )]
    NoType {
        /// The connection name.
        connection: String,
        /// Where its section starts, if it has one.
        section: Option<Source>,
        /// The environment variable prefix.
        env_prefix: String,
        /// Every registered type name, sorted.
        registered: Vec<String>,
    },

    /// A required key is missing.
    #[error(
        "connection \"{connection}\" (type {type_name}) needs `{key}`{detail}: set it in \
         [connections.{connection}], as {env_prefix}{env_key}, or as an option in code. {files}",
        env_key = key.to_uppercase().replace('.', "__"),
        files = describe_files(searched, loaded)
    )]
    MissingKey {
        /// The connection name.
        connection: String,
        /// Its type.
        type_name: String,
        /// The missing key.
        key: String,
        /// More about the key (", or `url`", ...), may be empty.
        detail: String,
        /// The environment variable prefix.
        env_prefix: String,
        /// Secrets locations looked at.
        searched: Vec<PathBuf>,
        /// Secrets locations that were read.
        loaded: Vec<PathBuf>,
    },

    /// A value has the wrong type or is out of range.
    #[error("invalid `{key}` for connection \"{connection}\" at {at}: {message}")]
    InvalidValue {
        /// The connection name.
        connection: String,
        /// The dotted key.
        key: String,
        /// Where the value came from.
        at: Source,
        /// What is wrong (never the value itself).
        message: String,
    },

    /// A key the connection type does not know.
    #[error(
        "unknown key `{key}` for connection \"{connection}\" (type {type_name}) at {at}{}Known \
         keys: {}",
        sentence_end(suggestion.as_deref()),
        known.join(", ")
    )]
    UnknownKey {
        /// The connection name.
        connection: String,
        /// Its type.
        type_name: String,
        /// The unknown key (dotted when nested).
        key: String,
        /// Where it was set.
        at: Source,
        /// The nearest known key.
        suggestion: Option<String>,
        /// Every key the type understands.
        known: Vec<String>,
    },
}

fn describe_not_configured(err: &ConfigError) -> String {
    let ConfigError::NotConfigured {
        connection,
        env_prefix,
        searched,
        loaded,
        suggestion,
        misspelled_section,
    } = err
    else {
        return String::new();
    };
    let mut text = format!("connection \"{connection}\" is not configured");
    if let Some((section, source)) = misspelled_section {
        text.push_str(&format!(
            ": found [{section}] at {source}; did you mean [connections.{connection}]? "
        ));
        text.push_str(&describe_files(searched, loaded));
        return text;
    } else if let Some(near) = suggestion {
        text.push_str(&format!(
            ": no [connections.{connection}] section; did you mean \"{near}\"?"
        ));
        text.push(' ');
        text.push_str(&describe_files(searched, loaded));
        return text;
    } else {
        text.push_str(&format!(
            ": add a [connections.{connection}] section with a `type` key, set \
             {env_prefix}TYPE and its other keys as environment variables, or ask for a \
             type in code"
        ));
    }
    text.push_str(". ");
    text.push_str(&describe_files(searched, loaded));
    text
}
