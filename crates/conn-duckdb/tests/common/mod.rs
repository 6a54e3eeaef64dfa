//! What the DuckDB integration tests share.
#![allow(clippy::unwrap_used, dead_code)]

use std::sync::Arc;

use conn_core::{ConnectionFactory, Env};
use conn_duckdb::DuckDbConnection;

/// An in-memory DuckDB connection `mem`, from a secrets file in a fresh project folder
/// (kept alive by the returned folder).
pub fn memory() -> (tempfile::TempDir, Arc<DuckDbConnection>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".streamlit")).unwrap();
    std::fs::write(
        dir.path().join(".streamlit/secrets.toml"),
        "[connections.mem]\ntype = \"duckdb\"\n",
    )
    .unwrap();
    let factory = ConnectionFactory::builder()
        .env(Env::from_pairs([(
            "HOME",
            dir.path().join("home").display().to_string(),
        )]))
        .project_dir(dir.path())
        .build();
    let conn = factory.get::<DuckDbConnection>("mem").unwrap();
    (dir, conn)
}
