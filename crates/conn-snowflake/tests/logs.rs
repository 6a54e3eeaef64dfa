//! No secret in any log line, error or Debug output: everything conn, reqwest and hyper
//! log at TRACE level through logins of every kind, renewals, retries, chunk downloads
//! and failures is captured and searched. (Its own test binary: it installs the
//! global tracing subscriber.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use conn_core::Ttl;
use conn_snowflake::SnowflakeConnection;

use common::{PASSWORD, Setup, factory};

#[test]
fn no_secret_in_any_log_line_error_or_debug() {
    let Some(setup) = Setup::start() else { return };
    let captured = conn_testkit::CapturedLog::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let key = format!("{}/tests/data/test_key.p8", env!("CARGO_MANIFEST_DIR"));
    let public = std::fs::read_to_string(format!(
        "{}/tests/data/test_key.pub",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    setup.peer.control(
        "/conn-test/register_key",
        &serde_json::json!({"user": "keyuser", "public_key_pem": public}).to_string(),
    );
    let keys = setup.keys();
    let secrets = format!(
        "[connections.sf]\ntype = \"snowflake\"\n{keys}password = \"{PASSWORD}\"\n\n\
         [connections.jwt]\ntype = \"snowflake\"\n{}private_key_file = \"{key}\"\n\n\
         [connections.oauth]\ntype = \"snowflake\"\n{keys}authenticator = \"oauth\"\ntoken = \"OAuth-Secret-Tok\"\n\n\
         [connections.bad]\ntype = \"snowflake\"\n{}password = \"Bad-Secret-Pw\"\n",
        keys.replace("user = \"ada\"", "user = \"keyuser\""),
        keys.replace("user = \"ada\"", "user = \"mallory\""),
    );
    setup.peer.control(
        "/conn-test/set_password",
        r#"{"user": "mallory", "password": "other"}"#,
    );
    let factory = factory(setup.dir.path(), &secrets, &[]);
    let mut outputs = Vec::new();
    for name in ["sf", "jwt", "oauth"] {
        let conn = factory.get::<SnowflakeConnection>(name).unwrap();
        conn.query("select 1 as one")
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap();
        outputs.push(format!("{conn:?} {:?}", conn.client().blocking().unwrap()));
    }
    let conn = factory.get::<SnowflakeConnection>("sf").unwrap();
    // A renewal, a retried 503, a chunked result, a failing statement.
    setup.peer.control("/conn-test/expire_sessions", "{}");
    setup.control(
        r#"{"fail_next": {"count": 1, "status": 503}, "chunk_rows": 10, "chunk_mode": "qrmk"}"#,
    );
    conn.query("select seq4() as n from table(generator(rowcount => 50))")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    let err = conn
        .query("selec broken")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap_err();
    outputs.push(format!("{err} {err:?}"));
    let err = factory
        .get::<SnowflakeConnection>("bad")
        .unwrap()
        .query("select 1")
        .blocking()
        .unwrap_err();
    outputs.push(format!("{err} {err:?}"));

    let jwt = setup
        .records("logins")
        .iter()
        .find_map(|l| {
            l["body"]["data"]["TOKEN"]
                .as_str()
                .filter(|t| t.starts_with("ey"))
                .map(str::to_owned)
        })
        .expect("a key-pair login");
    let mut tokens: Vec<String> = Vec::new();
    for renewal in setup.records("token-requests") {
        for token in [
            &renewal["body"]["oldSessionToken"],
            &renewal["master_token"],
            &renewal["issued"],
        ] {
            if let Some(token) = token.as_str().filter(|t| t.len() > 8) {
                tokens.push(token.to_owned());
            }
        }
    }
    assert!(!tokens.is_empty(), "the renewal's tokens are known");
    let qrmk_seen = setup.records("chunks").len();
    assert!(qrmk_seen > 0, "the result came in chunks");
    let logs = captured.text();
    assert!(
        logs.contains("conn.snowflake"),
        "no conn.snowflake events in the logs:\n{logs}"
    );
    let key_body: String = std::fs::read_to_string(&key)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_owned();
    assert!(!logs.contains("conn-test/chunk"), "a chunk URL in the logs");
    let fixed = [
        PASSWORD,
        "OAuth-Secret-Tok",
        "Bad-Secret-Pw",
        jwt.as_str(),
        key_body.as_str(),
    ];
    for secret in fixed
        .iter()
        .copied()
        .chain(tokens.iter().map(String::as_str))
    {
        assert!(
            !logs.contains(secret),
            "a secret ({}...) in the logs",
            &secret[..6]
        );
        for output in &outputs {
            assert!(
                !output.contains(secret),
                "a secret ({}...) in {output}",
                &secret[..6]
            );
        }
    }
}
