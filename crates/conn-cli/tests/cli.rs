//! The built `conn` binary against SQLite, DuckDB and local files in temporary
//! projects: exit codes, `--json` shapes, every output format read back, copies between
//! backends, a broken connection, a configuration error, and a planted secret.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs::File;

use common::{Project, SECRET, SECRET_IN_URL, create_pets, jsonl, pets_json, pets_section};
use conn::arrow::record_batch::RecordBatch;
use serde_json::json;

fn pets_project(extra: &str) -> Project {
    let extra = extra.to_owned();
    let project = Project::new(move |dir| format!("{}{extra}", pets_section(dir)));
    create_pets(&project, "pets_db");
    project
}

/// `files` on the project's `data/` folder and `duck` on a DuckDB file.
fn all_backends() -> Project {
    let project = Project::new(|dir| {
        std::fs::create_dir_all(dir.join("data")).unwrap();
        format!(
            "{}\n[connections.duck]\ntype = \"duckdb\"\ndatabase = \"{}\"\n\n\
             [connections.files]\ntype = \"files\"\nprotocol = \"file\"\nroot = \"{}\"\n",
            pets_section(dir),
            dir.join("pets.duckdb").display(),
            dir.join("data").display()
        )
    });
    create_pets(&project, "pets_db");
    project
}

#[test]
fn list_shows_each_connection_its_type_and_where_it_is_defined() {
    let project = all_backends();
    let env = [
        ("CONN_FROM_ENV__URL", "sqlite://"),
        ("CONN_FROM_ENV__TYPE", "sql"),
    ];
    let run = project.run(&["list"], &env).expect(0);
    assert_eq!(
        run.stdout,
        "NAME      TYPE    DEFINED AT\n\
         duck      duckdb  .streamlit/secrets.toml:5:1\n\
         files     files   .streamlit/secrets.toml:9:1\n\
         from_env  sql     environment variable CONN_FROM_ENV__TYPE\n\
         pets_db   sql     .streamlit/secrets.toml:1:1\n\
         \n\
         secrets read from: .streamlit/secrets.toml\n"
    );
    let json = project.run(&["list", "--json"], &env).expect(0).json();
    assert_eq!(
        json["connections"][3],
        json!({"name": "pets_db", "type": "sql", "defined_at": ".streamlit/secrets.toml:1:1", "error": null})
    );
    assert_eq!(json["connections"].as_array().unwrap().len(), 4);
    assert_eq!(
        json["secrets"]["loaded"],
        json!([project.secrets_file().display().to_string()])
    );
    assert_eq!(
        json["secrets"]["searched"],
        json!([
            project
                .join("home/.streamlit/secrets.toml")
                .display()
                .to_string(),
            project.secrets_file().display().to_string()
        ])
    );
}

#[test]
fn list_without_secrets_says_where_it_looked() {
    let project = Project::new(|_| String::new());
    std::fs::remove_file(project.secrets_file()).unwrap();
    let run = project.run(&["list"], &[]).expect(0);
    assert_eq!(
        run.stdout,
        // Paths inside the project (HOME is, here) are shown relative to it.
        "no connections defined (no secrets file found; searched: home/.streamlit/secrets.toml, \
         .streamlit/secrets.toml; no CONN_<NAME>__<KEY> variables set)\n"
    );
    let check = project.run(&["check"], &[]).expect(2);
    assert!(
        check.stderr.starts_with(
            "error: no connections to check: none defined (no secrets file found; searched:"
        ),
        "{}",
        check.stderr
    );
}

#[test]
fn list_types_names_every_built_in_type_with_its_crate_and_example() {
    let project = Project::new(|_| String::new());
    let json = project
        .run(&["list", "--types", "--json"], &[])
        .expect(0)
        .json();
    let types = json["types"].as_array().unwrap();
    let names: Vec<&str> = types.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["duckdb", "files", "snowflake", "sql"]);
    let sql = &types[3];
    assert_eq!(sql["crate"], "conn-sql");
    assert_eq!(sql["type_path"], "conn_sql::SqlConnection");
    assert!(
        sql["aliases"]
            .as_array()
            .unwrap()
            .contains(&json!("streamlit.connections.SQLConnection"))
    );
    assert!(
        sql["example_toml"]
            .as_str()
            .unwrap()
            .contains("[connections.")
    );
    let text = project.run(&["list", "--types"], &[]).expect(0).stdout;
    assert!(
        text.contains("sql  (conn-sql): PostgreSQL, MySQL/MariaDB and SQLite through sqlx\n"),
        "{text}"
    );
}

