//! Review findings on the `conn` command: each test shows one defect and fails until
//! it is fixed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow::array::{Array, Float64Array};
use common::{Project, pets_section};

/// A SQLite project with `pets_db` and `statements` run on it.
fn sqlite_project(statements: &[&str]) -> Project {
    let project = Project::new(pets_section);
    project.execute("pets_db", statements);
    project
}

/// CSV writes NULL and the empty string the same way (arrow-csv's default null is the
/// empty field), so `conn query -o x.csv` cannot be told apart from a table where the
/// text was empty: a value changes silently. Expected: the two are written
/// differently (e.g. empty strings quoted `""`, as PostgreSQL's COPY CSV does, or an
/// explicit null marker).
#[test]
fn review_finding_csv_writes_null_and_empty_text_the_same() {
    let project = sqlite_project(&[
        "create table t (a text, b text)",
        "insert into t values (null, '')",
    ]);
    let run = project
        .run(
            &["query", "pets_db", "select a, b from t", "--format", "csv"],
            &[],
        )
        .expect(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "a,b");
    let cells: Vec<&str> = lines[1].split(',').collect();
    assert_ne!(
        cells[0], cells[1],
        "NULL (a) and '' (b) are written identically: {:?}",
        run.stdout
    );
}

/// JSON lines turns an infinite (or NaN) float into `null` (arrow-json writes
/// non-finite floats as null): the value changes silently. Expected: an error naming
/// the column and row (exit 1), or a representation that reads back.
#[test]
fn review_finding_jsonl_turns_infinity_into_null() {
    let project = sqlite_project(&["create table f (x real)", "insert into f values (9e999)"]);
    // The library gives +inf for this row.
    let table = project.query("pets_db", "select x from f");
    let batch = table.to_record_batch().unwrap();
    let column = batch
        .column(0)
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    assert!(column.value(0).is_infinite() && !column.is_null(0));

    let run = project.run(
        &["query", "pets_db", "select x from f", "--format", "jsonl"],
        &[],
    );
    if run.code == 0 {
        let rows = common::jsonl(&run.stdout);
        assert_ne!(
            rows[0]["x"],
            serde_json::Value::Null,
            "+inf was written as null: {:?}",
            run.stdout
        );
    } else {
        assert_eq!(run.code, 1, "{}", run.all());
        assert!(run.stderr.contains('x'), "{}", run.stderr);
    }
}

/// A password with a `#` (or `?`, `/`) written unencoded in a URL under a key whose
/// name is not secret-looking (`url`) is not found by the redactor (conn-core
/// redact.rs `url_password` cuts the authority at the first `/`, `?` or `#` and then
/// finds no `@`), so `conn explain` prints it in full, as text and as JSON.
#[test]
fn review_finding_explain_prints_a_url_password_containing_a_hash() {
    const PASSWORD: &str = "Hunter#2Leaky";
    let project = Project::new(|_| {
        format!(
            "[connections.warehouse]\ntype = \"sql\"\nurl = \"postgres://app:{PASSWORD}@db.invalid/app\"\n"
        )
    });
    for args in [
        &["explain", "warehouse"][..],
        &["explain", "warehouse", "--json"][..],
    ] {
        let run = project.run(args, &[]);
        assert!(
            !run.all().contains(PASSWORD) && !run.all().contains("2Leaky"),
            "{args:?} printed the password:\n{}",
            run.all()
        );
    }
}

/// Ctrl-C is caught by tokio from the first `interruptible` call on, and nothing
/// listens for it after the query ended: while the result is written (`--output` to a
/// slow or blocked file, a large result to a pipe) Ctrl-C is swallowed and the command
/// goes on and exits 0. Shown with a FIFO: `conn` blocks opening it after the query,
/// gets SIGINT, and still writes the result and exits 0 once a reader appears.
#[test]
#[cfg(target_os = "linux")]
fn review_finding_ctrl_c_is_ignored_while_the_result_is_written() {
    let project = sqlite_project(&["create table t (x integer)", "insert into t values (1)"]);
    let fifo = project.join("out.csv");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let mut child = project.spawn(&["query", "pets_db", "select x from t", "--output", "out.csv"]);
    let pid = child.id();
    // Wait (by state, not by time) until conn is blocked opening the FIFO for writing:
    // the query is over by then.
    let wchan = format!("/proc/{pid}/wchan");
    let mut blocked = false;
    for _ in 0..6000 {
        if std::fs::read_to_string(&wchan).unwrap_or_default() == "wait_for_partner" {
            blocked = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(blocked, "conn never blocked opening the FIFO");
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    // Unblock it: open the read end without blocking (should conn have exited, there
    // is no writer and the read ends at once), then read until the writer closes.
    let written = {
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        const O_NONBLOCK: i32 = 0o4000;
        let mut reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        let mut written = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => written.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => panic!("reading the FIFO: {e}"),
            }
        }
        String::from_utf8_lossy(&written).into_owned()
    };
    let status = child.wait().unwrap();
    assert!(
        status.code() == Some(130) || status.code().is_none(),
        "Ctrl-C while writing was ignored: exit {status:?}, wrote {written:?}"
    );
}

