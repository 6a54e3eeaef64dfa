//! The `files` type against local files, the memory store, and a real S3-compatible
//! server (moto, started by the test when CONN_TEST_MOTO_SERVER names it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::sync::Arc;

use conn_core::arrow::array::{ArrayRef, Int64Array, RecordBatch};
use conn_core::arrow::datatypes::DataType;
use conn_core::{ConnectionFactory, Env, Table, Ttl};
use conn_files::{FilesConnection, Format};
use serde::Deserialize;

fn factory(dir: &Path, secrets: &str, env: &[(&str, &str)]) -> ConnectionFactory {
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

const PETS_CSV: &str = "name,kind,age\nRex,dog,3\nTom,cat,5\nNemo,fish,\n";

#[derive(Deserialize, Debug, PartialEq)]
struct Pet {
    name: String,
    kind: String,
    age: Option<i64>,
}

fn local(dir: &Path) -> Arc<FilesConnection> {
    let factory = factory(
        dir,
        &format!(
            "[connections.data]\ntype = \"files\"\nprotocol = \"file\"\nroot = \"{}\"\n",
            dir.join("data").display()
        ),
        &[],
    );
    std::fs::create_dir_all(dir.join("data")).unwrap();
    factory.get::<FilesConnection>("data").unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn local_files_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let conn = local(dir.path());
    let data = dir.path().join("data");
    std::fs::write(data.join("pets.csv"), PETS_CSV).unwrap();
    std::fs::write(data.join("PETS.CSV.GZ"), gzip(PETS_CSV.as_bytes())).unwrap();
    std::fs::write(data.join("pets.tsv"), PETS_CSV.replace(',', "\t")).unwrap();
    std::fs::write(
        data.join("pets.jsonl"),
        "{\"name\": \"Rex\", \"kind\": \"dog\", \"age\": 3}\n{\"name\": \"Tom\", \"kind\": \"cat\", \"age\": 5}\n{\"name\": \"Nemo\", \"kind\": \"fish\", \"age\": null}\n",
    )
    .unwrap();
    std::fs::write(
        data.join("config.json"),
        "{\"owner\": \"Ada\", \"pets\": 3}",
    )
    .unwrap();
    std::fs::write(data.join("notes.txt"), "hello\nworld\n").unwrap();

    let expected = vec![
        Pet {
            name: "Rex".into(),
            kind: "dog".into(),
            age: Some(3),
        },
        Pet {
            name: "Tom".into(),
            kind: "cat".into(),
            age: Some(5),
        },
        Pet {
            name: "Nemo".into(),
            kind: "fish".into(),
            age: None,
        },
    ];
    for path in ["pets.csv", "PETS.CSV.GZ", "pets.tsv", "pets.jsonl"] {
        let table = conn.read(path).blocking().unwrap();
        assert_eq!(table.rows::<Pet>().unwrap(), expected, "{path}");
    }
    let json = conn.read_json("config.json").blocking().unwrap();
    assert_eq!(json["owner"], "Ada");
    assert_eq!(
        conn.read_text("notes.txt").blocking().unwrap(),
        "hello\nworld\n"
    );

    // Parquet, written by conn and read back with a projection.
    let table = conn.read("pets.csv").blocking().unwrap();
    conn.write("pets.parquet", &table, Format::Parquet)
        .blocking()
        .unwrap();
    let projected = conn
        .read("pets.parquet")
        .option("columns", vec!["age", "name"])
        .blocking()
        .unwrap();
    assert_eq!(
        projected.column_names(),
        vec!["age", "name"],
        "the order asked"
    );
    assert_eq!(projected.schema().field(0).data_type(), &DataType::Int64);
}

#[test]
fn options_and_format_errors() {
    let dir = tempfile::tempdir().unwrap();
    let conn = local(dir.path());
    let data = dir.path().join("data");
    std::fs::write(data.join("semi.csv"), "a;b\n1;2\n").unwrap();
    std::fs::write(data.join("book.xlsx"), "x").unwrap();
    std::fs::write(data.join("x.json"), "{}").unwrap();
    let table = conn.read("semi.csv").option("sep", ";").blocking().unwrap();
    assert_eq!(table.column_names(), vec!["a", "b"]);
    let no_header = conn
        .read("semi.csv")
        .option("delimiter", ";")
        .option("header", false)
        .blocking()
        .unwrap();
    assert_eq!(no_header.num_rows(), 2);

    let err = conn.read("book.xlsx").blocking().unwrap_err().to_string();
    assert_eq!(
        err,
        "cannot tell the format of \"book.xlsx\" from its extension \".xlsx\"; give one of csv, \
         parquet, jsonl, json, text with .format(...)"
    );
    let err = conn.read("x.json").blocking().unwrap_err().to_string();
    assert_eq!(
        err,
        "x.json is json, which is not a table: use read_json or read_text"
    );
    let err = conn
        .read("semi.csv")
        .option("delimeter", ";")
        .blocking()
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "read option `delimeter` does not apply to csv (did you mean `delimiter`?); csv takes: \
         delimiter, sep, header, quote, escape, comment, infer_rows, batch_size, columns"
    );
    let err = conn.read("missing.csv").blocking().unwrap_err().to_string();
    assert!(
        err.starts_with("files connection \"data\", read: Object at location"),
        "{err}"
    );
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn an_overwritten_file_is_never_served_stale() {
    let dir = tempfile::tempdir().unwrap();
    let conn = local(dir.path());
    let file = dir.path().join("data/pets.csv");
    std::fs::write(&file, PETS_CSV).unwrap();
    let first = conn.read("pets.csv").blocking().unwrap();
    let again = conn.read("pets.csv").blocking().unwrap();
    assert!(
        again.shares_data_with(&first),
        "unchanged: served from the cache"
    );
    assert_eq!(conn.stats().cache_hits, 1);
    std::fs::write(&file, "name,kind,age\nRex,dog,3\n").unwrap();
    let fresh = conn.read("pets.csv").blocking().unwrap();
    assert_eq!(fresh.num_rows(), 1, "the new content, not the cached copy");
    let zero = conn.read("pets.csv").ttl(Ttl::ZERO).blocking().unwrap();
    assert!(!zero.shares_data_with(&fresh));
}

#[test]
fn memory_store_write_list_glob_open_delete() {
    let dir = tempfile::tempdir().unwrap();
    let factory = factory(dir.path(), "", &[]);
    let conn = factory.get::<FilesConnection>("memory").unwrap();
    assert_eq!(conn.protocol(), conn_files::Protocol::Memory);
    let table = Table::from_batch(
        RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef)])
            .unwrap(),
    );
    for (path, format) in [
        ("out/a.csv", Format::Csv),
        ("out/b.parquet", Format::Parquet),
        ("out/c.jsonl", Format::Jsonl),
        ("out/sub/d.csv", Format::Csv),
    ] {
        assert_eq!(conn.write(path, &table, format).blocking().unwrap(), 3);
        let back = conn.read(path).blocking().unwrap();
        assert_eq!(
            back.rows::<(i64,)>().unwrap(),
            vec![(1,), (2,), (3,)],
            "{path}"
        );
    }
    let listed: Vec<String> = conn
        .list("out")
        .blocking()
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(
        listed,
        vec!["out/a.csv", "out/b.parquet", "out/c.jsonl", "out/sub/d.csv"]
    );
    let globbed: Vec<String> = conn
        .glob("out/*.csv")
        .blocking()
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(globbed, vec!["out/a.csv"]);
    let deep: Vec<String> = conn
        .glob("out/**/*.csv")
        .blocking()
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(deep, vec!["out/a.csv", "out/sub/d.csv"]);

    let mut text = String::new();
    conn.open_blocking("out/a.csv")
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "n\n1\n2\n3\n");
    let mut writer = conn.create_blocking("streamed.txt").unwrap();
    for i in 0..1000 {
        writeln!(writer, "line {i}").unwrap();
    }
    writer.finish().unwrap();
    assert_eq!(
        conn.read_text("streamed.txt")
            .blocking()
            .unwrap()
            .lines()
            .count(),
        1000
    );

    assert!(conn.exists("out/a.csv").blocking().unwrap());
    conn.delete("out/a.csv").blocking().unwrap();
    assert!(!conn.exists("out/a.csv").blocking().unwrap());
}

