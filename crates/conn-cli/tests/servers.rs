//! The built `conn` binary against real servers: PostgreSQL (CONN_TEST_POSTGRES_URL),
//! MariaDB (CONN_TEST_MYSQL_URL) and the S3 peer (moto, CONN_TEST_MOTO_SERVER). Each
//! test is skipped with a message when its variable is unset, and fails then under
//! CONN_TEST_REQUIRE_SERVERS=1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Project, SECRET, create_pets, jsonl, pets_json, pets_section};

/// A project with `pets_db` (SQLite, with the pets), `server` at `url`, `duck` and
/// `files` (a local folder).
fn project_with(server: &str) -> Project {
    let server = server.to_owned();
    let project = Project::new(move |dir| {
        std::fs::create_dir_all(dir.join("data")).unwrap();
        format!(
            "{}\n{server}\n[connections.duck]\ntype = \"duckdb\"\ndatabase = \"{}\"\n\n\
             [connections.files]\ntype = \"files\"\nprotocol = \"file\"\nroot = \"{}\"\n",
            pets_section(dir),
            dir.join("pets.duckdb").display(),
            dir.join("data").display()
        )
    });
    create_pets(&project, "pets_db");
    project
}

/// SQLite -> server table -> query, server -> Parquet file, server -> DuckDB; check
/// passes; a wrong password is refused without showing it.
fn round_trip(project: &Project, table: &str) {
    project.run(&["check", "server"], &[]).expect(0);
    let copy = project
        .run(
            &["copy", "pets_db", "select * from pet", "server", table],
            &[],
        )
        .expect(0);
    assert!(
        copy.stdout
            .starts_with(&format!("copied 3 rows from pets_db to server {table} in ")),
        "{}",
        copy.stdout
    );
    let order = "order by weight desc";
    let back = project
        .run(
            &[
                "query",
                "server",
                &format!("select name, kind, age, weight from {table} {order}"),
                "-f",
                "jsonl",
            ],
            &[],
        )
        .expect(0);
    assert_eq!(jsonl(&back.stdout), pets_json());
    let path = format!("{table}.parquet");
    project
        .run(
            &[
                "copy",
                "server",
                &format!("select name, kind, age, weight from {table} {order}"),
                "files",
                &path,
            ],
            &[],
        )
        .expect(0);
    let read = project
        .run(&["read", "files", &path, "-f", "jsonl"], &[])
        .expect(0);
    assert_eq!(jsonl(&read.stdout), pets_json());
    project
        .run(
            &[
                "copy",
                "server",
                &format!("select name, kind, age, weight from {table}"),
                "duck",
                "pets",
            ],
            &[],
        )
        .expect(0);
    let duck = project
        .run(
            &[
                "query",
                "duck",
                &format!("select * from pets {order}"),
                "-f",
                "jsonl",
            ],
            &[],
        )
        .expect(0);
    assert_eq!(jsonl(&duck.stdout), pets_json());
    let params = project
        .run(
            &[
                "query",
                "server",
                &format!("select name from {table} where age > :age and kind = :kind"),
                "-p",
                "age=4",
                "-p",
                "kind=cat",
            ],
            &[],
        )
        .expect(0);
    assert_eq!(params.stdout, "name\nTom\n");
    project
        .run(
            &[
                "copy",
                "pets_db",
                "select 1 as x",
                "server",
                table,
                "--mode",
                "replace",
            ],
            &[],
        )
        .expect(0);
    let replaced = project
        .run(&["query", "server", &format!("select x from {table}")], &[])
        .expect(0);
    assert_eq!(replaced.stdout, "x\n1\n");
    project
        .run(&["query", "server", &format!("drop table {table}")], &[])
        .expect(0);
}

/// The server URL with the planted secret as its password.
fn with_wrong_password(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!(
        "{scheme}://conn_cli_nobody:{}@{host}",
        common::SECRET_IN_URL
    )
}

fn refused_without_leaking(project: &Project) {
    for args in [
        &["check", "wrong"][..],
        &["check", "wrong", "--json"],
        &["query", "wrong", "select 1"],
    ] {
        let run = project.run(args, &[]);
        assert_eq!(run.code, 1, "{args:?}: {}", run.all());
        for leak in [SECRET, common::SECRET_IN_URL, "S3cr3t"] {
            assert!(
                !run.all().contains(leak),
                "{args:?} printed {leak}: {}",
                run.all()
            );
        }
    }
}

#[test]
fn postgres_check_query_and_copy_both_ways() {
    let Some(url) = conn_testkit::server_url("CONN_TEST_POSTGRES_URL", "PostgreSQL") else {
        return;
    };
    let project = project_with(&format!(
        "[connections.server]\ntype = \"sql\"\nurl = \"{url}\"\n\n\
         [connections.wrong]\ntype = \"sql\"\nurl = \"{}\"\n",
        with_wrong_password(&url)
    ));
    round_trip(&project, &conn_testkit::unique_name("cli_pets"));
    refused_without_leaking(&project);
}

