//! The tour against the Snowflake-protocol test peer (skipped without Python unless
//! servers are required).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use conn::snowflake::SnowflakeConnection;
use conn_testkit::servers::SnowflakePeer;

#[test]
fn the_tour_runs_against_the_peer() {
    let Some(peer) = SnowflakePeer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".streamlit")).unwrap();
    std::fs::write(
        dir.path().join(".streamlit/secrets.toml"),
        format!(
            "[connections.snowflake]\naccount = \"xy12345\"\nuser = \"ada\"\npassword = \"pw\"\n\
             host = \"127.0.0.1\"\nport = {}\nprotocol = \"http\"\ndatabase = \"DB1\"\nschema = \"PUBLIC\"\n",
            peer.port()
        ),
    )
    .unwrap();
    let factory = conn::ConnectionFactory::builder()
        .env(conn::Env::from_pairs([(
            "HOME",
            dir.path().display().to_string(),
        )]))
        .project_dir(dir.path())
        .build();
    let sf = factory.get::<SnowflakeConnection>("snowflake").unwrap();
    let out = snowflake_example::tour(&sf).unwrap();
    assert!(out.starts_with("wrote 3 rows"), "{out}");
    assert!(out.contains("barbara") && out.contains("puppy"), "{out}");
    println!("{out}");
    assert!(
        out.lines().any(|l| l.trim() == "4"),
        "the committed insert counts: {out}"
    );
}
