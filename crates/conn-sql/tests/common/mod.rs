//! Helpers shared by conn-sql's integration tests: factories over a temporary
//! secrets.toml, and scratch schemas and databases on the real servers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod matrix;

use std::path::PathBuf;
use std::sync::Arc;

use conn_core::{ConnectionFactory, Env};
use conn_sql::SqlConnection;

pub const POSTGRES_VAR: &str = "CONN_TEST_POSTGRES_URL";
pub const MYSQL_VAR: &str = "CONN_TEST_MYSQL_URL";

/// A factory reading `secrets` as the project's secrets.toml, with a fixed environment.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub factory: Arc<ConnectionFactory>,
}

impl Project {
    pub fn new(secrets: &str) -> Project {
        Project::with(|_| secrets.to_owned())
    }

    /// A project whose secrets are written knowing the project folder.
    pub fn with(secrets: impl FnOnce(&std::path::Path) -> String) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".streamlit")).unwrap();
        std::fs::write(
            dir.path().join(".streamlit/secrets.toml"),
            secrets(dir.path()),
        )
        .unwrap();
        let factory = ConnectionFactory::builder()
            .env(Env::from_pairs([(
                "HOME",
                dir.path().join("home").display().to_string(),
            )]))
            .project_dir(dir.path())
            .build();
        Project {
            dir,
            factory: Arc::new(factory),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn sql(&self, name: &str) -> Arc<SqlConnection> {
        self.factory.get::<SqlConnection>(name).unwrap()
    }
}

/// A schema of its own on the PostgreSQL server, dropped at the end of the test.
pub struct PgScratch {
    pub schema: String,
    pub url: String,
    admin: SqlConnection,
}

impl PgScratch {
    pub fn new(base: &str) -> PgScratch {
        let schema = conn_testkit::unique_name("conn_t");
        let admin = standalone(base);
        admin
            .execute(format!("CREATE SCHEMA {schema}"))
            .blocking()
            .unwrap();
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
        PgScratch { schema, url, admin }
    }

    pub fn admin(&self) -> &SqlConnection {
        &self.admin
    }
}

impl Drop for PgScratch {
    fn drop(&mut self) {
        let _ = self
            .admin
            .execute(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
            .blocking();
    }
}

/// A database of its own on the MySQL/MariaDB server, dropped at the end of the test.
pub struct MySqlScratch {
    pub database: String,
    pub url: String,
    admin: SqlConnection,
}

impl MySqlScratch {
    pub fn new(base: &str) -> MySqlScratch {
        let database = conn_testkit::unique_name("conn_t");
        let admin = standalone(base);
        admin
            .execute(format!("CREATE DATABASE {database}"))
            .blocking()
            .unwrap();
        let (server, _) = base.rsplit_once('/').unwrap();
        let url = format!("{server}/{database}");
        MySqlScratch {
            database,
            url,
            admin,
        }
    }

    pub fn admin(&self) -> &SqlConnection {
        &self.admin
    }
}

impl Drop for MySqlScratch {
    fn drop(&mut self) {
        let _ = self
            .admin
            .execute(format!("DROP DATABASE IF EXISTS {}", self.database))
            .blocking();
    }
}

/// A connection to `url` outside any shared factory.
pub fn standalone(url: &str) -> SqlConnection {
    let factory = ConnectionFactory::builder()
        .env(Env::from_pairs::<&str, &str>([]))
        .secrets(conn_core::Secrets::default())
        .build();
    factory
        .connection(&conn_testkit::unique_name("admin"))
        .option("url", url)
        .get::<SqlConnection>()
        .map(|c| (*c).clone())
        .unwrap()
}