#[test]
fn async_reads_from_any_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let conn = local(dir.path());
    std::fs::write(dir.path().join("data/pets.csv"), PETS_CSV).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let table = rt.block_on(async { conn.read("pets.csv").await }).unwrap();
    assert_eq!(table.num_rows(), 3);
    let mut reader = rt.block_on(conn.open("pets.csv").into_future()).unwrap();
    let mut bytes = Vec::new();
    rt.block_on(tokio::io::AsyncReadExt::read_to_end(
        &mut reader,
        &mut bytes,
    ))
    .unwrap();
    assert_eq!(bytes, PETS_CSV.as_bytes());
}

#[test]
fn conformance_on_local_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("one.csv"), "one\n1\n").unwrap();
    let factory = factory(
        dir.path(),
        &format!(
            "[connections.data]\ntype = \"files\"\nroot = \"{}\"\n",
            data.display()
        ),
        &[],
    );
    conn_testkit::Conformance::<FilesConnection> {
        factory,
        name: "data".into(),
        read: |conn, ttl| conn.read("one.csv").ttl(ttl).blocking(),
        stats: FilesConnection::stats,
        health_check: |conn| conn.health_check().blocking(),
        secret: None,
        failing_name: None,
    }
    .run();
}

/// Everything against a real S3-compatible server: every format, write then read,
/// overwrite then read, missing object and bucket, listing.
#[test]
fn s3_end_to_end() {
    let Some(moto) = conn_testkit::MotoServer::start(false) else {
        return;
    };
    moto.create_bucket("pets");
    let dir = tempfile::tempdir().unwrap();
    let factory = factory(
        dir.path(),
        &format!(
            "[connections.s3]\nkey = \"AKIAMOTO\"\nsecret = \"moto-Secret-123\"\n\
             endpoint_url = \"{}\"\nclient_kwargs = {{ region_name = \"us-east-1\" }}\n\
             [connections.scoped]\ntype = \"st_files_connection.FilesConnection\"\nprotocol = \"s3\"\n\
             root = \"s3://pets/scoped\"\nendpoint_url = \"{}\"\n",
            moto.endpoint(),
            moto.endpoint()
        ),
        // The source's own configuration: AWS_* variables, lowest precedence.
        &[
            ("AWS_ACCESS_KEY_ID", "FROM-ENV"),
            ("AWS_SECRET_ACCESS_KEY", "env-secret"),
            ("AWS_REGION", "us-east-1"),
        ],
    );
    let s3 = factory.get::<FilesConnection>("s3").unwrap();
    let expected = vec![
        Pet {
            name: "Rex".into(),
            kind: "dog".into(),
            age: Some(3),
        },
        Pet {
            name: "Tom".into(),
            kind: "cat".into(),
            age: Some(5),
        },
        Pet {
            name: "Nemo".into(),
            kind: "fish".into(),
            age: None,
        },
    ];
    let put = |path: &str, bytes: &[u8]| {
        let mut writer = s3.create_blocking(path).unwrap();
        writer.write_all(bytes).unwrap();
        writer.finish().unwrap();
    };
    put("pets/raw/pets.csv", PETS_CSV.as_bytes());
    put("s3://pets/raw/pets.csv.gz", &gzip(PETS_CSV.as_bytes()));
    put("pets/raw/config.json", b"{\"owner\": \"Ada\"}");
    put("pets/raw/notes.txt", b"hi");
    let table = s3.read("pets/raw/pets.csv").blocking().unwrap();
    assert_eq!(table.rows::<Pet>().unwrap(), expected);
    assert_eq!(
        s3.read("pets/raw/pets.csv.gz")
            .blocking()
            .unwrap()
            .rows::<Pet>()
            .unwrap(),
        expected
    );
    assert_eq!(
        s3.read_json("pets/raw/config.json").blocking().unwrap()["owner"],
        "Ada"
    );
    assert_eq!(s3.read_text("pets/raw/notes.txt").blocking().unwrap(), "hi");

    // Write every tabular format, read it back.
    for (path, format) in [
        ("pets/out/p.parquet", Format::Parquet),
        ("pets/out/p.jsonl", Format::Jsonl),
        ("pets/out/p.csv", Format::Csv),
    ] {
        s3.write(path, &table, format).blocking().unwrap();
        assert_eq!(
            s3.read(path).blocking().unwrap().rows::<Pet>().unwrap(),
            expected,
            "{path}"
        );
    }
    let listed: Vec<String> = s3
        .list("pets/out")
        .blocking()
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(
        listed,
        vec!["pets/out/p.csv", "pets/out/p.jsonl", "pets/out/p.parquet"]
    );

    // The writes above dropped the connection's cached reads (any of them may have
    // changed what a cached read returned); a read caches again.
    let before = s3.read("pets/raw/pets.csv").blocking().unwrap();
    assert!(
        !before.shares_data_with(&table),
        "a write drops cached reads"
    );
    let again = s3.read("pets/raw/pets.csv").blocking().unwrap();
    assert!(again.shares_data_with(&before), "unchanged: cached");
    // Overwrite behind conn's back, then read: the new object, not the cached one.
    put("pets/raw/pets.csv", b"name,kind,age\nRex,dog,3\n");
    assert_eq!(
        s3.read("pets/raw/pets.csv").blocking().unwrap().num_rows(),
        1
    );

    // A scoped connection writes under its root.
    let scoped = factory.get::<FilesConnection>("scoped").unwrap();
    scoped
        .write("x.csv", &table, Format::Csv)
        .blocking()
        .unwrap();
    assert!(s3.exists("pets/scoped/x.csv").blocking().unwrap());

    // Missing object and missing bucket: clear, permanent errors (not retried).
    let missing = s3.read("pets/nope.csv").blocking().unwrap_err();
    assert!(missing.to_string().contains("not found"), "{missing}");
    let retries = s3.stats().retries;
    let no_bucket = s3.read("no-such-bucket/x.csv").blocking().unwrap_err();
    let text = no_bucket.to_string();
    assert!(
        text.starts_with("files connection \"s3\", read: "),
        "{text}"
    );
    assert!(
        text.contains("NoSuchBucket") || text.contains("not found"),
        "{text}"
    );
    assert_eq!(
        s3.stats().retries,
        retries,
        "a missing bucket is not retried"
    );
    assert!(!text.contains("moto-Secret-123"));

    // Secrets beat the environment: the key in secrets.toml is used.
    let config = factory
        .connection("s3")
        .type_name("files")
        .config()
        .unwrap();
    assert_eq!(
        config
            .get("aws_access_key_id")
            .unwrap()
            .source()
            .to_string(),
        "AWS_ACCESS_KEY_ID"
    );
    assert!(config.get("key").is_some());

    conn_testkit::Conformance::<FilesConnection> {
        factory,
        name: "s3".into(),
        read: |conn, ttl| conn.read("pets/raw/pets.csv").ttl(ttl).blocking(),
        stats: FilesConnection::stats,
        health_check: |conn| conn.health_check().blocking(),
        secret: Some("moto-Secret-123".into()),
        failing_name: None,
    }
    .run();
}

