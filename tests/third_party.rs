//! A connection type from a crate outside conn registers itself the way a third party
//! would, and is found by name from secrets.toml.
#![allow(clippy::unwrap_used)]

// Naming the crate is what links its registration in (see docs/writing-a-connection-type.md).
use third_party_type::InlineTableConnection;

use conn::{ConnectionFactory, Env, Registry, Ttl};

#[test]
fn a_third_party_type_resolves_by_name_from_secrets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".streamlit")).unwrap();
    std::fs::write(
        dir.path().join(".streamlit/secrets.toml"),
        "[connections.fruits]\ntype = \"inline-table\"\ncolumns = [\"name\", \"price\"]\n\
         rows = [[\"apple\", 1.5], [\"pear\", 2.25]]\n",
    )
    .unwrap();
    let factory = ConnectionFactory::builder()
        .env(Env::from_pairs([("HOME", "/nonexistent")]))
        .project_dir(dir.path())
        .build();
    let any = factory.get_dyn("fruits").unwrap();
    assert_eq!(any.type_name(), "inline-table");
    assert_eq!(
        any.type_info().type_path,
        "third_party_type::InlineTableConnection"
    );
    let fruits = any.downcast::<InlineTableConnection>().unwrap();
    let table = fruits.read(Ttl::Forever).blocking().unwrap();
    assert_eq!(
        table.rows::<(String, f64)>().unwrap(),
        vec![("apple".into(), 1.5), ("pear".into(), 2.25)]
    );
    assert!(
        Registry::global()
            .names()
            .contains(&"inline-table".to_owned())
    );
    // The alias works too.
    assert_eq!(
        Registry::global().lookup("inline").unwrap().name,
        "inline-table"
    );
}