#[test]
fn check_passes_on_every_backend_and_exits_0() {
    let project = all_backends();
    let run = project.run(&["check"], &[]).expect(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    for (line, (name, type_name)) in
        lines
            .iter()
            .zip([("duck", "duckdb"), ("files", "files"), ("pets_db", "sql")])
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(&words[..3], ["ok", name, type_name], "{line}");
        assert_eq!(words[4], "ms", "{line}");
        words[3].parse::<u64>().unwrap();
    }
    let json = project
        .run(&["check", "pets_db", "--json", "--timeout", "20s"], &[])
        .expect(0)
        .json();
    assert_eq!(json["ok"], true);
    let checked = &json["connections"][0];
    assert_eq!(checked["name"], "pets_db");
    assert_eq!(checked["type"], "sql");
    assert_eq!(checked["status"], "ok");
    assert_eq!(checked["error"], serde_json::Value::Null);
    assert!(checked["ms"].is_u64());
}

#[test]
fn a_broken_connection_fails_check_with_exit_1_and_the_reason() {
    // Nothing listens on port 1: the connect is refused.
    let project = pets_project(
        "\n[connections.down]\ntype = \"sql\"\nurl = \"postgresql://scott@127.0.0.1:1/db\"\n",
    );
    let run = project.run(&["check"], &[]).expect(1);
    let down = run.stdout.lines().next().unwrap();
    assert!(down.starts_with("FAILED  down     sql"), "{down}");
    assert!(
        down.contains("sql connection \"down\", connect: error communicating with database: Connection refused"),
        "{down}"
    );
    assert!(
        down.contains(&format!(
            "(connection configured at {}:5:1)",
            project.secrets_file().display()
        )),
        "{down}"
    );
    assert!(
        run.stdout
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("ok      pets_db  sql")
    );
    let json = project.run(&["check", "--json"], &[]).expect(1).json();
    assert_eq!(json["ok"], false);
    assert_eq!(json["connections"][0]["status"], "failed");
    assert!(
        json["connections"][0]["error"]
            .as_str()
            .unwrap()
            .contains("Connection refused")
    );
    assert_eq!(json["connections"][1]["status"], "ok");
    // Only the healthy one: all pass.
    project.run(&["check", "pets_db"], &[]).expect(0);
}

#[test]
fn a_configuration_error_exits_2_naming_the_key_file_and_line() {
    let project = pets_project("\n[connections.typo]\ntype = \"sql\"\nurll = \"sqlite://\"\n");
    let expected = format!(
        "unknown key `urll` for connection \"typo\" (type sql) at {}:7:8; did you mean \"url\"? Known \
         keys: autocommit, batch_size, connect_timeout, create_engine_kwargs, database, dialect, \
         driver, host, password, port, query, retry, timeout, url, username",
        project.secrets_file().display()
    );
    let check = project.run(&["check"], &[]).expect(2);
    assert!(check.stdout.contains(&expected), "{}", check.stdout);
    let check = project
        .run(&["check", "typo", "--json"], &[])
        .expect(2)
        .json();
    assert_eq!(check["connections"][0]["error"], expected.as_str());
    assert_eq!(check["connections"][0]["error_kind"], "config");
    let explain = project.run(&["explain", "typo"], &[]).expect(2);
    assert!(
        explain.stdout.ends_with(&format!("\nerror: {expected}\n")),
        "{}",
        explain.stdout
    );
    let query = project.run(&["query", "typo", "select 1"], &[]).expect(2);
    assert_eq!(query.stderr, format!("error: {expected}\n"));
    // An unknown connection names the nearest defined one.
    let unknown = project.run(&["explain", "pets"], &[]).expect(2);
    assert!(unknown.stderr.contains("pets_db"), "{}", unknown.stderr);
    // A secrets file that does not parse: file, line and column.
    std::fs::write(project.secrets_file(), "[connections.x\nurl = 1\n").unwrap();
    let broken = project.run(&["list"], &[]).expect(2);
    assert!(
        broken.stderr.starts_with(&format!(
            "error: Error parsing secrets file at {}:",
            project.secrets_file().display()
        )),
        "{}",
        broken.stderr
    );
    assert!(
        broken.stderr.contains("(at line 1, column"),
        "{}",
        broken.stderr
    );
}