/// Wrong credentials against a server that checks them: the error says so, without
/// the secret.
#[test]
fn s3_wrong_credentials() {
    let Some(moto) = conn_testkit::MotoServer::start(true) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let factory = factory(
        dir.path(),
        &format!(
            "[connections.s3]\nkey = \"AKIAWRONG\"\nsecret = \"Wr0ng-Secret-456\"\n\
             endpoint_url = \"{}\"\nregion = \"us-east-1\"\n",
            moto.endpoint()
        ),
        &[],
    );
    let s3 = factory.get::<FilesConnection>("s3").unwrap();
    let err = s3.read("pets/pets.csv").blocking().unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("InvalidAccessKeyId"), "{shown}");
    assert!(!shown.contains("Wr0ng-Secret-456"), "{shown}");
    assert_eq!(s3.stats().retries, 0, "bad credentials are not retried");
}

/// Plain HTTP: Python's http.server (CONN_TEST_PYTHON) serves a folder.
#[test]
fn http_reads() {
    let Some(python) = conn_testkit::server_url("CONN_TEST_PYTHON", "Python (for http.server)")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pets.csv"), PETS_CSV).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new(python)
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let factory = factory(
        dir.path(),
        &format!(
            "[connections.web]\ntype = \"files\"\nprotocol = \"http\"\nroot = \"http://127.0.0.1:{port}\"\n"
        ),
        &[],
    );
    let web = factory.get::<FilesConnection>("web").unwrap();
    let relative = web.read("pets.csv").blocking();
    let absolute = web
        .read(format!("http://127.0.0.1:{port}/pets.csv"))
        .blocking();
    let missing = web.read("nope.csv").blocking();
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(relative.unwrap().rows::<Pet>().unwrap().len(), 3);
    assert_eq!(absolute.unwrap().num_rows(), 3);
    let err = missing.unwrap_err().to_string();
    assert!(err.starts_with("files connection \"web\", read: "), "{err}");
}

