//! A server that is down: the error comes within seconds and says why (no peer needed;
//! runs everywhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use conn_core::{ConnectionFactory, Env, ErrorKind};
use conn_snowflake::SnowflakeConnection;

#[test]
fn a_down_server_fails_fast_and_says_why() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".streamlit")).unwrap();
    std::fs::write(
        dir.path().join(".streamlit/secrets.toml"),
        format!(
            "[connections.sf]\ntype = \"snowflake\"\naccount = \"xy12345\"\nuser = \"ada\"\n\
             password = \"Down-Secret-1\"\nhost = \"127.0.0.1\"\nport = {port}\nprotocol = \"http\"\n"
        ),
    )
    .unwrap();
    let factory = ConnectionFactory::builder()
        .env(Env::from_pairs([(
            "HOME",
            dir.path().display().to_string(),
        )]))
        .project_dir(dir.path())
        .build();
    let conn = factory.get::<SnowflakeConnection>("sf").unwrap();
    let started = Instant::now();
    let err = conn.query("select 1").blocking().unwrap_err();
    let elapsed = started.elapsed();
    let text = err.to_string();
    assert!(
        text.contains("snowflake connection \"sf\", login"),
        "{text}"
    );
    assert!(
        text.to_ascii_lowercase().contains("refused"),
        "the cause is named: {text}"
    );
    assert!(!text.contains("Down-Secret-1"), "{text}");
    assert!(
        matches!(err.kind(), ErrorKind::Transient | ErrorKind::Stale),
        "{err:?}"
    );
    // Five sends with backoff (0.2 + 0.4 + 0.8 + 1.6 s), within the 10 s connect limit.
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
}
