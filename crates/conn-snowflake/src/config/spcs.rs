//! Snowpark Container Services: a service's container gets `SNOWFLAKE_ACCOUNT`,
//! `SNOWFLAKE_HOST` (and database, schema, port, protocol) in its environment and an
//! OAuth token in a file that Snowflake rotates. When all of that is present it is the
//! lowest configuration layer, so an app in a container needs no secrets at all.

use std::path::Path;

use conn_core::{Env, Kind, Map, Source, Value};

/// Where the container's OAuth token is.
pub(crate) const TOKEN_FILE: &str = "/snowflake/session/token";

/// Keys that choose a way to log in: when the configuration has one, the container's
/// token is not used.
const AUTH_KEYS: &[&str] = &[
    "authenticator",
    "password",
    "private_key_file",
    "private_key",
    "token",
    "token_file_path",
];

/// The container's settings, or nothing outside a container (`token_file` is
/// [`TOKEN_FILE`] except in tests). `above` is what the higher layers set.
pub(crate) fn layer(env: &Env, token_file: &Path, above: &Map) -> Map {
    let mut layer = Map::new();
    let (Some(_), Some(_)) = (env.get("SNOWFLAKE_ACCOUNT"), env.get("SNOWFLAKE_HOST")) else {
        return layer;
    };
    if !token_file.is_file() {
        return layer;
    }
    for (var, key) in [
        ("SNOWFLAKE_ACCOUNT", "account"),
        ("SNOWFLAKE_HOST", "host"),
        ("SNOWFLAKE_DATABASE", "database"),
        ("SNOWFLAKE_SCHEMA", "schema"),
        ("SNOWFLAKE_PORT", "port"),
        ("SNOWFLAKE_PROTOCOL", "protocol"),
    ] {
        if let Some(value) = env.get(var).filter(|v| !v.is_empty()) {
            layer.insert(
                key.to_owned(),
                Value::new(Kind::String(value), Source::native(var)),
            );
        }
    }
    if AUTH_KEYS.iter().any(|key| above.contains_key(*key)) {
        return layer;
    }
    let origin = Source::native(&token_file.display().to_string());
    layer.insert(
        "authenticator".to_owned(),
        Value::new(Kind::String("oauth".to_owned()), origin.clone()),
    );
    layer.insert(
        "token_file_path".to_owned(),
        Value::new(Kind::String(token_file.display().to_string()), origin),
    );
    layer
}
