//! Running the servers' programs: as another system user, with their output kept for
//! the error message when they fail, on a free port, with a skip when they are missing.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::servers_required;

/// Whether every program in `programs` exists and we are root (to run servers as
/// their own users); if not, prints why the test is skipped and returns false, or
/// panics when servers are required.
#[allow(clippy::panic)]
pub(super) fn present(what: &str, programs: &[&Path]) -> bool {
    let message = if let Some(missing) = programs.iter().find(|p| !p.exists()) {
        format!(
            "a private {what} needs {}, which is missing",
            missing.display()
        )
    } else if !is_root() {
        format!("a private {what} runs as its own system user, which needs root")
    } else {
        return true;
    };
    if servers_required() {
        panic!("{message} (CONN_TEST_REQUIRE_SERVERS=1)");
    }
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let _ = writeln!(std::io::stderr(), "skipped {test}: {message}");
    false
}

/// Whether this process runs as root (the owner of `/proc/self`).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Runs `program` with `args` as the system user `user` (through `runuser`, which
/// needs root), in `dir`; a failure says what ran and what it printed.
pub(super) fn run_as(user: &str, dir: &Path, program: &Path, args: &[&str]) -> Result<(), String> {
    let output = Command::new("runuser")
        .args(["-u", user, "--"])
        .arg(program)
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run runuser (are we root?): {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "`{} {}` as {user} failed ({}):\n{}{}",
        program.display(),
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// Runs `program` with `args`; panics with its output if it fails.
#[allow(clippy::panic)]
pub(super) fn run(program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    if !output.status.success() {
        panic!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Gives `path` to the system user `user` and its group.
pub(super) fn give_to(user: &str, path: &Path) {
    let path = path.display().to_string();
    run("chown", &["-R", &format!("{user}:"), &path]);
}

/// A port of 127.0.0.1 that was free a moment ago.
#[allow(clippy::panic)]
pub(super) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// Whether a server on 127.0.0.1:`port` accepts a connection and sends its first bytes
/// (a MySQL greeting) within `within`, checking `alive` between tries.
pub(super) fn greets(port: u16, within: Duration, mut alive: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if !alive() {
            return false;
        }
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut first = [0_u8; 4];
            if stream.read_exact(&mut first).is_ok() {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// The last `lines` lines of the file at `path`, for an error message.
pub(super) fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
