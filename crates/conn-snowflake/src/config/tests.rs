//! Where the settings come from, in the original's order, and what bad ones say.

use std::path::Path;

use conn_core::{ConnectionConfig, Env, KeyFindingKind};

use super::{Login, Settings, merged, spcs};

/// A configuration as the factory would resolve it: `toml` is the connection's
/// secrets section (empty for none), `vars` the environment.
fn config(name: &str, toml: &str, vars: &[(&str, &str)]) -> ConnectionConfig {
    let text = if toml.is_empty() {
        String::new()
    } else {
        format!("[connections.{name}]\n{toml}")
    };
    let secrets =
        conn_core::Secrets::from_toml_str(&text, "/app/.streamlit/secrets.toml", None).unwrap();
    let values = secrets
        .value(&format!("connections.{name}"))
        .and_then(|v| v.as_table().cloned())
        .unwrap_or_default();
    ConnectionConfig::new(name, "snowflake", values).with_env(Env::from_pairs(vars.iter().copied()))
}

fn settings(config: &ConnectionConfig) -> conn_core::Result<Settings> {
    Settings::from_config(&merged(config)?)
}

fn private_file(dir: &Path, name: &str, text: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn a_secrets_section_alone_configures_the_connection() {
    let c = config(
        "wh",
        "account = \"xy12345.us-east-2.aws\"\nuser = \"ada\"\npassword = \"hunter2\"\nwarehouse = \"W\"\n",
        &[],
    );
    let s = settings(&c).unwrap();
    assert_eq!(s.account_name, "XY12345");
    assert_eq!(
        s.base_url,
        "https://xy12345.us-east-2.aws.snowflakecomputing.com:443"
    );
    assert_eq!(s.warehouse.as_deref(), Some("W"));
    assert!(matches!(s.auth, Login::Password(_)));
    let shown = format!("{s:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn the_name_snowflake_without_secrets_uses_the_default_connection() {
    let home = tempfile::tempdir().unwrap();
    private_file(
        home.path(),
        "connections.toml",
        "[default]\naccount = \"acc_default\"\nuser = \"u\"\npassword = \"p\"\n\n[other]\naccount = \"acc_other\"\nuser = \"u\"\npassword = \"p\"\n\n[chosen]\naccount = \"acc_chosen\"\nuser = \"u\"\npassword = \"p\"\n",
    );
    let dir = home.path().to_str().unwrap();
    let plain = settings(&config("snowflake", "", &[("SNOWFLAKE_HOME", dir)])).unwrap();
    assert_eq!(plain.account, "acc_default");

    private_file(
        home.path(),
        "config.toml",
        "default_connection_name = \"chosen\"\n",
    );
    let from_config_toml = settings(&config("snowflake", "", &[("SNOWFLAKE_HOME", dir)])).unwrap();
    assert_eq!(from_config_toml.account, "acc_chosen");

    let from_var = settings(&config(
        "snowflake",
        "",
        &[
            ("SNOWFLAKE_HOME", dir),
            ("SNOWFLAKE_DEFAULT_CONNECTION_NAME", "other"),
        ],
    ))
    .unwrap();
    assert_eq!(from_var.account, "acc_other");

    // Another name without secrets reads its own section.
    let named = settings(&config("other", "", &[("SNOWFLAKE_HOME", dir)])).unwrap();
    assert_eq!(named.account, "acc_other");
}

#[test]
fn connection_name_merges_a_section_under_the_secrets() {
    let home = tempfile::tempdir().unwrap();
    private_file(
        home.path(),
        "connections.toml",
        "[prod]\naccount = \"acc_prod\"\nuser = \"file_user\"\npassword = \"file_pw\"\nrole = \"R\"\n",
    );
    let dir = home.path().to_str().unwrap();
    let c = config(
        "wh",
        "connection_name = \"prod\"\nuser = \"secret_user\"\n",
        &[("SNOWFLAKE_HOME", dir)],
    );
    let s = settings(&c).unwrap();
    assert_eq!(s.account, "acc_prod");
    assert_eq!(s.user, "secret_user", "the secrets win");
    assert_eq!(s.role.as_deref(), Some("R"));

    let missing = config(
        "wh",
        "connection_name = \"nope\"\n",
        &[("SNOWFLAKE_HOME", dir)],
    );
    let err = settings(&missing).unwrap_err().to_string();
    assert!(
        err.contains("no connection \"nope\"") && err.contains("it has: prod"),
        "{err}"
    );
    assert!(err.contains("connections.toml"), "{err}");
}

#[test]
fn a_value_from_connections_toml_is_named_with_its_file_and_line_in_errors() {
    let home = tempfile::tempdir().unwrap();
    private_file(
        home.path(),
        "connections.toml",
        "[default]\naccount = \"a\"\nuser = \"u\"\npassword = \"p\"\nport = \"eighty\"\n",
    );
    let dir = home.path().to_str().unwrap();
    let err = settings(&config("snowflake", "", &[("SNOWFLAKE_HOME", dir)]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("port"), "{err}");
    assert!(err.contains("connections.toml:5"), "{err}");
}

#[test]
fn snowflake_connections_holds_the_whole_file() {
    let c = config(
        "snowflake",
        "",
        &[
            (
                "SNOWFLAKE_CONNECTIONS",
                "[default]\naccount = \"from_var\"\nuser = \"u\"\npassword = \"p\"\n",
            ),
            ("HOME", "/nonexistent"),
        ],
    );
    assert_eq!(settings(&c).unwrap().account, "from_var");
}

#[test]
fn a_file_others_may_write_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("connections.toml");
    std::fs::write(&path, "[default]\naccount = \"a\"\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let dir = home.path().to_str().unwrap();
    let err = settings(&config("snowflake", "", &[("SNOWFLAKE_HOME", dir)]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("may be changed by other users (mode 666)"),
        "{err}"
    );
    assert!(err.contains("chmod 600"), "{err}");
}

#[test]
fn nothing_configured_says_where_to_configure() {
    let c = config("snowflake", "", &[("HOME", "/nonexistent")]);
    let err = settings(&c).unwrap_err().to_string();
    assert!(
        err.contains("Missing Snowflake connection configuration"),
        "{err}"
    );
    assert!(err.contains("connections.toml"), "{err}");
}

#[test]
fn unknown_keys_get_a_suggestion_and_ignored_keys_are_noted() {
    let c = config(
        "wh",
        "account = \"a\"\nuser = \"u\"\npassword = \"p\"\nwarehose = \"W\"\n",
        &[],
    );
    let err = settings(&c).unwrap_err().to_string();
    assert!(
        err.contains("warehose") && err.contains("warehouse"),
        "{err}"
    );

    let c = config(
        "wh",
        "account = \"a\"\nuser = \"u\"\npassword = \"p\"\nocsp_fail_open = true\n",
        &[],
    );
    let merged = merged(&c).unwrap();
    Settings::from_config(&merged).unwrap();
    let findings = merged.findings();
    assert!(
        findings.iter().any(|f| f.key == "ocsp_fail_open"
            && matches!(&f.kind, KeyFindingKind::Ignored { reason } if reason.contains("OCSP"))),
        "{findings:?}"
    );
}

#[test]
fn each_way_of_logging_in_is_chosen_by_its_keys() {
    let key = config(
        "wh",
        "account = \"a\"\nuser = \"u\"\nprivate_key_file = \"/k.p8\"\n",
        &[],
    );
    assert!(matches!(
        settings(&key).unwrap().auth,
        Login::KeyPair { .. }
    ));
    let oauth = config(
        "wh",
        "account = \"a\"\nauthenticator = \"oauth\"\ntoken = \"t0k\"\n",
        &[],
    );
    let s = settings(&oauth).unwrap();
    assert!(matches!(s.auth, Login::OAuth(_)));
    assert_eq!(s.auth.authenticator(), Some("OAUTH"));
    let pat = config(
        "wh",
        "account = \"a\"\nuser = \"u\"\nauthenticator = \"PROGRAMMATIC_ACCESS_TOKEN\"\ntoken_file_path = \"/t\"\n",
        &[],
    );
    assert!(matches!(
        settings(&pat).unwrap().auth,
        Login::ProgrammaticAccessToken(_)
    ));

    let browser = config(
        "wh",
        "account = \"a\"\nuser = \"u\"\nauthenticator = \"externalbrowser\"\n",
        &[],
    );
    let err = settings(&browser).unwrap_err().to_string();
    assert!(err.contains("\"externalbrowser\" needs a person"), "{err}");
    assert!(
        err.contains("snowflake_jwt")
            && err.contains("oauth")
            && err.contains("programmatic_access_token"),
        "{err}"
    );

    let none = config("wh", "account = \"a\"\nuser = \"u\"\n", &[]);
    let err = settings(&none).unwrap_err().to_string();
    assert!(err.contains("password"), "{err}");
}

#[test]
fn http_and_port_for_a_test_peer() {
    let c = config(
        "wh",
        "account = \"a\"\nuser = \"u\"\npassword = \"p\"\nhost = \"127.0.0.1\"\nport = 8123\nprotocol = \"http\"\nquery_timeout = 2.5\n",
        &[],
    );
    let s = settings(&c).unwrap();
    assert_eq!(s.base_url, "http://127.0.0.1:8123");
    assert_eq!(s.query_timeout.map(|(d, _)| d.as_millis()), Some(2500));
    let bad = config(
        "wh",
        "account = \"a\"\nuser = \"u\"\npassword = \"p\"\nprotocol = \"ftp\"\n",
        &[],
    );
    assert!(
        settings(&bad)
            .unwrap_err()
            .to_string()
            .contains("\"https\" or \"http\"")
    );
}

#[test]
fn a_container_supplies_account_host_and_token() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "container-token").unwrap();
    let env = Env::from_pairs([
        ("SNOWFLAKE_ACCOUNT", "acc"),
        ("SNOWFLAKE_HOST", "acc.internal"),
    ]);
    let layer = spcs::layer(&env, &token, &conn_core::Map::new());
    let c = ConnectionConfig::new("snowflake", "snowflake", layer);
    let s = Settings::from_config(&c).unwrap();
    assert_eq!(s.base_url, "https://acc.internal:443");
    assert!(matches!(s.auth, Login::OAuth(_)));
    // Outside a container (no token file) nothing comes from it.
    assert!(spcs::layer(&env, &dir.path().join("missing"), &conn_core::Map::new()).is_empty());
}

#[test]
fn region_builds_the_host_as_the_connector_does() {
    let host = |account: &str, region: &str| {
        let c = config(
            "wh",
            &format!(
                "account = \"{account}\"\nregion = \"{region}\"\nuser = \"u\"\npassword = \"p\"\n"
            ),
            &[],
        );
        settings(&c).unwrap().base_url
    };
    assert_eq!(
        host("xy12345", "eu-central-1"),
        "https://xy12345.eu-central-1.snowflakecomputing.com:443"
    );
    assert_eq!(
        host("xy12345", "us-west-2"),
        "https://xy12345.snowflakecomputing.com:443"
    );
    assert_eq!(
        host("xy12345.eu-central-1", "us-west-2"),
        "https://xy12345.eu-central-1.snowflakecomputing.com:443"
    );
    assert_eq!(
        host("xy12345.old-region", "ap-south-1.aws"),
        "https://xy12345.ap-south-1.aws.snowflakecomputing.com:443"
    );
}

#[test]
fn options_alone_do_not_read_connections_toml() {
    let home = tempfile::tempdir().unwrap();
    private_file(
        home.path(),
        "connections.toml",
        "[wh]\naccount = \"from_file\"\nuser = \"u\"\npassword = \"p\"\n",
    );
    let dir = home.path().to_str().unwrap();
    // A connection with configuration of its own (here: from the secrets file) uses it
    // alone, as the original does; connection_name brings a section in.
    let own = config(
        "wh",
        "account = \"own\"\nuser = \"u\"\npassword = \"p\"\n",
        &[("SNOWFLAKE_HOME", dir)],
    );
    assert_eq!(settings(&own).unwrap().account, "own");
    let none = config("wh", "", &[("SNOWFLAKE_HOME", dir)]);
    assert_eq!(settings(&none).unwrap().account, "from_file");
}
