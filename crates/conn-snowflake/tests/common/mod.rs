//! What every test against the Snowflake-protocol peer shares: a peer, a factory whose
//! secrets point at it, and the peer's records.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(dead_code)] // Each test file uses part of it.

use std::path::Path;

use conn_core::{ConnectionFactory, Env};
use conn_testkit::servers::SnowflakePeer;
use serde_json::Value;

/// The password the tests configure (and look for in every output).
pub const PASSWORD: &str = "pw-Secret-4242";

/// A started peer and a folder for the test's secrets and database file.
pub struct Setup {
    pub peer: SnowflakePeer,
    pub dir: tempfile::TempDir,
}

impl Setup {
    /// A peer, or `None` when the test is skipped (no Python; see the testkit).
    pub fn start() -> Option<Setup> {
        let peer = SnowflakePeer::start()?;
        Some(Setup {
            peer,
            dir: tempfile::tempdir().unwrap(),
        })
    }

    /// The keys that point a connection at the peer. Every login of one peer shares its
    /// in-memory database (fakesnow's default), and each test starts a peer of its own.
    pub fn keys(&self) -> String {
        format!(
            "account = \"xy12345.us-east-2.aws\"\nuser = \"ada\"\nhost = \"127.0.0.1\"\n\
             port = {}\nprotocol = \"http\"\ndatabase = \"DB1\"\nschema = \"PUBLIC\"\n",
            self.peer.port()
        )
    }

    /// A factory with `[connections.sf]` (password login) plus `extra` secrets text.
    pub fn factory(&self, extra_keys: &str, extra: &str) -> ConnectionFactory {
        let secrets = format!(
            "[connections.sf]\ntype = \"snowflake\"\n{}password = \"{PASSWORD}\"\n{extra_keys}\n{extra}",
            self.keys()
        );
        factory(self.dir.path(), &secrets, &[])
    }

    /// The peer's records of `kind` (`logins`, `queries`, `chunks`, ...).
    pub fn records(&self, kind: &str) -> Vec<Value> {
        let text = self.peer.get(&format!("/conn-test/{kind}"));
        let value: Value = serde_json::from_str(&text).unwrap();
        match value {
            Value::Array(items) => items,
            Value::Object(mut map) => match map.remove(kind) {
                Some(Value::Array(items)) => items,
                other => panic!("no {kind} records in {other:?}"),
            },
            other => panic!("unexpected records {other}"),
        }
    }

    /// Whether a record of `kind` matching `found` shows up within 5 s (for what the
    /// client sends in the background).
    pub fn wait_for(&self, kind: &str, found: impl Fn(&Value) -> bool) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if self.records(kind).iter().any(&found) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        false
    }

    /// Sets peer controls (`{"chunk_rows": 100}`).
    pub fn control(&self, json: &str) {
        self.peer.control("/conn-test/control", json);
    }
}

/// A factory reading `secrets` from a project folder in `dir`, with `env` (and HOME in
/// `dir`) as its whole environment.
pub fn factory(dir: &Path, secrets: &str, env: &[(&str, &str)]) -> ConnectionFactory {
    std::fs::create_dir_all(dir.join(".streamlit")).unwrap();
    std::fs::write(dir.join(".streamlit/secrets.toml"), secrets).unwrap();
    let env = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .chain([("HOME".to_owned(), dir.join("home").display().to_string())]);
    ConnectionFactory::builder()
        .env(Env::from_pairs(env))
        .project_dir(dir)
        .build()
}