#[test]
fn explain_shows_each_value_its_source_and_masks_secrets() {
    let project = pets_project("");
    let env = [("CONN_PETS_DB__CONNECT_TIMEOUT", "5")];
    let run = project.run(&["explain", "pets_db"], &env).expect(0);
    let url = format!("sqlite:///{}", project.join("pets.db").display());
    assert_eq!(
        run.stdout.lines().take(2).collect::<Vec<_>>(),
        [
            "connection pets_db: type sql (the `type` key at .streamlit/secrets.toml:2:8)",
            "defined at .streamlit/secrets.toml:1:1"
        ]
    );
    let json = project
        .run(&["explain", "pets_db", "--json"], &env)
        .expect(0)
        .json();
    assert_eq!(
        json,
        json!({
            "name": "pets_db",
            "type": "sql",
            "type_reason": "the `type` key at .streamlit/secrets.toml:2:8",
            "defined_at": ".streamlit/secrets.toml:1:1",
            "keys": [
                {"key": "connect_timeout", "value": "5", "source": "environment variable CONN_PETS_DB__CONNECT_TIMEOUT", "secret": false},
                {"key": "type", "value": "sql", "source": ".streamlit/secrets.toml:2:8", "secret": false},
                {"key": "url", "value": url, "source": ".streamlit/secrets.toml:3:7", "secret": false},
            ],
            "unknown_keys": [],
            "ignored_keys": [],
            "ok": true,
            "error": null,
        })
    );
    // A connection named after its type, no `type` key.
    let named = Project::new(|_| "[connections.sql]\nurl = \"sqlite://\"\n".into());
    let run = named.run(&["explain", "sql"], &[]).expect(0);
    assert!(
        run.stdout.starts_with(
            "connection sql: type sql (its name \"sql\" is a connection type's name)\n"
        ),
        "{}",
        run.stdout
    );
}

/// The planted secret, in a secrets file password, an environment variable and a URL,
/// never appears in any output: text, `--json`, or errors.
#[test]
fn a_planted_secret_appears_in_no_output() {
    let project = Project::new(move |dir| {
        format!(
            "{}\n[connections.parts]\ntype = \"sql\"\ndialect = \"postgresql\"\nhost = \"127.0.0.1\"\n\
             port = 1\nusername = \"scott\"\npassword = \"{SECRET}\"\ndatabase = \"db\"\n\n\
             [connections.in_url]\ntype = \"sql\"\nurl = \"mysql://scott:{SECRET_IN_URL}@127.0.0.1:1/db\"\n\n\
             [connections.nested]\ntype = \"sql\"\nurl = \"postgresql://127.0.0.1:1/db\"\n\
             create_engine_kwargs = {{ connect_args = {{ password = \"{SECRET}\" }} }}\n",
            pets_section(dir)
        )
    });
    create_pets(&project, "pets_db");
    let env = [
        ("CONN_FROM_ENV__PASSWORD", SECRET),
        ("CONN_FROM_ENV__URL", "postgresql://scott@127.0.0.1:1/db"),
        ("CONN_FROM_ENV__TYPE", "sql"),
    ];
    let mut runs = Vec::new();
    for args in [
        &["list"][..],
        &["list", "--json"],
        &["check"],
        &["check", "--json"],
        &["query", "parts", "select 1"],
        &["query", "in_url", "select 1"],
        &["query", "from_env", "select 1"],
        &["copy", "pets_db", "select * from pet", "in_url", "t"],
        &["copy", "nested", "select 1", "pets_db", "t"],
    ] {
        runs.push((args.join(" "), project.run(args, &env)));
    }
    for name in ["parts", "in_url", "nested", "from_env"] {
        for json in [false, true] {
            let mut args = vec!["explain", name];
            if json {
                args.push("--json");
            }
            let run = project.run(&args, &env).expect(0);
            assert!(run.stdout.contains("***"), "{}", run.stdout);
            runs.push((args.join(" "), run));
        }
    }
    for (args, run) in &runs {
        let all = run.all();
        for leak in [SECRET, SECRET_IN_URL, "S3cr3t", "Leak=Zq"] {
            assert!(!all.contains(leak), "`conn {args}` printed {leak}:\n{all}");
        }
    }
    // The failures did fail, for the right reason.
    let check = &runs[2].1;
    assert_eq!(check.code, 1, "{}", check.all());
    assert!(
        check.stdout.contains("Connection refused"),
        "{}",
        check.stdout
    );
    let explain = project.run(&["explain", "in_url"], &env).expect(0);
    assert!(
        explain
            .stdout
            .contains("\"mysql://scott:***@127.0.0.1:1/db\""),
        "{}",
        explain.stdout
    );
}