/// `--output FILE` truncates the file before writing and deletes it when writing
/// fails, so a failed run destroys the previous result (and a reader meanwhile sees a
/// half-written file). Here CSV cannot hold a DuckDB list column: the command fails
/// (rightly, exit 1) but `report.csv` from an earlier run is gone. Expected: write to a
/// temporary sibling and rename it over FILE only on success.
#[test]
fn review_finding_a_failed_output_write_destroys_the_existing_file() {
    let project = Project::new(|dir| {
        format!(
            "[connections.duck]\ntype = \"duckdb\"\ndatabase = \"{}\"\n",
            dir.join("r.duckdb").display()
        )
    });
    let report = project.join("report.csv");
    std::fs::write(&report, "l\nyesterday's result\n").unwrap();
    let run = project
        .run(
            &["query", "duck", "select [1, 2] as l", "-o", "report.csv"],
            &[],
        )
        .expect(1);
    assert_eq!(
        std::fs::read_to_string(&report).ok().as_deref(),
        Some("l\nyesterday's result\n"),
        "the earlier file did not survive the failed write ({})",
        run.stderr
    );
}

/// A libpq connection string (`key=value` pairs separated by spaces), as DuckDB's
/// `ATTACH '... password=...' (TYPE postgres)` takes it in an `init` statement, is not
/// redacted: conn-core redact.rs `secret_params` only starts a pair after `?`, `&`, `;`
/// or at the start of the text, and `secret_literals` only masks a literal that follows
/// a secret-looking word. `conn explain` prints the password (a connection the library
/// accepts: exit 0, "ok").
#[test]
fn review_finding_explain_prints_a_libpq_password_in_an_attach_statement() {
    const PASSWORD: &str = "AttachPw5ecret";
    let project = Project::new(|dir| {
        format!(
            "[connections.duck]\ntype = \"duckdb\"\ndatabase = \"{}\"\ninit = [\"ATTACH \
             'dbname=app host=db.invalid user=app password={PASSWORD}' AS pg (TYPE postgres)\"]\n",
            dir.join("d.duckdb").display()
        )
    });
    for args in [&["explain", "duck"][..], &["explain", "duck", "--json"][..]] {
        let run = project.run(args, &[]);
        assert!(
            !run.all().contains(PASSWORD),
            "{args:?} printed the password:\n{}",
            run.all()
        );
    }
}

/// docs/cli.md: "2 on a configuration error (... an unknown type ...)", "0 when
/// everything worked". `conn list` reports a connection with an unknown type as an
/// error and still exits 0, so a script cannot tell a broken secrets file from a good
/// one by `conn list`'s exit code.
#[test]
fn review_finding_list_exits_0_with_a_broken_connection() {
    let project = Project::new(|_| "[connections.bad]\ntype = \"nosuchtype\"\n".to_owned());
    let run = project.run(&["list"], &[]);
    assert!(
        run.stdout
            .contains("unknown connection type \"nosuchtype\""),
        "{}",
        run.all()
    );
    assert_eq!(run.code, 2, "{}", run.all());
    let run = project.run(&["list", "--json"], &[]);
    assert_eq!(run.code, 2, "{}", run.all());
}

/// DuckDB gives a HUGEINT as Arrow Decimal128(38, 0) (conn-duckdb does not map it, and
/// DuckDB's `arrow_lossless_conversion` is off), so a 39-digit value is outside its
/// type's precision; arrow's decimal formatting then drops a digit. CSV, JSON lines and
/// the table all print 123456789012345678901234567890123456789 as
/// 12345678901234567890123456789012345678 (the value divided by ten), exit 0.
/// Expected: the exact value, or an error naming the column and row.
#[test]
fn review_finding_a_39_digit_hugeint_loses_a_digit() {
    const BIG: &str = "123456789012345678901234567890123456789";
    let project = Project::new(|dir| {
        format!(
            "[connections.duck]\ntype = \"duckdb\"\ndatabase = \"{}\"\n",
            dir.join("h.duckdb").display()
        )
    });
    let sql = format!("select {BIG}::hugeint as h");
    for format in ["csv", "jsonl", "table"] {
        let run = project.run(&["query", "duck", &sql, "--format", format], &[]);
        if run.code == 0 {
            assert!(
                run.stdout.contains(BIG),
                "--format {format} changed the value: {}",
                run.stdout
            );
        } else {
            assert_eq!(run.code, 1, "{}", run.all());
            assert!(
                run.stderr.contains("`h`") || run.stderr.contains("\"h\""),
                "{}",
                run.stderr
            );
        }
    }
}

fn duck_project() -> Project {
    Project::new(|dir| {
        format!(
            "[connections.duck]\ntype = \"duckdb\"\ndatabase = \"{}\"\n",
            dir.join("p.duckdb").display()
        )
    })
}

/// The value of a secret-looking `--param` (`--param token=...`) is printed in an
/// error: DuckDB quotes the string it could not convert, and nothing redacts parameter
/// values (the library's redactor knows the configuration's secrets, not the call's).
/// Expected: values of secret-named parameters masked in errors (the command can add
/// them to what it redacts before printing).
#[test]
fn review_finding_a_secret_param_value_is_printed_in_an_error() {
    const TOKEN: &str = "ParamTok3nValue";
    let project = duck_project();
    let param = format!("token={TOKEN}");
    let run = project
        .run(
            &[
                "query",
                "duck",
                "select cast($token as integer) as x",
                "--param",
                &param,
            ],
            &[],
        )
        .expect(1);
    assert!(!run.all().contains(TOKEN), "{}", run.all());
}

/// `--output result.json` (an extension `conn` has no format for) silently writes CSV
/// into a file named .json. Expected: a usage error (exit 2) asking for `--format`, as
/// for other unknown choices.
#[test]
fn review_finding_an_unknown_output_extension_silently_writes_csv() {
    let project = duck_project();
    let run = project.run(
        &["query", "duck", "select 1 as x", "-o", "result.json"],
        &[],
    );
    let written = std::fs::read_to_string(project.join("result.json")).unwrap_or_default();
    assert_eq!(
        run.code, 2,
        "exit {} and result.json holds {written:?}",
        run.code
    );
}
