//! Type resolution through the facade: names, `type` keys, Streamlit class paths,
//! and the errors for names that resolve to nothing.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use conn::duckdb::DuckDbConnection;
use conn::files::FilesConnection;
use conn::sql::SqlConnection;
use conn::{ConnectionFactory, Env};

fn factory(secrets: &str) -> (tempfile::TempDir, Arc<ConnectionFactory>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".streamlit")).unwrap();
    std::fs::write(dir.path().join(".streamlit/secrets.toml"), secrets).unwrap();
    let factory = ConnectionFactory::builder()
        .env(Env::from_pairs([(
            "HOME",
            dir.path().join("home").display().to_string(),
        )]))
        .project_dir(dir.path())
        .build();
    (dir, Arc::new(factory))
}

const SECRETS: &str = r#"
[connections.pets_db]
type = "sql"
url = "sqlite://"

[connections.streamlit_sql]
type = "streamlit.connections.SQLConnection"
url = "sqlite://"

[connections.ducks]
type = "duckdb"

[connections.bucket]
type = "st_files_connection.FilesConnection"
protocol = "memory"

[connections.typo]
type = "duckdbb"
"#;

#[test]
fn types_resolve_from_keys_names_and_streamlit_paths() {
    let (_dir, factory) = factory(SECRETS);
    let sql = factory.get_dyn("pets_db").unwrap();
    assert_eq!(sql.type_name(), "sql");
    assert!(sql.downcast::<SqlConnection>().is_some());
    assert_eq!(factory.get_dyn("streamlit_sql").unwrap().type_name(), "sql");
    assert_eq!(factory.get_dyn("ducks").unwrap().type_name(), "duckdb");
    let files = factory.get_dyn("bucket").unwrap();
    assert!(files.downcast::<FilesConnection>().is_some());
    // A name that is a type name, with no section, is that type (Streamlit's "sql").
    assert!(
        factory
            .get_dyn("duckdb")
            .unwrap()
            .downcast::<DuckDbConnection>()
            .is_some()
    );
}

#[test]
fn dynamic_and_typed_connections_work_end_to_end() {
    let (_dir, factory) = factory(SECRETS);
    let any = factory.get_dyn("pets_db").unwrap();
    let sql = any.downcast::<SqlConnection>().unwrap();
    let table = sql.query("SELECT 41 + 1 AS answer").blocking().unwrap();
    assert_eq!(table.rows::<(i64,)>().unwrap(), vec![(42,)]);
    let ducks = factory.get::<DuckDbConnection>("ducks").unwrap();
    let table = ducks.query("SELECT 42 AS answer").blocking().unwrap();
    assert_eq!(table.rows::<(i32,)>().unwrap(), vec![(42,)]);
}

#[test]
fn an_unknown_type_lists_every_registered_name() {
    let (dir, factory) = factory(SECRETS);
    let err = factory.get_dyn("typo").unwrap_err().to_string();
    let file = dir.path().join(".streamlit/secrets.toml");
    assert!(
        err.starts_with(&format!(
            "unknown connection type \"duckdbb\" (given at {}:18:8); did you mean \"duckdb\"? \
             Registered types: duckdb, files, ",
            file.display()
        )),
        "{err}"
    );
    assert!(err.contains("sql"), "{err}");
}

#[test]
fn snowpark_is_gone() {
    let (_dir, factory) = factory(SECRETS);
    let err = factory.get_dyn("snowpark").unwrap_err().to_string();
    assert_eq!(
        err,
        "The Snowpark connection was removed in favor of the Snowflake connection. Use type = \
         \"snowflake\" for connection \"snowpark\" instead."
    );
}
