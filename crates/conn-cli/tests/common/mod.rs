//! A temporary project folder and a way to run the built `conn` binary in it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use conn::sql::SqlConnection;
use conn::{ConnectionFactory, Table};

/// A planted secret: it must never appear in anything the command prints.
pub const SECRET: &str = "Pl@nt3d/S3cr3t+Leak=Zq";
/// The planted secret percent-encoded, as it is written inside a URL.
pub const SECRET_IN_URL: &str = "Pl%40nt3d%2FS3cr3t%2BLeak%3DZq";

/// What one run of `conn` gave.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Standard output as bytes (binary formats).
    pub bytes: Vec<u8>,
}

impl Run {
    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code {} (expected {code})\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    /// Standard output parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }

    /// Both outputs, for leak checks.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// A project folder with `.streamlit/secrets.toml`; `HOME` points inside it, so no
/// global secrets file of the machine is read.
#[derive(Debug)]
pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// A project whose secrets file is `secrets(dir)`.
    pub fn new(secrets: impl FnOnce(&Path) -> String) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".streamlit")).unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        let text = secrets(dir.path());
        std::fs::write(dir.path().join(".streamlit/secrets.toml"), text).unwrap();
        Project { dir }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the folder.
    pub fn join(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// The secrets file.
    pub fn secrets_file(&self) -> PathBuf {
        self.join(".streamlit/secrets.toml")
    }

    /// Runs `conn ARGS` in the folder with `env` added to a clean environment.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_conn"));
        command
            .args(args)
            .current_dir(self.path())
            .env_clear()
            .env("HOME", self.join("home"))
            .envs(env.iter().copied());
        // The prebuilt libduckdb, when the binary links it.
        for var in ["LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "PATH"] {
            if let Ok(value) = std::env::var(var) {
                command.env(var, value);
            }
        }
        let output = command.output().unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            bytes: output.stdout,
        }
    }

    /// Starts `conn ARGS` in the folder (as [`run`](Self::run) does) without waiting.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        let mut command = Command::new(env!("CARGO_BIN_EXE_conn"));
        command
            .args(args)
            .current_dir(self.path())
            .env_clear()
            .env("HOME", self.join("home"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for var in ["LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "PATH"] {
            if let Ok(value) = std::env::var(var) {
                command.env(var, value);
            }
        }
        command.spawn().unwrap()
    }

    /// A factory reading this project, for setting up data and for comparing results
    /// with what the library gives.
    pub fn factory(&self) -> ConnectionFactory {
        ConnectionFactory::builder()
            .project_dir(self.path())
            .secrets_files([self.secrets_file()])
            .build()
    }

    /// The library's answer to `sql` on connection `name`.
    pub fn query(&self, name: &str, sql: &str) -> Table {
        let any = self.factory().get_dyn(name).unwrap();
        if let Some(c) = any.downcast::<SqlConnection>() {
            return c.query(sql).blocking().unwrap();
        }
        if let Some(c) = any.downcast::<conn::duckdb::DuckDbConnection>() {
            return c.query(sql).blocking().unwrap();
        }
        panic!("{name} is not a sql or duckdb connection")
    }

    /// Runs statements on a `sql` connection.
    pub fn execute(&self, name: &str, statements: &[&str]) {
        let conn = self.factory().get::<SqlConnection>(name).unwrap();
        for statement in statements {
            conn.execute(*statement).blocking().unwrap();
        }
    }
}

/// `[connections.pets_db]` on a SQLite file in `dir`, with the pets table.
pub fn pets_section(dir: &Path) -> String {
    format!(
        "[connections.pets_db]\ntype = \"sql\"\nurl = \"sqlite:///{}\"\n",
        dir.join("pets.db").display()
    )
}

/// Creates the pets table on `name`.
pub fn create_pets(project: &Project, name: &str) {
    project.execute(
        name,
        &[
            "create table pet (name text, kind text, age integer, weight real)",
            "insert into pet values ('Rex', 'dog', 3, 12.5), ('Tom', 'cat', 5, 4.25), \
             ('Nemo', 'fish', null, 0.1)",
        ],
    );
}

/// The pets as JSON lines rows, as every backend should give them back.
pub fn pets_json() -> Vec<serde_json::Value> {
    vec![
        serde_json::json!({"name": "Rex", "kind": "dog", "age": 3, "weight": 12.5}),
        serde_json::json!({"name": "Tom", "kind": "cat", "age": 5, "weight": 4.25}),
        serde_json::json!({"name": "Nemo", "kind": "fish", "age": null, "weight": 0.1}),
    ]
}

/// JSON lines parsed.
#[track_caller]
pub fn jsonl(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}
