//! Each way of logging in, as the peer receives it: password, key pair (plain and
//! encrypted PKCS#8, the JWT verified by the peer against the public key), OAuth token
//! and programmatic access token (value and file); settings from connections.toml.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use conn_core::ErrorKind;
use conn_snowflake::SnowflakeConnection;
use serde_json::Value;

use common::{Setup, factory};

fn data(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The one login body the peer received.
fn login_body(setup: &Setup) -> Value {
    let logins = setup.records("logins");
    assert_eq!(logins.len(), 1, "{logins:?}");
    logins[0]["body"]["data"].clone()
}

fn connect(setup: &Setup, auth_keys: &str) -> conn_core::Result<()> {
    let secrets = format!(
        "[connections.sf]\ntype = \"snowflake\"\n{}{auth_keys}\n",
        setup.keys()
    );
    let conn = factory(setup.dir.path(), &secrets, &[]).get::<SnowflakeConnection>("sf")?;
    conn.query("select 1").blocking().map(drop)
}

#[test]
fn password_login_sends_account_user_password_and_where_to_start() {
    let Some(setup) = Setup::start() else { return };
    connect(
        &setup,
        "password = \"pw-1\"\nrole = \"ANALYST\"\nwarehouse = \"WH\"",
    )
    .unwrap();
    let body = login_body(&setup);
    assert_eq!(body["ACCOUNT_NAME"], "XY12345");
    assert_eq!(body["LOGIN_NAME"], "ada");
    assert_eq!(body["PASSWORD"], "pw-1");
    assert!(body.get("AUTHENTICATOR").is_none(), "{body}");
    let query = &setup.records("logins")[0]["query"];
    assert_eq!(query["roleName"], "ANALYST");
    assert_eq!(query["warehouse"], "WH");
    assert_eq!(query["databaseName"], "DB1");
}

#[test]
fn a_wrong_password_is_an_authentication_error_without_the_password() {
    let Some(setup) = Setup::start() else { return };
    setup.peer.control(
        "/conn-test/set_password",
        r#"{"user": "ada", "password": "right"}"#,
    );
    let err = connect(&setup, "password = \"Wrong-Pass-77\"").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Authentication, "{err}");
    let text = format!("{err} {err:?}");
    assert!(text.contains("390100"), "{text}");
    assert!(!text.contains("Wrong-Pass-77"), "{text}");
}

#[test]
fn key_pair_logins_are_verified_by_the_peer() {
    let Some(setup) = Setup::start() else { return };
    let public = std::fs::read_to_string(data("test_key.pub")).unwrap();
    let body = serde_json::json!({"user": "ada", "public_key_pem": public}).to_string();
    setup.peer.control("/conn-test/register_key", &body);
    connect(
        &setup,
        &format!("private_key_file = \"{}\"", data("test_key.p8")),
    )
    .unwrap();
    let login = login_body(&setup);
    assert_eq!(login["AUTHENTICATOR"], "SNOWFLAKE_JWT");
    assert!(
        login["TOKEN"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3),
        "{login}"
    );
    assert!(login.get("PASSWORD").is_none());

    // The encrypted key with its passphrase logs in too; with a wrong one it says so.
    connect(
        &setup,
        &format!(
            "authenticator = \"SNOWFLAKE_JWT\"\nprivate_key_file = \"{}\"\nprivate_key_file_pwd = \"correct-horse\"",
            data("test_key_encrypted.p8")
        ),
    )
    .unwrap();
    let err = connect(
        &setup,
        &format!(
            "private_key_file = \"{}\"\nprivate_key_file_pwd = \"Not-The-Pass\"",
            data("test_key_encrypted.p8")
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("passphrase") && !err.contains("Not-The-Pass"),
        "{err}"
    );
}

#[test]
fn a_key_the_server_does_not_know_is_refused() {
    let Some(setup) = Setup::start() else { return };
    // The peer knows another key for ada: ours does not verify.
    let other = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u\n+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyeh\nkd3qqGElvW/VDL5AaWTg0nLVkjRo9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ\n0iT9wCS0DRTXu269V264Vf/3jvredZiKRkgwlL9xNAwxXFg0x/XFw005UWVRIkdg\ncKWTjpBP2dPwVZ4WWC+9aGVd+Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbc\nmwIDAQAB\n-----END PUBLIC KEY-----\n";
    let body = serde_json::json!({"user": "ada", "public_key_pem": other}).to_string();
    setup.peer.control("/conn-test/register_key", &body);
    let err = connect(
        &setup,
        &format!("private_key_file = \"{}\"", data("test_key.p8")),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Authentication, "{err}");
    assert!(err.to_string().contains("390144"), "{err}");
}

#[test]
fn oauth_and_programmatic_tokens_are_sent_with_their_authenticator() {
    let Some(setup) = Setup::start() else { return };
    connect(
        &setup,
        "authenticator = \"oauth\"\ntoken = \"OAuth-T0ken-1\"",
    )
    .unwrap();
    let login = login_body(&setup);
    assert_eq!(login["AUTHENTICATOR"], "OAUTH");
    assert_eq!(login["TOKEN"], "OAuth-T0ken-1");

    setup.peer.control("/conn-test/reset", "{}");
    let token_file = setup.dir.path().join("pat");
    std::fs::write(&token_file, "PAT-T0ken-2\n").unwrap();
    connect(
        &setup,
        &format!(
            "authenticator = \"programmatic_access_token\"\ntoken_file_path = \"{}\"",
            token_file.display()
        ),
    )
    .unwrap();
    let login = login_body(&setup);
    assert_eq!(login["AUTHENTICATOR"], "PROGRAMMATIC_ACCESS_TOKEN");
    assert_eq!(login["TOKEN"], "PAT-T0ken-2", "read from the file, trimmed");
}

/// `st.connection("snowflake")` without secrets: the default connection of
/// connections.toml in $SNOWFLAKE_HOME, end to end.
#[test]
fn the_default_connection_of_connections_toml() {
    let Some(setup) = Setup::start() else { return };
    let home = setup.dir.path().join("snowflake-home");
    std::fs::create_dir_all(&home).unwrap();
    let file = home.join("connections.toml");
    std::fs::write(
        &file,
        format!("[default]\n{}password = \"from-file\"\n", setup.keys()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let factory = factory(
        setup.dir.path(),
        "",
        &[("SNOWFLAKE_HOME", home.to_str().unwrap())],
    );
    let conn = factory.get_dyn("snowflake").unwrap();
    assert_eq!(conn.type_name(), "snowflake");
    let conn = conn.downcast::<SnowflakeConnection>().unwrap();
    conn.query("select 1").blocking().unwrap();
    assert_eq!(login_body(&setup)["PASSWORD"], "from-file");
}
