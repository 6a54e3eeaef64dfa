//! [`SnowflakePeer`]: a loopback server of the Snowflake REST protocol (fakesnow, wrapped
//! by `crates/conn-snowflake/tests/peer/snowpeer.py`), started for one test.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::process::{free_port, tail};
use crate::server_url;

/// The variable naming the Python that has fakesnow and the connector installed
/// (`scripts/setup-python` makes the venv; `scripts/test` exports it).
pub const PYTHON_VAR: &str = "CONN_TEST_PYTHON";

/// How long the peer may take to answer its first request (importing fakesnow,
/// DuckDB and pyarrow takes a few seconds on a busy machine).
const STARTUP: Duration = Duration::from_secs(60);

/// How long one control or record request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The Snowflake-protocol peer on 127.0.0.1: fakesnow's server plus what the tests
/// switch on through `/conn-test/...` (expiring tokens, 333334 polling, hanging
/// queries, chunked results, injected failures, JWT checks) and the records of what
/// the client sent. See `snowpeer.py` and `FAKESNOW.md` beside it for the control API.
/// Dropped, the process is killed.
#[derive(Debug)]
pub struct SnowflakePeer {
    child: Child,
    port: u16,
    /// The peer's stderr, shown when it fails to start.
    stderr: tempfile::NamedTempFile,
}

impl SnowflakePeer {
    /// Starts the peer with the Python of [`PYTHON_VAR`] and waits until it answers
    /// HTTP. `None` (with a message) when the variable is unset and servers are not
    /// required (see [`server_url`]); panics with the end of the peer's stderr when it
    /// does not start.
    #[allow(clippy::panic)]
    pub fn start() -> Option<SnowflakePeer> {
        let python = server_url(PYTHON_VAR, "Snowflake-protocol peer (fakesnow)")?;
        let script = Self::script();
        let stderr = tempfile::Builder::new()
            .prefix("conn-snowpeer-")
            .suffix(".log")
            .tempfile()
            .unwrap_or_else(|e| panic!("no temporary file for the peer's stderr: {e}"));
        let log = stderr
            .reopen()
            .unwrap_or_else(|e| panic!("cannot open the peer's stderr file: {e}"));
        let port = free_port();
        let child = Command::new(&python)
            .arg(&script)
            .args(["--port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {python} {}: {e}", script.display()));
        let mut peer = SnowflakePeer {
            child,
            port,
            stderr,
        };
        peer.wait_ready();
        Some(peer)
    }

    /// Where `snowpeer.py` is: in conn-snowflake's test tree, beside this crate.
    pub fn script() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../conn-snowflake/tests/peer/snowpeer.py")
    }

    /// The peer's base URL, `http://127.0.0.1:PORT` (the client's host, port and
    /// protocol `http`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port the peer listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// POSTs the JSON `json_body` to `path` (e.g. `/conn-test/control` with
    /// `{"chunk_rows": 100}`, or `/conn-test/expire_sessions` with `{}`) and returns the
    /// answer's body. Panics when the peer refuses it (an unknown control, bad JSON).
    pub fn control(&self, path: &str, json_body: &str) -> String {
        self.request("POST", path, json_body)
    }

    /// GETs `path` (e.g. `/conn-test/logins`) and returns the answer's body (JSON).
    /// Panics unless the answer is 200.
    pub fn get(&self, path: &str) -> String {
        self.request("GET", path, "")
    }

    /// One HTTP/1.1 request on a connection of its own; the body of a 2xx answer.
    #[allow(clippy::panic)]
    fn request(&self, method: &str, path: &str, body: &str) -> String {
        match self.try_request(method, path, body) {
            Ok((status, text)) if (200..300).contains(&status) => text,
            Ok((status, text)) => panic!("snowpeer answered {method} {path} with {status}: {text}"),
            Err(e) => panic!(
                "snowpeer did not answer {method} {path}: {e}\nits stderr ends with:\n{}",
                tail(self.stderr.path(), 20)
            ),
        }
    }

    /// One request; the status and body of the answer, or why there is none.
    fn try_request(&self, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        stream.write_all(request.as_bytes())?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let (head, text) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("no status in {head:?}"),
                )
            })?;
        Ok((status, text.to_owned()))
    }

    /// Waits until `GET /conn-test/ping` answers 200; panics with the peer's stderr if
    /// it exits or does not answer within [`STARTUP`].
    #[allow(clippy::panic)]
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + STARTUP;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "snowpeer exited at startup ({status}); its stderr ends with:\n{}",
                    tail(self.stderr.path(), 30)
                );
            }
            if let Ok((200, _)) = self.try_request("GET", "/conn-test/ping", "") {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "snowpeer did not answer on 127.0.0.1:{} within {STARTUP:?}; its stderr ends with:\n{}",
            self.port,
            tail(self.stderr.path(), 30)
        );
    }
}

impl Drop for SnowflakePeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::SnowflakePeer;

    /// The peer starts, takes a control, records a login sent by hand, and refuses an
    /// unknown control.
    #[test]
    fn starts_answers_and_records() {
        let Some(peer) = SnowflakePeer::start() else {
            return;
        };
        let controls = peer.control("/conn-test/control", r#"{"chunk_rows": 7}"#);
        assert!(controls.contains(r#""chunk_rows":7"#), "{controls}");
        let login = peer.control(
            "/session/v1/login-request",
            r#"{"data": {"ACCOUNT_NAME": "a", "LOGIN_NAME": "u", "PASSWORD": "pw-123"}}"#,
        );
        assert!(login.contains(r#""masterToken":"MT-"#), "{login}");
        assert!(login.contains("America/Los_Angeles"), "{login}");
        assert!(peer.get("/conn-test/logins").contains("pw-123"));
        let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            peer.control("/conn-test/no_such", "1")
        }));
        assert!(refused.is_err(), "an unknown control must be refused");
    }
}
