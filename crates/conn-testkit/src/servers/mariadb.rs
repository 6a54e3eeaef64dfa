//! [`MariaDbServer`]: a private MariaDB server (mariadb-install-db, then `mariadbd`
//! as `mysql`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::Shutdown;
use super::process::{free_port, give_to, greets, present, run, tail};

/// The machine's `mariadb-install-db`.
pub const MARIADB_INSTALL_DB: &str = "/usr/bin/mariadb-install-db";
/// The machine's `mariadbd`.
pub const MARIADBD: &str = "/usr/sbin/mariadbd";

/// A redo log of 8 MiB instead of 96: the server is small and short-lived.
const SMALL_LOG: &str = "--innodb-log-file-size=8M";

/// A MariaDB server of its own: a data folder in a temporary folder owned by `mysql`,
/// `root` without a password from 127.0.0.1, a database `test`, a free port, its socket
/// in the temporary folder. Dropped, it is killed and removed.
#[derive(Debug)]
pub struct MariaDbServer {
    dir: tempfile::TempDir,
    port: u16,
    child: Mutex<Option<Child>>,
}

impl MariaDbServer {
    /// Creates and starts a server; `None` (with a message) when the binaries are
    /// missing and servers are not required. Panics with the server's log when it
    /// cannot be created or started.
    #[allow(clippy::panic)]
    pub fn start() -> Option<MariaDbServer> {
        if !present(
            "MariaDB server",
            &[Path::new(MARIADB_INSTALL_DB), Path::new(MARIADBD)],
        ) {
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("conn-mariadb-")
            .tempdir()
            .unwrap_or_else(|e| panic!("no temporary folder for a MariaDB server: {e}"));
        // Run at every start: the database the URL names.
        std::fs::write(
            dir.path().join("init.sql"),
            "CREATE DATABASE IF NOT EXISTS test;\n",
        )
        .unwrap_or_else(|e| panic!("cannot write init.sql: {e}"));
        give_to("mysql", dir.path());
        let server = MariaDbServer {
            port: free_port(),
            dir,
            child: Mutex::new(None),
        };
        let datadir = format!("--datadir={}", server.datadir().display());
        let install = Command::new(MARIADB_INSTALL_DB)
            .args([
                "--no-defaults",
                "--user=mysql",
                &datadir,
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                SMALL_LOG,
            ])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {MARIADB_INSTALL_DB}: {e}"));
        if !install.status.success() {
            panic!(
                "{MARIADB_INSTALL_DB} failed ({}):\n{}{}",
                install.status,
                String::from_utf8_lossy(&install.stdout),
                String::from_utf8_lossy(&install.stderr)
            );
        }
        server.start_again();
        Some(server)
    }

    /// The URL of the database `test` as `root`.
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/test", self.port)
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (its port refuses connections until [`start_again`](Self::start_again)).
    pub fn stop(&self, how: Shutdown) {
        let mut child = self.child();
        let Some(mut running) = child.take() else {
            return;
        };
        match how {
            Shutdown::Clean => run("kill", &["-TERM", &running.id().to_string()]),
            Shutdown::Crash => {
                let _ = running.kill();
            }
        }
        let _ = running.wait();
    }

    /// Starts the stopped server again and waits until it greets connections.
    #[allow(clippy::panic)]
    pub fn start_again(&self) {
        let mut child = self.child();
        if child.is_some() {
            return;
        }
        let dir = self.dir.path();
        let spawned = Command::new(MARIADBD)
            .arg("--no-defaults")
            .arg("--user=mysql")
            .arg(format!("--datadir={}", self.datadir().display()))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", dir.join("mysqld.sock").display()))
            .arg(format!("--pid-file={}", dir.join("mysqld.pid").display()))
            .arg(format!("--log-error={}", self.log().display()))
            .arg(format!("--init-file={}", dir.join("init.sql").display()))
            .args([
                "--skip-name-resolve",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=16M",
                SMALL_LOG,
                "--max-connections=100",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {MARIADBD}: {e}"));
        let running = child.insert(spawned);
        let ready = greets(self.port, Duration::from_secs(60), || {
            matches!(running.try_wait(), Ok(None))
        });
        if !ready {
            let _ = running.kill();
            let _ = running.wait();
            *child = None;
            panic!(
                "mariadbd did not accept connections on 127.0.0.1:{}; its log ends with:\n{}",
                self.port,
                tail(&self.log(), 20)
            );
        }
    }

    /// Stops and starts the server.
    pub fn restart(&self, how: Shutdown) {
        self.stop(how);
        self.start_again();
    }

    fn datadir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("error.log")
    }

    fn child(&self) -> MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for MariaDbServer {
    fn drop(&mut self) {
        if let Some(mut running) = self.child().take() {
            let _ = running.kill();
            let _ = running.wait();
        }
    }
}