#[test]
fn query_writes_every_format_and_each_reads_back_as_the_query() {
    let project = pets_project("");
    let sql = "select name, kind, age, weight from pet order by age is null, age";
    let expected = project.query("pets_db", sql);
    let expected = expected.to_record_batch().unwrap();

    // CSV: the default when standard output is not a terminal.
    let csv = project.run(&["query", "pets_db", sql], &[]).expect(0);
    assert_eq!(
        csv.stdout,
        "name,kind,age,weight\nRex,dog,3,12.5\nTom,cat,5,4.25\nNemo,fish,,0.1\n"
    );
    let jsonl = project
        .run(&["query", "pets_db", sql, "--format", "jsonl"], &[])
        .expect(0);
    assert_eq!(common::jsonl(&jsonl.stdout), pets_json());

    // Parquet and Arrow IPC, to a file (format from the extension) and to stdout.
    project
        .run(&["query", "pets_db", sql, "--output", "pets.parquet"], &[])
        .expect(0);
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        File::open(project.join("pets.parquet")).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    assert_eq!(concat(&batches), expected);

    project
        .run(&["query", "pets_db", sql, "-o", "pets.arrow"], &[])
        .expect(0);
    let reader = arrow_ipc::reader::FileReader::try_new(
        File::open(project.join("pets.arrow")).unwrap(),
        None,
    )
    .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    assert_eq!(concat(&batches), expected);

    let piped = project
        .run(&["query", "pets_db", sql, "--format", "arrow"], &[])
        .expect(0);
    let reader =
        arrow_ipc::reader::FileReader::try_new(std::io::Cursor::new(piped.bytes), None).unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    assert_eq!(concat(&batches), expected);
    let piped = project
        .run(&["query", "pets_db", sql, "--format", "parquet"], &[])
        .expect(0);
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::from(piped.bytes),
    )
    .unwrap()
    .build()
    .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    assert_eq!(concat(&batches), expected);

    // CSV and JSON lines files, and the table with a row limit.
    project
        .run(&["query", "pets_db", sql, "-o", "pets.csv"], &[])
        .expect(0);
    assert_eq!(
        std::fs::read_to_string(project.join("pets.csv")).unwrap(),
        csv.stdout
    );
    project
        .run(&["query", "pets_db", sql, "-o", "pets.ndjson"], &[])
        .expect(0);
    assert_eq!(
        common::jsonl(&std::fs::read_to_string(project.join("pets.ndjson")).unwrap()),
        pets_json()
    );
    let table = project
        .run(
            &["query", "pets_db", sql, "--format", "table", "--limit", "2"],
            &[],
        )
        .expect(0);
    assert_eq!(
        table.stdout,
        " name | kind | age   | weight\n utf8 | utf8 | int64 | float64\n------+------+-------+---------\n \
         Rex  | dog  |     3 |    12.5\n …    | …    |     … |       …\n Nemo | fish |  null |     0.1\n\
         (3 rows × 4 columns)\n"
    );
    // An empty result still has its header.
    let empty = project
        .run(&["query", "pets_db", "select name from pet where 0"], &[])
        .expect(0);
    assert_eq!(empty.stdout, "name\n");
}

fn concat(batches: &[RecordBatch]) -> RecordBatch {
    arrow::compute::concat_batches(&batches[0].schema(), batches).unwrap()
}

