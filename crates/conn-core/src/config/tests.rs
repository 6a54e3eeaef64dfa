use serde::Deserialize;

use super::*;

fn config(text: &str) -> ConnectionConfig {
    ConnectionConfig::from_toml("pets_db", "sql", text, "/app/secrets.toml").unwrap()
}

#[test]
fn env_prefix_normalizes_the_name() {
    assert_eq!(env_prefix("pets_db"), "CONN_PETS_DB__");
    assert_eq!(env_prefix("my-db.prod"), "CONN_MY_DB_PROD__");
}

#[test]
fn env_layer_nests_on_double_underscores() {
    let env = Env::from_pairs([
        ("CONN_PETS_DB__URL", "sqlite:///x.db"),
        ("CONN_PETS_DB__CREATE_ENGINE_KWARGS__POOL_SIZE", "5"),
        ("CONN_PETS_DB__QUERY", "{ charset = \"utf8mb4\" }"),
        ("CONN_PETS_DBX__URL", "not mine"),
    ]);
    let layer = env_layer("pets_db", &env);
    assert_eq!(layer["url"].as_str(), Some("sqlite:///x.db"));
    assert_eq!(
        layer["create_engine_kwargs"]
            .get_path("pool_size")
            .and_then(Value::as_str),
        Some("5")
    );
    assert_eq!(
        layer["query"].get_path("charset").and_then(Value::as_str),
        Some("utf8mb4")
    );
    assert_eq!(
        layer["url"].source().to_string(),
        "environment variable CONN_PETS_DB__URL"
    );
    assert_eq!(layer.len(), 3);
}

#[test]
fn require_names_key_env_variable_and_files() {
    let err = config("").require::<String>("url").unwrap_err().to_string();
    assert_eq!(
        err,
        "connection \"pets_db\" (type sql) needs `url`: set it in [connections.pets_db], as \
         CONN_PETS_DB__URL, or as an option in code. No secrets found. Valid paths for a \
         secrets.toml file or secret directories are: "
    );
}

#[test]
fn deserialize_reports_the_key_and_line() {
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Conf {
        host: String,
        port: Option<u16>,
    }
    let err = config("host = \"h\"\nport = \"abc\"\n")
        .deserialize::<Conf>()
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "invalid `port` for connection \"pets_db\" at /app/secrets.toml:2:8: expected a \
         non-negative integer, found a string that is not one"
    );
    let err = config("port = 1\n")
        .deserialize::<Conf>()
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("connection \"pets_db\" (type sql) needs `host`"),
        "{err}"
    );
}

#[test]
fn unknown_keys_get_a_did_you_mean() {
    let err = config("url = \"x\"\npasword = \"y\"\n")
        .check_keys(&["url", "password", "username"])
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "unknown key `pasword` for connection \"pets_db\" (type sql) at \
         /app/secrets.toml:2:11; did you mean \"password\"? Known keys: connect_timeout, password, retry, timeout, url, username"
    );
    config("type = \"sql\"\nurl = \"x\"\n")
        .check_keys(&["url"])
        .unwrap();
}

#[test]
fn debug_shows_keys_not_values() {
    let text = format!("{:?}", config("password = \"hunter2\"\n"));
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("password"), "{text}");
}
