//! The third-party type passes the same conformance suite as the first-party ones.
#![allow(clippy::unwrap_used)]

use conn_core::{ConnectionFactory, Env};
use third_party_type::InlineTableConnection;

#[test]
fn conformance() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".streamlit")).unwrap();
    std::fs::write(
        dir.path().join(".streamlit/secrets.toml"),
        "[connections.fruits]\ntype = \"inline-table\"\ncolumns = [\"name\", \"price\"]\nrows = [[\"apple\", 1.5], [\"pear\", 2]]\n",
    )
    .unwrap();
    let factory = ConnectionFactory::builder()
        .env(Env::from_pairs([("HOME", "/nonexistent")]))
        .project_dir(dir.path())
        .build();
    let fruits = factory.get::<InlineTableConnection>("fruits").unwrap();
    assert_eq!(
        fruits
            .read(conn_core::Ttl::Forever)
            .blocking()
            .unwrap()
            .num_rows(),
        2
    );
    conn_testkit::Conformance::<InlineTableConnection> {
        factory,
        name: "fruits".into(),
        read: |conn, ttl| conn.read(ttl).blocking(),
        stats: InlineTableConnection::stats,
        health_check: |conn| conn.health_check().blocking(),
        secret: None,
        failing_name: None,
    }
    .run();
}