#[test]
fn query_parameters_are_typed_as_the_library_types_them() {
    let project = pets_project("");
    let run = project
        .run(
            &[
                "query", "pets_db",
                "select typeof(:i) as i, typeof(:f) as f, typeof(:b) as b, typeof(:t) as t, :t as zip, typeof(:x) as x",
                "-p", "i=42", "-p", "f=2.5", "-p", "b=true", "-p", "t=007", "--param", ":x=1e3",
                "--format", "jsonl",
            ],
            &[],
        )
        .expect(0);
    // SQLite stores booleans as integers.
    assert_eq!(
        jsonl(&run.stdout),
        [
            json!({"i": "integer", "f": "real", "b": "integer", "t": "text", "zip": "007", "x": "text"})
        ]
    );
    let filtered = project
        .run(
            &[
                "query",
                "pets_db",
                "select name from pet where age > :age",
                "-p",
                "age=4",
            ],
            &[],
        )
        .expect(0);
    assert_eq!(filtered.stdout, "name\nTom\n");
    let bad = project
        .run(&["query", "pets_db", "select 1", "-p", "age"], &[])
        .expect(2);
    assert_eq!(
        bad.stderr,
        "error: --param age: write NAME=VALUE (the name without its colon)\n"
    );
    let failed = project
        .run(&["query", "pets_db", "select * from nope"], &[])
        .expect(1);
    assert!(
        failed.stderr.contains("no such table: nope"),
        "{}",
        failed.stderr
    );
}

#[test]
fn copy_moves_tables_between_sqlite_duckdb_and_files() {
    let project = all_backends();
    let copy = project
        .run(
            &["copy", "pets_db", "select * from pet", "duck", "pets"],
            &[],
        )
        .expect(0);
    assert!(
        copy.stdout
            .starts_with("copied 3 rows from pets_db to duck pets in "),
        "{}",
        copy.stdout
    );
    let back = project
        .run(
            &[
                "query",
                "duck",
                "select * from pets order by weight desc",
                "-f",
                "jsonl",
            ],
            &[],
        )
        .expect(0);
    assert_eq!(jsonl(&back.stdout), pets_json());

    // Create refuses an existing table; append adds; replace starts over.
    let again = project
        .run(
            &["copy", "pets_db", "select * from pet", "duck", "pets"],
            &[],
        )
        .expect(1);
    assert!(again.stderr.contains("pets"), "{}", again.stderr);
    project
        .run(
            &[
                "copy",
                "pets_db",
                "select * from pet",
                "duck",
                "pets",
                "--mode",
                "append",
            ],
            &[],
        )
        .expect(0);
    let count = |name: &str, sql: &str| project.run(&["query", name, sql], &[]).expect(0).stdout;
    assert_eq!(count("duck", "select count(*) as n from pets"), "n\n6\n");
    project
        .run(
            &[
                "copy",
                "pets_db",
                "select * from pet",
                "duck",
                "pets",
                "--mode",
                "replace",
            ],
            &[],
        )
        .expect(0);
    assert_eq!(count("duck", "select count(*) as n from pets"), "n\n3\n");
    let params = project
        .run(
            &[
                "query",
                "duck",
                "select name from pets where age > $age and kind = $kind",
                "-p",
                "age=4",
                "-p",
                "kind=cat",
            ],
            &[],
        )
        .expect(0);
    assert_eq!(params.stdout, "name\nTom\n");

    // DuckDB -> Parquet and JSON lines files -> read back -> SQLite.
    for path in ["out/pets.parquet", "out/pets.jsonl", "out/pets.csv.gz"] {
        let json = project
            .run(
                &[
                    "copy",
                    "duck",
                    "select * from pets order by weight desc",
                    "files",
                    path,
                    "--json",
                ],
                &[],
            )
            .expect(0)
            .json();
        assert_eq!(json["rows"], 3, "{json}");
        assert_eq!(json["target"], path);
        let read = project
            .run(&["read", "files", path, "-f", "jsonl"], &[])
            .expect(0);
        assert_eq!(jsonl(&read.stdout), pets_json(), "{path}");
    }
    let exists = project
        .run(
            &["copy", "duck", "select 1 as x", "files", "out/pets.parquet"],
            &[],
        )
        .expect(1);
    assert_eq!(
        exists.stderr,
        "error: out/pets.parquet already exists on connection \"files\" (--mode create); use --mode replace to overwrite it\n"
    );
    project
        .run(
            &["copy", "files", "out/pets.parquet", "pets_db", "pets_again"],
            &[],
        )
        .expect(0);
    project
        .run(
            &[
                "copy",
                "pets_db",
                "select name from pet where age > :age",
                "duck",
                "old",
                "-p",
                "age=4",
            ],
            &[],
        )
        .expect(0);
    assert_eq!(count("duck", "select * from old"), "name\nTom\n");
    let refused = project
        .run(
            &[
                "copy",
                "files",
                "out/pets.parquet",
                "duck",
                "x",
                "-p",
                "a=1",
            ],
            &[],
        )
        .expect(2);
    assert_eq!(
        refused.stderr,
        "error: --param: connection \"files\" reads a file, which takes no parameters\n"
    );
    let back = project
        .run(
            &[
                "query",
                "pets_db",
                "select * from pets_again",
                "-f",
                "jsonl",
            ],
            &[],
        )
        .expect(0);
    assert_eq!(jsonl(&back.stdout), pets_json());

    // Commands on the wrong type say which to use.
    let wrong = project.run(&["query", "files", "select 1"], &[]).expect(2);
    assert_eq!(
        wrong.stderr,
        "error: connection \"files\" is of type files, which reads files rather than running queries: use `conn read files PATH`\n"
    );
    let wrong = project.run(&["read", "duck", "x.csv"], &[]).expect(2);
    assert_eq!(
        wrong.stderr,
        "error: connection \"duck\" is of type duckdb, not files: use `conn query duck SQL`\n"
    );
    let append = project
        .run(
            &[
                "copy",
                "duck",
                "select 1 as x",
                "files",
                "x.csv",
                "--mode",
                "append",
            ],
            &[],
        )
        .expect(2);
    assert!(
        append
            .stderr
            .starts_with("error: --mode append is not possible for files connections")
    );
}

