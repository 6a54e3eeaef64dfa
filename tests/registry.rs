//! Every type enabled in the facade is registered: the linker kept every plugin's
//! `inventory` submission, and no two types claim one name.
#![allow(clippy::unwrap_used)]

use conn::Registry;

#[test]
fn every_enabled_type_is_registered() {
    let registered = Registry::global().names();
    for name in conn::enabled_types() {
        assert!(
            registered.iter().any(|r| r == name),
            "{name} is enabled in conn but not registered (registered: {registered:?})"
        );
    }
    assert_eq!(
        conn::enabled_types(),
        vec!["duckdb", "files", "snowflake", "sql"]
    );
    Registry::global().check_duplicates().unwrap();
}

#[test]
fn types_describe_themselves() {
    for info in Registry::global().types() {
        assert!(!info.description.is_empty(), "{}", info.name);
        assert!(info.type_path.contains("::"), "{}", info.type_path);
        // Every example section parses as TOML.
        if !info.example_toml.is_empty() {
            info.example_toml.parse::<toml::Table>().unwrap();
        }
    }
    let sql = Registry::global().lookup("sql").unwrap();
    assert_eq!(sql.type_path, "conn_sql::SqlConnection");
}
