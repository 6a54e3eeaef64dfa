//! No secret leaks: one secret planted in every place a user puts one (a secrets file
//! URL, a secrets file key, the `CONN_<NAME>__<KEY>` environment, options in code, a
//! DuckDB `init` statement, an S3 key), then every failure path we can cause: refused
//! connections, a wrong password, syntax errors, time limits, a terminated backend and
//! its retry, bad configuration, a broken secrets file reloaded by the watcher. With a
//! TRACE subscriber capturing everything conn and its drivers log, the captured text and
//! every error's `Display` and `Debug` must not hold the secret in plain,
//! percent-encoded or base64 form. Its own test binary: it installs the global
//! subscriber.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use conn::duckdb::DuckDbConnection;
use conn::files::FilesConnection;
use conn::sql::SqlConnection;
use conn::{ConnectionFactory, Env, Ttl};

/// The planted secret: characters that percent-encoding and base64 both change.
const SECRET: &str = "Pl@nt3d/S3cr3t+Leak=Zq";

/// Every form of `secret` that would give it away: as written, percent-encoded (strict
/// and as a URL component), and base64 (standard and URL-safe) at each of the three
/// alignments it can have inside a longer base64 text.
fn forms(secret: &str) -> Vec<String> {
    let strict = percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    let component = percent_encoding::utf8_percent_encode(secret, COMPONENT).to_string();
    let mut forms = vec![secret.to_owned(), strict, component];
    for offset in 0..3usize {
        let mut bytes = vec![0u8; offset];
        bytes.extend_from_slice(secret.as_bytes());
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let encoded = engine.encode(&bytes);
            let skip = if offset == 0 { 0 } else { 4 };
            let whole = bytes.len() / 3 * 4;
            forms.push(encoded[skip..whole].to_owned());
        }
    }
    forms
}

fn assert_clean(text: &str, what: &str) {
    for form in forms(SECRET) {
        assert!(
            !text.contains(&form),
            "the secret (as {form:?}) appears in {what}:\n{text}"
        );
    }
}

/// A project folder with `secrets` as its secrets.toml and `env` as the environment.
struct Project {
    dir: tempfile::TempDir,
    factory: ConnectionFactory,
}

impl Project {
    fn new(secrets: &str, env: &[(&str, &str)]) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".streamlit")).unwrap();
        std::fs::write(dir.path().join(".streamlit/secrets.toml"), secrets).unwrap();
        let mut pairs: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        pairs.push(("HOME".into(), dir.path().join("home").display().to_string()));
        let factory = ConnectionFactory::builder()
            .env(Env::from_pairs(pairs))
            .project_dir(dir.path())
            .build();
        Project { dir, factory }
    }
}

/// Collects the `Display` and `Debug` of every error the paths produce.
#[derive(Default)]
struct Errors(Vec<String>);

impl Errors {
    fn push<T: std::fmt::Debug>(&mut self, what: &str, outcome: conn::Result<T>) {
        match outcome {
            Ok(value) => self.0.push(format!("{what}: ok {value:?}")),
            Err(err) => self.0.push(format!("{what}: {err} / {err:?}")),
        }
    }

    fn expect_err<T: std::fmt::Debug>(&mut self, what: &str, outcome: conn::Result<T>) {
        assert!(outcome.is_err(), "{what} was expected to fail");
        self.push(what, outcome);
    }
}