#[test]
fn project_and_secrets_options_choose_what_is_read() {
    let project = pets_project("");
    let elsewhere = tempfile::tempdir().unwrap();
    let other = elsewhere.path().join("other.toml");
    std::fs::write(&other, "[connections.mem]\ntype = \"duckdb\"\n").unwrap();
    // Run from another folder with --project.
    let run = Project::new(|_| String::new()).run(
        &[
            "--project",
            project.path().to_str().unwrap(),
            "query",
            "pets_db",
            "select count(*) as n from pet",
        ],
        &[],
    );
    let run = run.expect(0);
    assert_eq!(run.stdout, "n\n3\n");
    // --secrets replaces the default files.
    let listed = project
        .run(
            &["list", "--json", "--secrets", other.to_str().unwrap()],
            &[],
        )
        .expect(0)
        .json();
    assert_eq!(listed["connections"].as_array().unwrap().len(), 1);
    assert_eq!(listed["connections"][0]["name"], "mem");
    assert_eq!(listed["connections"][0]["type"], "duckdb");
}

#[test]
fn completions_are_printed_for_each_shell() {
    let project = Project::new(|_| String::new());
    for (shell, marker) in [
        ("bash", "_conn()"),
        ("zsh", "#compdef conn"),
        ("fish", "complete -c conn"),
    ] {
        let run = project.run(&["completions", shell], &[]).expect(0);
        assert!(run.stdout.contains(marker), "{shell}: {}", run.stdout);
        assert!(run.stdout.contains("explain"), "{shell}");
    }
    let usage = project.run(&["completions", "tcsh"], &[]).expect(2);
    assert!(
        usage.stderr.contains("invalid value 'tcsh'"),
        "{}",
        usage.stderr
    );
}

/// Streamlit's own secrets file has no `type` key (the app gives the type in code):
/// `--type` gives it, as code does.
#[test]
fn type_option_gives_the_type_as_code_does() {
    let project = Project::new(|dir| {
        format!(
            "[connections.pets_db]\nurl = \"sqlite:///{}\"\n",
            dir.join("pets.db").display()
        )
    });
    let untyped = project.run(&["check"], &[]).expect(2);
    assert!(
        untyped.stdout.contains(&format!(
            "cannot infer the connection type of \"pets_db\": add type = \"...\" to \
             [connections.pets_db] ({}:1:1), set CONN_PETS_DB__TYPE, or ask for a type in code",
            project.secrets_file().display()
        )),
        "{}",
        untyped.stdout
    );
    let listed = project.run(&["list"], &[]).expect(0);
    assert!(listed.stdout.contains("pets_db  ?   "), "{}", listed.stdout);
    let run = project.run(&["check", "--type", "sql"], &[]).expect(0);
    assert!(
        run.stdout.starts_with("ok      pets_db  sql"),
        "{}",
        run.stdout
    );
    let explain = project
        .run(&["--type", "sql", "explain", "pets_db"], &[])
        .expect(0);
    assert!(
        explain.stdout.starts_with(
            "connection pets_db: type sql (--type sql, as the app gives it in code)\n"
        ),
        "{}",
        explain.stdout
    );
    let query = project
        .run(
            &["query", "pets_db", "select 1 as one", "--type", "sql"],
            &[],
        )
        .expect(0);
    assert_eq!(query.stdout, "one\n1\n");
    let unknown = project.run(&["check", "--type", "sqll"], &[]).expect(2);
    assert!(unknown.stdout.contains("sqll"), "{}", unknown.stdout);
    assert!(unknown.stdout.contains("\"sql\""), "{}", unknown.stdout);
}

