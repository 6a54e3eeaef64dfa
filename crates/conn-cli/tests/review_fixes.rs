//! Defects a review of the `conn` command found, each fixed: every test here failed
//! before its fix.
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

/// JSON lines turns an infinite (or NaN) float into `null` (arrow-json writes
/// non-finite floats as null): the value changes silently. Expected: an error naming
/// the column and row (exit 1), or a representation that reads back.
#[test]
fn jsonl_turns_infinity_into_null() {
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
fn explain_prints_a_url_password_containing_a_hash() {
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

/// `--output FILE` truncates the file before writing and deletes it when writing
/// fails, so a failed run destroys the previous result (and a reader meanwhile sees a
/// half-written file). Here CSV cannot hold a DuckDB list column: the command fails
/// (rightly, exit 1) but `report.csv` from an earlier run is gone. Expected: write to a
/// temporary sibling and rename it over FILE only on success.
#[test]
fn a_failed_output_write_destroys_the_existing_file() {
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
fn explain_prints_a_libpq_password_in_an_attach_statement() {
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
fn list_exits_0_with_a_broken_connection() {
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
fn a_39_digit_hugeint_loses_a_digit() {
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
fn a_secret_param_value_is_printed_in_an_error() {
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
fn an_unknown_output_extension_silently_writes_csv() {
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