#[test]
fn concurrent_identical_reads_fetch_once() {
    let dir = tempfile::tempdir().unwrap();
    let conn = local(dir.path());
    std::fs::write(dir.path().join("data/pets.csv"), PETS_CSV).unwrap();
    let tables: Vec<Table> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|_| scope.spawn(|| conn.read("pets.csv").blocking().unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(conn.stats().queries, 1, "{:?}", conn.stats());
    assert!(tables.iter().all(|t| t.shares_data_with(&tables[0])));
}

/// Found by the round-trip suite (tests/roundtrip): what each format cannot hold is
/// refused naming the column and the row, instead of a null, a corrupt file or an
/// encoder message naming no column; JSON lines keep their columns and their order;
/// a CSV timestamp with more digits than the sampled schema keeps is not cut.
#[test]
fn written_files_read_back_or_refuse_naming_column_and_row() {
    use conn_core::arrow::array::{
        Date32Array, Float64Array, IntervalMonthDayNanoArray, StringArray, TimestampNanosecondArray,
    };
    use conn_core::arrow::datatypes::{Field, IntervalMonthDayNano, Schema, TimeUnit};

    let dir = tempfile::tempdir().unwrap();
    let conn = local(dir.path());
    let table = |columns: Vec<(&str, ArrayRef)>| {
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
                .collect::<Vec<_>>(),
        ));
        let batch =
            RecordBatch::try_new(schema, columns.into_iter().map(|(_, a)| a).collect()).unwrap();
        // Two batches: rows are counted across them.
        Table::new(
            batch.schema(),
            vec![batch.slice(0, 1), batch.slice(1, batch.num_rows() - 1)],
        )
        .unwrap()
    };
    let refused = |path: &str, table: &Table, format: Format| {
        let err = conn.write(path, table, format).blocking().unwrap_err();
        assert!(!conn.exists(path).blocking().unwrap(), "{path} was written");
        err.to_string()
    };

    // JSON has no number for NaN: arrow-json would write null.
    let floats = table(vec![(
        "x",
        Arc::new(Float64Array::from(vec![Some(1.5), None, Some(f64::NAN)])),
    )]);
    assert!(
        refused("nan.jsonl", &floats, Format::Jsonl)
            .ends_with("column \"x\" (Float64), row 2: NaN, which JSON has no number for (it would be written as null); write Parquet, or replace the value first"),
    );
    // A date text cannot show: arrow-json would write the error into the file.
    let dates = table(vec![(
        "d",
        Arc::new(Date32Array::from(vec![Some(0), Some(i32::MAX)])),
    )]);
    for (path, format) in [("far.jsonl", Format::Jsonl), ("far.csv", Format::Csv)] {
        let err = refused(path, &dates, format);
        assert!(
            err.contains("column \"d\" (Date32), row 1: a value that cannot be written as text"),
            "{err}"
        );
    }
    // Parquet has no nanosecond intervals and no negative decimal scales.
    let intervals = table(vec![(
        "iv",
        Arc::new(IntervalMonthDayNanoArray::from(vec![
            IntervalMonthDayNano::new(1, 2, 3),
            IntervalMonthDayNano::new(0, 0, 0),
        ])),
    )]);
    assert!(refused("iv.parquet", &intervals, Format::Parquet).contains(
        "column \"iv\" (Interval(MonthDayNano)): Parquet has no interval with nanoseconds"
    ));

    // JSON lines: a column NULL in the first rows, or in every row, keeps its place.
    let sparse = table(vec![
        ("z", Arc::new(Int64Array::from(vec![Some(1), Some(2)]))),
        ("a", Arc::new(StringArray::from(vec![None, Some("x")]))),
        ("m", Arc::new(StringArray::from(vec![None::<&str>, None]))),
    ]);
    conn.write("sparse.jsonl", &sparse, Format::Jsonl)
        .blocking()
        .unwrap();
    let back = conn
        .read("sparse.jsonl")
        .option("infer_rows", 1)
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    assert_eq!(back.column_names(), vec!["z", "a", "m"]);
    assert_eq!(back.column("m").unwrap().logical_null_count(), 2);

    // An empty CSV's header is quoted like any other.
    let names = table(vec![
        ("a,b", Arc::new(Int64Array::from(vec![1, 2]))),
        ("say \"hi\"", Arc::new(Int64Array::from(vec![3, 4]))),
    ]);
    let empty = Table::empty(Arc::clone(names.schema()));
    conn.write("empty.csv", &empty, Format::Csv)
        .blocking()
        .unwrap();
    let back = conn.read("empty.csv").ttl(Ttl::ZERO).blocking().unwrap();
    assert_eq!(back.column_names(), vec!["a,b", "say \"hi\""]);

    // Nanoseconds after a sample of microsecond timestamps: read again, not cut.
    let stamps = table(vec![(
        "t",
        Arc::new(TimestampNanosecondArray::from(vec![1_000, 2_000, 3_001])),
    )]);
    conn.write("stamps.csv", &stamps, Format::Csv)
        .blocking()
        .unwrap();
    for batch_size in [1, 2, 65_536] {
        let back = conn
            .read("stamps.csv")
            .option("infer_rows", 2)
            .option("batch_size", batch_size)
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap();
        assert_eq!(
            back.schema().field(0).data_type(),
            &DataType::Timestamp(TimeUnit::Nanosecond, None)
        );
        assert_eq!(
            back.column("t").unwrap().as_ref(),
            stamps.column("t").unwrap().as_ref()
        );
    }
}