/// The source's own configuration (`AWS_*` for S3) is a source too: its secret is masked
/// in `explain` and never printed by a failing check or read.
#[test]
fn a_secret_from_the_sources_own_configuration_is_masked() {
    let project = Project::new(|_| {
        "[connections.bucket]\ntype = \"files\"\nprotocol = \"s3\"\nroot = \"s3://pets\"\n\
         endpoint_url = \"http://127.0.0.1:1\"\n"
            .into()
    });
    let env = [
        ("AWS_ACCESS_KEY_ID", "AKIAPLANTED"),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_REGION", "us-east-1"),
    ];
    let json = project
        .run(&["explain", "bucket", "--json"], &env)
        .expect(0)
        .json();
    let keys = json["keys"].as_array().unwrap();
    let secret: Vec<&serde_json::Value> = keys
        .iter()
        .filter(|k| k["source"] == "AWS_SECRET_ACCESS_KEY")
        .collect();
    assert_eq!(secret.len(), 1, "{json:#}");
    assert_eq!(secret[0]["value"], "***");
    assert_eq!(secret[0]["secret"], true);
    let mut runs = vec![json.to_string()];
    for args in [
        &["explain", "bucket"][..],
        &["check", "bucket", "--timeout", "1s"],
        &["check", "bucket", "--json", "--timeout", "1s"],
        &["read", "bucket", "pets.csv", "--timeout", "1s"],
    ] {
        let run = project.run(args, &env);
        if args[0] != "explain" {
            assert_eq!(run.code, 1, "{args:?}: {}", run.all());
        }
        runs.push(run.all());
    }
    for all in &runs {
        for leak in [SECRET, SECRET_IN_URL, "S3cr3t"] {
            assert!(!all.contains(leak), "printed {leak}:\n{all}");
        }
    }
}

/// A reader that stops early (`conn query ... | head -1`) is not an error.
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let project = pets_project("");
    project.execute(
        "pets_db",
        &[
            "create table big as with recursive n(i) as (select 1 union all select i + 1 from n \
           where i < 200000) select i, 'some text to make the rows longer' as t from n",
        ],
    );
    let mut child = project.spawn(&["query", "pets_db", "select * from big"]);
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    assert_eq!(&first[..4], b"i,t\n");
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).as_ref()
        ),
        (Some(0), "")
    );
}

/// `pets_db` and `small`, the same SQLite file read in batches of 1000 rows, with the
/// table `mixed`: `i` from 0 to 9999 and `v` = `i`, except `v` = 7000.5 at row 7000.
fn mixed_project() -> Project {
    let project = Project::new(|dir| {
        format!(
            "{}\n[connections.small]\ntype = \"sql\"\nurl = \"sqlite:///{}\"\nbatch_size = 1000\n",
            pets_section(dir),
            dir.join("pets.db").display()
        )
    });
    project.execute(
        "pets_db",
        &[
            "create table mixed as with recursive n(i) as (select 0 union all select i + 1 \
           from n where i < 9999) select i, case when i = 7000 then i + 0.5 else i end as v \
           from n",
        ],
    );
    project
}