#[test]
fn mariadb_check_query_and_copy_both_ways() {
    let Some(url) = conn_testkit::server_url("CONN_TEST_MYSQL_URL", "MariaDB") else {
        return;
    };
    let project = project_with(&format!(
        "[connections.server]\ntype = \"sql\"\nurl = \"{url}\"\n\n\
         [connections.wrong]\ntype = \"sql\"\nurl = \"{}\"\n",
        with_wrong_password(&url)
    ));
    round_trip(&project, &conn_testkit::unique_name("cli_pets"));
    refused_without_leaking(&project);
}

#[test]
fn s3_copy_read_and_check_through_moto() {
    let Some(moto) = conn_testkit::MotoServer::start(false) else {
        return;
    };
    moto.create_bucket("pets");
    // A second server that checks credentials, for the planted secret to be refused by.
    let Some(strict) = conn_testkit::MotoServer::start(true) else {
        return;
    };
    let project = project_with(&format!(
        "[connections.s3]\ntype = \"files\"\nkey = \"AKIAMOTO\"\nsecret = \"moto-Secret-123\"\n\
         endpoint_url = \"{}\"\nclient_kwargs = {{ region_name = \"us-east-1\" }}\n\n\
         [connections.wrong]\ntype = \"files\"\nprotocol = \"s3\"\nkey = \"AKIAWRONG\"\n\
         secret = \"{SECRET}\"\nendpoint_url = \"{}\"\nroot = \"s3://pets\"\n\
         client_kwargs = {{ region_name = \"us-east-1\" }}\n",
        moto.endpoint(),
        strict.endpoint()
    ));
    project.run(&["check", "s3"], &[]).expect(0);
    for path in ["pets/pets.parquet", "pets/pets.csv", "pets/pets.jsonl"] {
        project
            .run(
                &[
                    "copy",
                    "pets_db",
                    "select * from pet order by weight desc",
                    "s3",
                    path,
                ],
                &[],
            )
            .expect(0);
        let read = project
            .run(&["read", "s3", path, "-f", "jsonl"], &[])
            .expect(0);
        assert_eq!(jsonl(&read.stdout), pets_json(), "{path}");
    }
    project
        .run(&["copy", "s3", "pets/pets.parquet", "duck", "pets"], &[])
        .expect(0);
    let duck = project
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
    assert_eq!(jsonl(&duck.stdout), pets_json());
    for args in [
        &["check", "wrong"][..],
        &["check", "wrong", "--json"],
        &["read", "wrong", "pets.parquet"],
        &["copy", "pets_db", "select * from pet", "wrong", "x.csv"],
        &["explain", "wrong", "--json"],
    ] {
        let run = project.run(args, &[]);
        for leak in [SECRET, common::SECRET_IN_URL, "S3cr3t"] {
            assert!(
                !run.all().contains(leak),
                "{args:?} printed {leak}: {}",
                run.all()
            );
        }
        if args[0] != "explain" {
            assert_eq!(run.code, 1, "{args:?}: {}", run.all());
        }
    }
}

/// Ctrl-C during a query exits with 130 and stops the statement on the server (a
/// ten-minute `pg_sleep` disappears from `pg_stat_activity`).
#[test]
fn ctrl_c_cancels_a_postgres_query_on_the_server() {
    let Some(url) = conn_testkit::server_url("CONN_TEST_POSTGRES_URL", "PostgreSQL") else {
        return;
    };
    let project = project_with(&format!(
        "[connections.server]\ntype = \"sql\"\nurl = \"{url}\"\n"
    ));
    let marker = conn_testkit::unique_name("cli_ctrl_c");
    let child = project.spawn(&[
        "query",
        "server",
        &format!("select pg_sleep(600)::text as slept, '{marker}' as marker"),
    ]);
    let server = project
        .factory()
        .get::<conn::sql::SqlConnection>("server")
        .unwrap();
    let running = || -> i64 {
        let table = server
            .query(format!(
                "select count(*) as n from pg_stat_activity where pid <> pg_backend_pid() \
                 and state = 'active' and query like '%{marker}%'"
            ))
            .ttl(std::time::Duration::ZERO)
            .blocking()
            .unwrap();
        let column = table.column("n").unwrap();
        arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(&column).value(0)
    };
    // Polls until the statement runs (bounded: a run that never starts fails here).
    let mut started = false;
    for _ in 0..600 {
        if running() == 1 {
            started = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(started, "the query never showed in pg_stat_activity");
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: interrupted (Ctrl-C); the statement in flight was cancelled\n"
    );
    // The cancel went out before the process ended: the statement is gone long before
    // its ten minutes (polling, bounded; the sleep would still run without the cancel).
    let mut gone = false;
    for _ in 0..600 {
        if running() == 0 {
            gone = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(gone, "pg_sleep(600) still runs after Ctrl-C");
}