/// A TCP proxy in front of a server that can be taken down: while down it closes every
/// connection it holds and every new one at once, as a stopped server would look to a
/// client (moto keeps its objects in memory, so the real server cannot be stopped and
/// started again with the data still there).
struct FlakyProxy {
    port: u16,
    down: Arc<std::sync::atomic::AtomicBool>,
    /// Connections accepted, and those closed at once because the proxy was down.
    accepted: Arc<std::sync::atomic::AtomicU64>,
    refused: Arc<std::sync::atomic::AtomicU64>,
    open: Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl FlakyProxy {
    fn start(upstream: u16) -> FlakyProxy {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy = FlakyProxy {
            port: listener.local_addr().unwrap().port(),
            down: Arc::default(),
            accepted: Arc::default(),
            refused: Arc::default(),
            open: Arc::default(),
        };
        let (down, accepted, refused, open) = (
            Arc::clone(&proxy.down),
            Arc::clone(&proxy.accepted),
            Arc::clone(&proxy.refused),
            Arc::clone(&proxy.open),
        );
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                accepted.fetch_add(1, Ordering::SeqCst);
                if down.load(Ordering::SeqCst) {
                    refused.fetch_add(1, Ordering::SeqCst);
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let mut held = open.lock().unwrap();
                for stream in [&client, &server] {
                    held.push(stream.try_clone().unwrap());
                }
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        proxy
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn set_down(&self, down: bool) {
        use std::sync::atomic::Ordering;
        self.down.store(down, Ordering::SeqCst);
        if down {
            for stream in self.open.lock().unwrap().drain(..) {
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
        }
    }

    fn refused(&self) -> u64 {
        self.refused.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn s3_down_between_reads_is_retried_by_object_store_and_the_data_survives() {
    use conn_core::arrow::array::StringArray;
    use conn_core::arrow::datatypes::{Field, Schema};
    use std::time::Duration;

    let Some(moto) = conn_testkit::MotoServer::start(false) else {
        return;
    };
    moto.create_bucket("pets");
    let upstream: u16 = moto.endpoint().rsplit(':').next().unwrap().parse().unwrap();
    let proxy = FlakyProxy::start(upstream);
    let dir = tempfile::tempdir().unwrap();
    let section = |name: &str, retry: &str| {
        format!(
            "[connections.{name}]\ntype = \"files\"\nprotocol = \"s3\"\nkey = \"AKIAMOTO\"\n\
             secret = \"moto-Secret-123\"\nendpoint_url = \"{}\"\n\
             client_kwargs = {{ region_name = \"us-east-1\" }}\nretry = {retry}\n",
            proxy.endpoint()
        )
    };
    let factory = factory(
        dir.path(),
        &format!(
            "{}{}",
            section("s3", "{ attempts = 10, wait = \"200ms\" }"),
            section("once", "{ attempts = 1 }")
        ),
        &[],
    );
    let s3 = factory.get::<FilesConnection>("s3").unwrap();
    let ids: Vec<i64> = (0..10_000).collect();
    let names: Vec<Option<String>> = ids
        .iter()
        .map(|i| (i % 7 != 0).then(|| format!("pet {i}")))
        .collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(ids)),
            Arc::new(StringArray::from(names)),
        ],
    )
    .unwrap();
    let table = Table::from_batch(batch);
    for (path, format) in [
        ("pets/survive.parquet", Format::Parquet),
        ("pets/survive.csv", Format::Csv),
    ] {
        s3.write(path, &table, format).blocking().unwrap();
        let read = |conn: &FilesConnection| {
            conn.read(path)
                .option("batch_size", 7)
                .ttl(Ttl::ZERO)
                .blocking()
        };
        let before = read(&s3).unwrap();
        for column in ["id", "name"] {
            // (CSV reads every column as nullable: compare the values.)
            assert_eq!(
                before.column(column).unwrap().as_ref(),
                table.column(column).unwrap().as_ref(),
                "{path}"
            );
        }
        assert!(before.batches().len() > 1000, "{path}: batches of 7");
        let stats_before = s3.stats();

        // Down: a read without retries fails at once, saying why.
        proxy.set_down(true);
        let once = factory.get::<FilesConnection>("once").unwrap();
        let err = read(&once).unwrap_err().to_string();
        assert!(
            err.contains("error sending request") || err.contains("connection"),
            "{path}: {err}"
        );
        let refused = proxy.refused();

        // Back up 1.5 s later: object_store's retries carry the read across the outage.
        let started = std::time::Instant::now();
        let after = std::thread::scope(|scope| {
            scope.spawn(|| {
                std::thread::sleep(Duration::from_millis(1500));
                proxy.set_down(false);
            });
            read(&s3).unwrap()
        });
        assert!(started.elapsed() >= Duration::from_millis(1400), "{path}");
        assert!(
            proxy.refused() > refused,
            "{path}: no request met the outage"
        );
        assert_eq!(
            after.to_record_batch().unwrap(),
            before.to_record_batch().unwrap(),
            "{path}"
        );
        // One layer retries (object_store's, per request): conn adds none, and the
        // store is not rebuilt.
        let stats = s3.stats();
        assert_eq!(
            (
                stats.retries - stats_before.retries,
                stats.connects - stats_before.connects,
                stats.resets - stats_before.resets
            ),
            (0, 0, 0),
            "{path}: {stats:?}"
        );
    }
}

/// Found by the round-trip suite: the streamed CSV reader took its schema sample by
/// lines, so a quoted newline could cut the last sampled record in two and fail the
/// read ("unequal lengths between records").
#[test]
fn a_quoted_newline_never_cuts_the_schema_sample() {
    use conn_core::arrow::array::StringArray;
    use conn_core::arrow::datatypes::{Field, Schema};

    let dir = tempfile::tempdir().unwrap();
    let factory = factory(
        dir.path(),
        "[connections.mem]\ntype = \"files\"\nprotocol = \"memory\"\n",
        &[],
    );
    let conn = factory.get::<FilesConnection>("mem").unwrap();
    let texts = vec![
        Some("a"),
        Some("line\nbreak"),
        Some("two\n\nbreaks, \"quoted\""),
        None,
        Some("\r"),
        Some("last\nline"),
    ];
    let schema = Arc::new(Schema::new(vec![
        Field::new("t", DataType::Utf8, true),
        Field::new("n", DataType::Int64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(texts)),
            Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5, 6])),
        ],
    )
    .unwrap();
    let table = Table::from_batch(batch);
    conn.write("quoted.csv", &table, Format::Csv)
        .blocking()
        .unwrap();
    for infer_rows in 1..=6 {
        let back = conn
            .read("quoted.csv")
            .option("infer_rows", infer_rows)
            .option("batch_size", 2)
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap_or_else(|e| panic!("infer_rows {infer_rows}: {e}"));
        for column in ["t", "n"] {
            assert_eq!(
                back.column(column).unwrap().as_ref(),
                table.column(column).unwrap().as_ref(),
                "infer_rows {infer_rows}"
            );
        }
    }
}

/// The type's health check (what `conn check` runs): with a root, it asks the store
/// about the root, so a missing bucket or folder fails it, naming it.
#[test]
fn health_checks_ask_about_the_root() {
    let Some(moto) = conn_testkit::MotoServer::start(false) else {
        return;
    };
    moto.create_bucket("present");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("here")).unwrap();
    let s3 = |root: &str| {
        format!(
            "type = \"files\"\nprotocol = \"s3\"\nroot = \"{root}\"\nkey = \"AKIAMOTO\"\n\
             secret = \"moto-Secret-123\"\nendpoint_url = \"{}\"\n\
             client_kwargs = {{ region_name = \"us-east-1\" }}\n",
            moto.endpoint()
        )
    };
    let factory = factory(
        dir.path(),
        &format!(
            "[connections.bucket]\n{}[connections.nobucket]\n{}\
             [connections.folder]\ntype = \"files\"\nprotocol = \"file\"\nroot = \"{}\"\n\
             [connections.nofolder]\ntype = \"files\"\nprotocol = \"file\"\nroot = \"{}\"\n",
            s3("present/data"),
            s3("absent-bucket/data"),
            dir.path().join("here").display(),
            dir.path().join("gone").display(),
        ),
        &[],
    );
    let check = |name: &str| {
        factory
            .get::<FilesConnection>(name)
            .unwrap()
            .health_check()
            .blocking()
    };
    check("bucket").unwrap();
    check("folder").unwrap();
    let err = check("nobucket").unwrap_err().to_string();
    assert!(
        err.contains("health check (listing the root)") && err.contains("NoSuchBucket"),
        "{err}"
    );
    let err = check("nofolder").unwrap_err().to_string();
    assert!(err.ends_with("gone is not a folder"), "{err}");
    // Through the type-erased face `conn check` uses, for every type.
    let any = factory.get_dyn("nofolder").unwrap();
    assert!(any.health_check().unwrap().blocking().is_err());
}

/// A gzip file of several members (`cat a.gz b.gz`, bgzip) is one file: every member's
/// rows are read, by `read()` and by `stream()`, not the first member's alone.
#[test]
fn every_member_of_a_concatenated_gzip_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let conn = local(dir.path());
    let mut joined = gzip(b"n,v\n1,a\n2,b\n");
    joined.extend(gzip(b"3,c\n"));
    joined.extend(gzip(b"4,d\n5,e\n"));
    std::fs::write(dir.path().join("data/joined.csv.gz"), joined).unwrap();
    let table = conn
        .read("joined.csv.gz")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    assert_eq!(table.num_rows(), 5);
    let streamed: usize = conn
        .read("joined.csv.gz")
        .stream()
        .blocking()
        .unwrap()
        .into_iter()
        .map(|batch| batch.unwrap().num_rows())
        .sum();
    assert_eq!(streamed, 5);
}
