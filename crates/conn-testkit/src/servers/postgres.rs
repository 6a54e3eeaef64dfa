//! [`PgCluster`]: a private PostgreSQL 15 cluster (initdb, pg_ctl as `postgres`).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::Shutdown;
use super::process::{free_port, give_to, present, run_as, tail};

/// Where the machine's PostgreSQL 15 programs are.
pub const PG_BIN_DIR: &str = "/usr/lib/postgresql/15/bin";

/// A PostgreSQL cluster of its own: a data folder in a temporary folder owned by
/// `postgres`, trust authentication, 127.0.0.1 on a free port, its Unix socket in the
/// temporary folder. Dropped, it is stopped at once and removed.
#[derive(Debug)]
pub struct PgCluster {
    dir: tempfile::TempDir,
    port: u16,
}

impl PgCluster {
    /// Creates and starts a cluster; `None` (with a message) when the binaries are
    /// missing and servers are not required. Panics with the server's output when
    /// it cannot be created or started.
    #[allow(clippy::panic)]
    pub fn start() -> Option<PgCluster> {
        let bin = Path::new(PG_BIN_DIR);
        if !present(
            "PostgreSQL cluster",
            &[&bin.join("initdb"), &bin.join("pg_ctl")],
        ) {
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("conn-pg-")
            .tempdir()
            .unwrap_or_else(|e| panic!("no temporary folder for a cluster: {e}"));
        give_to("postgres", dir.path());
        let cluster = PgCluster {
            port: free_port(),
            dir,
        };
        let data = cluster.data();
        run_as(
            "postgres",
            cluster.dir.path(),
            &bin.join("initdb"),
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        cluster.start_again();
        Some(cluster)
    }

    /// The URL of the `postgres` database as the `postgres` user.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The port the cluster listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the cluster (its port refuses connections until [`start_again`](Self::start_again)).
    pub fn stop(&self, how: Shutdown) {
        let mode = match how {
            Shutdown::Clean => "fast",
            Shutdown::Crash => "immediate",
        };
        let data = self.data();
        self.pg_ctl(&["stop", "-D", &data, "-m", mode, "-w", "-t", "60"]);
    }

    /// Starts the stopped cluster again and waits until it accepts connections.
    pub fn start_again(&self) {
        let data = self.data();
        let log = self.log().display().to_string();
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off \
             -c shared_buffers=16MB -c max_connections=60",
            self.port,
            self.dir.path().display()
        );
        self.pg_ctl(&[
            "start", "-D", &data, "-l", &log, "-w", "-t", "60", "-o", &options,
        ]);
    }

    /// Stops and starts the cluster.
    pub fn restart(&self, how: Shutdown) {
        self.stop(how);
        self.start_again();
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    #[allow(clippy::panic)]
    fn pg_ctl(&self, args: &[&str]) {
        let pg_ctl = Path::new(PG_BIN_DIR).join("pg_ctl");
        if let Err(e) = run_as("postgres", self.dir.path(), &pg_ctl, args) {
            panic!(
                "{e}\nthe server's log ends with:\n{}",
                tail(&self.log(), 20)
            );
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(Path::new(PG_BIN_DIR).join("pg_ctl"))
            .args(["stop", "-D", &self.data(), "-m", "immediate", "-w"])
            .current_dir(self.dir.path())
            .output();
    }
}