#[test]
fn a_streamed_query_writes_every_batch_and_reads_back_whole() {
    let project = mixed_project();
    project
        .run(
            &[
                "query",
                "small",
                "select i, i * 2 as d from mixed order by i",
                "-o",
                "all.jsonl",
            ],
            &[],
        )
        .expect(0);
    let text = std::fs::read_to_string(project.join("all.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 10_000);
    assert_eq!(lines[0], r#"{"i":0,"d":0}"#);
    assert_eq!(lines[6543], r#"{"i":6543,"d":13086}"#);
    assert_eq!(lines[9999], r#"{"i":9999,"d":19998}"#);
}

#[test]
fn explain_names_every_unknown_key_and_every_ignored_one() {
    let project = Project::new(|_| {
        "[connections.db]\ntype = \"sql\"\nurl = \"sqlite://\"\nbatch_sise = 10\n\
         pasword = \"x\"\ncolour = \"blue\"\n\
         create_engine_kwargs = { pool_sise = 2, echo_pool = true, future = true }\n"
            .into()
    });
    let run = project.run(&["explain", "db"], &[]).expect(2);
    let text = &run.stdout;
    for line in [
        "unknown keys (type sql does not read them):",
        "  batch_sise (.streamlit/secrets.toml:4:14): did you mean `batch_size`?",
        "  pasword (.streamlit/secrets.toml:5:11): did you mean `password`?",
        "  colour (.streamlit/secrets.toml:6:10)",
        "  create_engine_kwargs.pool_sise (.streamlit/secrets.toml:7:38): did you mean `pool_size`?",
        "ignored keys (accepted as Streamlit accepts them, no effect):",
        "  create_engine_kwargs.echo_pool (.streamlit/secrets.toml:7:53): SQLAlchemy's \
         create_engine option has no equivalent in sqlx's pool",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in:\n{text}"
        );
    }
    let json = project
        .run(&["explain", "db", "--json"], &[])
        .expect(2)
        .json();
    let unknown: Vec<&str> = json["unknown_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        unknown,
        [
            "batch_sise",
            "colour",
            "pasword",
            "create_engine_kwargs.pool_sise"
        ]
    );
    assert_eq!(json["unknown_keys"][2]["did_you_mean"], "password");
    assert_eq!(json["unknown_keys"][1]["did_you_mean"], json!(null));
    assert_eq!(
        json["ignored_keys"],
        json!([
            {"key": "create_engine_kwargs.echo_pool", "source": ".streamlit/secrets.toml:7:53",
             "reason": "SQLAlchemy's create_engine option has no equivalent in sqlx's pool"},
            {"key": "create_engine_kwargs.future", "source": ".streamlit/secrets.toml:7:68",
             "reason": "SQLAlchemy's create_engine option has no equivalent in sqlx's pool"},
        ])
    );
    // The error is still the first unknown key's.
    assert_eq!(json["ok"], false);
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .starts_with("unknown key `batch_sise` for connection \"db\""),
        "{}",
        json["error"]
    );
}

#[test]
fn a_streamed_file_read_stops_at_a_value_its_types_cannot_hold_and_whole_reads_it() {
    let project = all_backends();
    let mut csv = String::from("i,v\n");
    for i in 0..20_000 {
        if i == 15_000 {
            csv.push_str(&format!("{i},{i}.5\n"));
        } else {
            csv.push_str(&format!("{i},{i}\n"));
        }
    }
    std::fs::write(project.join("data/mixed.csv"), csv).unwrap();
    let failed = project
        .run(&["read", "files", "mixed.csv", "-o", "out.jsonl"], &[])
        .expect(1);
    assert!(
        failed.stderr.contains("(conn: run again with --whole)"),
        "{}",
        failed.stderr
    );
    assert!(
        !project.join("out.jsonl").exists(),
        "no partial output file"
    );
    project
        .run(
            &["read", "files", "mixed.csv", "-o", "out.jsonl", "--whole"],
            &[],
        )
        .expect(0);
    let text = std::fs::read_to_string(project.join("out.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 20_000);
    assert_eq!(lines[15_000], r#"{"i":15000,"v":15000.5}"#);
    assert_eq!(lines[14_999], r#"{"i":14999,"v":14999.0}"#);
}

#[test]
fn a_streamed_value_that_does_not_fit_its_column_stops_the_query_and_whole_reads_it() {
    let project = mixed_project();
    std::fs::write(project.join("out.csv"), "old\n").unwrap();
    let sql = "select i, v from mixed order by i";
    let failed = project
        .run(&["query", "small", sql, "-o", "out.csv"], &[])
        .expect(1);
    assert!(
        failed.stderr.contains(
            "column \"v\", row 7000: a Float64 value does not fit the column's type Int64"
        ) && failed.stderr.contains("(conn: run again with --whole)"),
        "{}",
        failed.stderr
    );
    assert_eq!(
        std::fs::read_to_string(project.join("out.csv")).unwrap(),
        "old\n",
        "a failed query left the output file as it was"
    );
    project
        .run(&["query", "small", sql, "-o", "out.csv", "--whole"], &[])
        .expect(0);
    let text = std::fs::read_to_string(project.join("out.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 10_001);
    assert_eq!(lines[1], "0,0.0");
    assert_eq!(lines[7001], "7000,7000.5");
}