/// The failure paths of a SQL connection that reaches its server: a syntax error, a
/// time limit, a terminated backend (retried), a failing write.
fn sql_failures(errors: &mut Errors, label: &str, conn: &SqlConnection, terminate: bool) {
    errors.push(
        label,
        conn.query("SELECT 1 AS one").ttl(Ttl::ZERO).blocking(),
    );
    errors.expect_err(label, conn.query("SELEC broken").blocking());
    errors.expect_err(
        label,
        conn.query("SELECT pg_sleep(5) AS s")
            .ttl(Ttl::ZERO)
            .timeout(Duration::from_millis(100))
            .blocking(),
    );
    errors.expect_err(
        label,
        conn.execute("INSERT INTO no_such_table VALUES (1)")
            .blocking(),
    );
    errors.push(label, Ok(format!("{conn:?}")));
    if terminate {
        let pid = conn
            .query("SELECT pg_backend_pid() AS pid")
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap()
            .rows::<(i32,)>()
            .unwrap()[0]
            .0;
        let other = conn
            .execute("SELECT pg_terminate_backend(:pid)")
            .param("pid", pid)
            .blocking();
        errors.push(label, other);
        std::thread::sleep(Duration::from_millis(200));
        errors.push(
            label,
            conn.query("SELECT 2 AS two").ttl(Ttl::ZERO).blocking(),
        );
    }
}

/// The check itself finds the secret in every form it looks for.
#[test]
fn the_check_finds_every_form() {
    for form in forms(SECRET) {
        let text = format!("error: x{form}y");
        let found = std::panic::catch_unwind(|| assert_clean(&text, "a probe"));
        assert!(found.is_err(), "{form:?} was not found");
    }
    assert_eq!(forms(SECRET).len(), 9);
}

#[test]
fn a_planted_secret_never_leaks() {
    let captured = conn_testkit::CapturedLog::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();
    let mut errors = Errors::default();
    let encoded = percent_encoding::utf8_percent_encode(SECRET, percent_encoding::NON_ALPHANUMERIC)
        .to_string();

    // Nothing listens on port 1: refused connects, with the secret in the URL, in the
    // environment and in code.
    let refused = Project::new(
        &format!(
            "[connections.url]\ntype = \"sql\"\nurl = \"postgresql://ada:{encoded}@127.0.0.1:1/db\"\n\
             connect_timeout = \"1s\"\n\
             [connections.parts]\ntype = \"sql\"\ndialect = \"postgresql\"\nhost = \"127.0.0.1\"\n\
             port = 1\nusername = \"ada\"\npassword = \"{SECRET}\"\ndatabase = \"db\"\n"
        ),
        &[
            ("CONN_FROMENV__TYPE", "sql"),
            ("CONN_FROMENV__DIALECT", "postgresql"),
            ("CONN_FROMENV__HOST", "127.0.0.1"),
            ("CONN_FROMENV__PORT", "1"),
            ("CONN_FROMENV__USERNAME", "ada"),
            ("CONN_FROMENV__PASSWORD", SECRET),
        ],
    );
    for name in ["url", "parts", "fromenv"] {
        let conn = refused.factory.get::<SqlConnection>(name).unwrap();
        errors.push(name, Ok(format!("{conn:?}")));
        errors.expect_err(name, conn.query("SELECT 1").blocking());
        errors.expect_err(name, conn.health_check().blocking());
    }
    let in_code = refused
        .factory
        .connection("code")
        .type_name("sql")
        .option("dialect", "postgresql")
        .option("host", "127.0.0.1")
        .option("port", 1)
        .option("username", "ada")
        .option("password", SECRET)
        .get::<SqlConnection>()
        .unwrap();
    errors.expect_err("code", in_code.query("SELECT 1").blocking());
    errors.push("config", refused.factory.connection("code").config());

    // Bad configuration next to the secret: the errors name the key, not the values.
    let bad = Project::new(
        &format!(
            "[connections.badport]\ntype = \"sql\"\nurl = \"postgresql://ada:{encoded}@h/db\"\n\
             pool_size = \"many\"\n\
             [connections.typo]\ntype = \"sql\"\npasword = \"{SECRET}\"\nhost = \"h\"\n"
        ),
        &[],
    );
    for name in ["badport", "typo"] {
        errors.expect_err(name, bad.factory.get::<SqlConnection>(name));
    }

    // A secrets file that stops parsing, reloaded: the last good one stays, the error
    // (logged by the watcher, returned by reload) holds no value.
    let reloaded = Project::new(
        "[connections.x]\ntype = \"sql\"\nurl = \"sqlite://\"\n",
        &[],
    );
    let watcher = reloaded.factory.watch_secrets().unwrap();
    std::fs::write(
        reloaded.dir.path().join(".streamlit/secrets.toml"),
        format!("[connections.x]\ntype = \"sql\"\npassword = \"{SECRET}\" oops\n"),
    )
    .unwrap();
    errors.expect_err("reload", reloaded.factory.reload_secrets());
    std::thread::sleep(Duration::from_millis(600));
    drop(watcher);

    // DuckDB: credentials inside an init statement that fails to parse.
    let duck = Project::new(
        &format!(
            "[connections.duck]\ntype = \"duckdb\"\ninit = [\"CREATE SECRET s (TYPE s3, KEY_ID 'AKIAEXAMPLE', SECRET '{SECRET}' REGION 'x')\"]\n"
        ),
        &[],
    );
    let conn = duck.factory.get::<DuckDbConnection>("duck").unwrap();
    errors.expect_err("duckdb init", conn.query("SELECT 1").blocking());

    // Files: an S3 secret key against an endpoint that refuses.
    let files = Project::new(
        &format!(
            "[connections.s3]\ntype = \"files\"\nprotocol = \"s3\"\nbucket = \"b\"\n\
             endpoint_url = \"http://127.0.0.1:1\"\naws_access_key_id = \"AKIAEXAMPLE\"\n\
             aws_secret_access_key = \"{SECRET}\"\nregion = \"us-east-1\"\nallow_http = true\n\
             retry = {{ attempts = 1 }}\n"
        ),
        &[],
    );
    match files.factory.get::<FilesConnection>("s3") {
        Ok(conn) => {
            errors.push("s3", Ok(format!("{conn:?}")));
            errors.expect_err("s3 read", conn.read("b/x.csv").blocking());
        }
        Err(err) => errors.push::<()>("s3", Err(err)),
    }

    // Servers that accept the connection: PostgreSQL (trust accepts any password, so
    // the URL carries the secret) and MariaDB (a wrong password).
    if let Some(base) = conn_testkit::server_url("CONN_TEST_POSTGRES_URL", "PostgreSQL") {
        let url = base.replacen("postgres@", &format!("postgres:{encoded}@"), 1);
        let pg = Project::new(
            &format!(
                "[connections.pg]\ntype = \"sql\"\nurl = \"{url}\"\nretry = {{ wait = \"10ms\" }}\n"
            ),
            &[],
        );
        let conn = pg.factory.get::<SqlConnection>("pg").unwrap();
        sql_failures(&mut errors, "pg", &conn, true);
    }
    if let Some(base) = conn_testkit::server_url("CONN_TEST_MYSQL_URL", "MariaDB") {
        let url = base.replacen("root@", &format!("root:{encoded}@"), 1);
        let maria = Project::new(
            &format!("[connections.maria]\ntype = \"sql\"\nurl = \"{url}\"\n"),
            &[],
        );
        let conn = maria.factory.get::<SqlConnection>("maria").unwrap();
        let denied = conn.query("SELECT 1 AS one").blocking();
        let text = denied
            .as_ref()
            .map(|_| String::new())
            .unwrap_or_else(|e| e.to_string());
        assert!(text.contains("Access denied"), "{text}");
        errors.expect_err("maria", denied);
    }

    let logs = captured.text();
    for event in ["conn.connect", "conn.query"] {
        assert!(logs.contains(event), "no {event} in the captured logs");
    }
    assert_clean(&logs, "the TRACE logs");
    for error in &errors.0 {
        assert_clean(error, "an error or a Debug");
    }
    figures_line(&format!(
        "FIGURES leaks errors_checked={} log_bytes={} forms={}",
        errors.0.len(),
        logs.len(),
        forms(SECRET).len()
    ));
}

/// Prints a figures line past the test harness's capture, so CI logs show it.
fn figures_line(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}
