//! Streamed reads of files (`read(path).stream()`): batches as the bytes arrive, the
//! same values and types as `read()`, errors after the first batch ending the stream,
//! and a dropped stream stopping its download, on local files and on S3 (moto).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use conn_core::arrow::array::{Array, AsArray, RecordBatch};
use conn_core::arrow::compute::concat_batches;
use conn_core::arrow::datatypes::{DataType, Field, Int64Type, Schema};
use conn_core::{ConnectionFactory, Env, Table, Ttl};
use conn_files::{FilesConnection, Format};
use conn_testkit::MotoServer;
use conn_testkit::faults::FaultProxy;

/// The tests that measure how much was read or allocated, and those that read or
/// allocate a lot, run one at a time (the counters the first read are the process's).
static MEASURED: Mutex<()> = Mutex::new(());

fn factory(dir: &Path, secrets: &str) -> ConnectionFactory {
    std::fs::create_dir_all(dir.join(".streamlit")).unwrap();
    std::fs::write(dir.join(".streamlit/secrets.toml"), secrets).unwrap();
    ConnectionFactory::builder()
        .env(Env::from_pairs([(
            "HOME",
            dir.join("home").display().to_string(),
        )]))
        .project_dir(dir)
        .build()
}

fn local(dir: &Path) -> Arc<FilesConnection> {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    factory(
        dir,
        &format!(
            "[connections.data]\ntype = \"files\"\nprotocol = \"file\"\nroot = \"{}\"\n",
            dir.join("data").display()
        ),
    )
    .get::<FilesConnection>("data")
    .unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// `rows` CSV records of several types: an id, a float, text, a column with gaps, a
/// date.
fn csv_text(rows: usize) -> String {
    let mut text = String::from("id,price,name,maybe,day\n");
    for i in 0..rows {
        let maybe = if i % 5 == 0 {
            String::new()
        } else {
            (i * 3).to_string()
        };
        text.push_str(&format!(
            "{i},{}.25,name {i},{maybe},2024-01-{:02}\n",
            i % 1000,
            i % 28 + 1
        ));
    }
    text
}

/// The same records as JSON lines.
fn jsonl_text(rows: usize) -> String {
    let mut text = String::new();
    for i in 0..rows {
        let maybe = if i % 5 == 0 {
            "null".to_owned()
        } else {
            (i * 3).to_string()
        };
        text.push_str(&format!(
            "{{\"id\":{i},\"price\":{}.25,\"name\":\"name {i}\",\"maybe\":{maybe}}}\n",
            i % 1000
        ));
    }
    text
}

/// Every batch of a stream of `path` (batch_size 1000), with its schema, and the
/// `read()` of it.
fn stream_and_read(
    conn: &FilesConnection,
    path: &str,
    columns: Option<&[&str]>,
) -> (Vec<RecordBatch>, Table, Table) {
    let with = |mut read: conn_files::Read<Table>| {
        read = read.option("batch_size", 1000);
        if let Some(columns) = columns {
            read = read.option(
                "columns",
                conn_core::Value::from(
                    columns
                        .iter()
                        .map(|c| conn_core::Value::from(*c))
                        .collect::<Vec<_>>(),
                ),
            );
        }
        read
    };
    let stream = with(conn.read(path)).stream().blocking().unwrap();
    let schema = stream.schema();
    let batches: Vec<RecordBatch> = stream.into_iter().map(Result::unwrap).collect();
    assert!(batches.iter().all(|b| b.schema() == schema), "{path}");
    let streamed = Table::new(schema, batches.clone()).unwrap();
    let read = with(conn.read(path)).ttl(Ttl::ZERO).blocking().unwrap();
    (batches, streamed, read)
}

/// Asserts that `streamed` has `read`'s schema and values.
fn assert_same(path: &str, streamed: &Table, read: &Table) {
    assert_eq!(streamed.schema(), read.schema(), "{path}");
    assert_eq!(
        concat_batches(streamed.schema(), streamed.batches()).unwrap(),
        concat_batches(read.schema(), read.batches()).unwrap(),
        "{path}"
    );
}

/// The ids of a stream's batches, in the order they came.
fn ids(batches: &[RecordBatch]) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect()
}

#[test]
fn csv_jsonl_and_parquet_stream_in_batches_as_read_gives_them() {
    let dir = tempfile::tempdir().unwrap();
    let conn = local(dir.path());
    let data = dir.path().join("data");
    let csv = csv_text(10_000);
    let jsonl = jsonl_text(10_000);
    std::fs::write(data.join("t.csv"), &csv).unwrap();
    std::fs::write(data.join("t.csv.gz"), gzip(csv.as_bytes())).unwrap();
    std::fs::write(data.join("t.jsonl"), &jsonl).unwrap();
    std::fs::write(data.join("t.jsonl.gz"), gzip(jsonl.as_bytes())).unwrap();
    let table = conn.read("t.csv").ttl(Ttl::ZERO).blocking().unwrap();
    conn.write("t.parquet", &table, Format::Parquet)
        .blocking()
        .unwrap();
    conn.write("t.csv.zst", &table, Format::Csv)
        .blocking()
        .unwrap();
    conn.write("t.jsonl.bz2", &table, Format::Jsonl)
        .blocking()
        .unwrap();
    for path in [
        "t.csv",
        "t.csv.gz",
        "t.csv.zst",
        "t.jsonl",
        "t.jsonl.gz",
        "t.jsonl.bz2",
        "t.parquet",
    ] {
        let (batches, streamed, read) = stream_and_read(&conn, path, None);
        assert_eq!(batches.len(), 10, "{path}");
        assert_eq!(ids(&batches), (0..10_000).collect::<Vec<i64>>(), "{path}");
        assert_same(path, &streamed, &read);
        assert!(
            streamed.column("maybe").unwrap().null_count() == 2000,
            "{path}"
        );
    }
    // `columns`, in the order asked.
    for path in ["t.csv", "t.csv.gz", "t.jsonl", "t.parquet"] {
        let (_, streamed, read) = stream_and_read(&conn, path, Some(&["name", "id"]));
        let names: Vec<&str> = streamed
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(names, ["name", "id"], "{path}");
        assert_same(path, &streamed, &read);
    }
}

#[test]
fn empty_files_have_their_columns_and_no_batches() {
    let dir = tempfile::tempdir().unwrap();
    let conn = local(dir.path());
    let data = dir.path().join("data");
    std::fs::write(data.join("header.csv"), "a,b,c\n").unwrap();
    std::fs::write(data.join("empty.jsonl"), "").unwrap();
    let rows = conn.read("header.csv").ttl(Ttl::ZERO).blocking().unwrap();
    let empty_parquet = Table::empty(Arc::new(Schema::new(vec![Field::new(
        "n",
        DataType::Int64,
        true,
    )])));
    conn.write("empty.parquet", &empty_parquet, Format::Parquet)
        .blocking()
        .unwrap();
    for path in ["header.csv", "empty.jsonl", "empty.parquet"] {
        let stream = conn.read(path).stream().blocking().unwrap();
        let schema = stream.schema();
        let read = conn.read(path).ttl(Ttl::ZERO).blocking().unwrap();
        assert_eq!(&schema, read.schema(), "{path}");
        assert_eq!(stream.into_iter().count(), 0, "{path}");
    }
    let stream = conn.read("header.csv").stream().blocking().unwrap();
    let names: Vec<String> = stream
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(rows.num_rows(), 0);
    let parquet = conn.read("empty.parquet").stream().blocking().unwrap();
    assert_eq!(parquet.schema().field(0).name(), "n");
}

#[test]
fn a_malformed_row_ends_the_stream_after_the_batches_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let conn = local(dir.path());
    // Record 3000 (line 3002 of the file, after the header) has two fields too few.
    let csv: String = csv_text(5000)
        .lines()
        .map(|line| {
            if line.starts_with("3000,") {
                "3000,0.25,name 3000\n".to_owned()
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    std::fs::write(dir.path().join("data/bad.csv"), &csv).unwrap();
    let mut stream = conn
        .read("bad.csv")
        .option("batch_size", 500)
        .stream()
        .blocking()
        .unwrap()
        .into_iter();
    let mut rows = Vec::new();
    let err = loop {
        match stream.next().expect("an error before the end") {
            Ok(batch) => rows.extend(ids(&[batch])),
            Err(err) => break err,
        }
    };
    assert_eq!(rows, (0..3000).collect::<Vec<i64>>());
    assert_eq!(
        err.to_string(),
        format!(
            "connection \"data\": {}: Csv error: incorrect number of fields for line 3002, \
             expected 5 got 3",
            dir.path().join("data/bad.csv").display()
        )
    );
    assert!(stream.next().is_none());
    assert!(stream.next().is_none());
}

#[test]
fn a_later_value_of_another_type_ends_the_stream_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let conn = local(dir.path());
    let mut csv = csv_text(5000);
    csv = csv.replace("\n4500,500.25,", "\n4500,lots,");
    std::fs::write(dir.path().join("data/typed.csv"), &csv).unwrap();
    let mut stream = conn
        .read("typed.csv")
        .option("batch_size", 1000)
        .stream()
        .blocking()
        .unwrap()
        .into_iter();
    let mut rows = 0;
    let err = loop {
        match stream.next().expect("an error before the end") {
            Ok(batch) => rows += batch.num_rows(),
            Err(err) => break err,
        }
    };
    assert_eq!(rows, 4000);
    assert_eq!(
        err.to_string(),
        format!(
            "connection \"data\": {}: column \"price\" is Float64, but row 4500 holds \
             a string \"lots\"; a stream's column types come from the first 1000 records (raise \
         `infer_rows`, or read the file with read(), which infers them from every record)",
            dir.path().join("data/typed.csv").display()
        )
    );
    assert!(stream.next().is_none());
    // read() infers from every record instead: the column is text.
    let table = conn.read("typed.csv").blocking().unwrap();
    assert_eq!(table.schema().field(1).data_type(), &DataType::Utf8);
}

/// Bytes this process has read (from files and sockets alike).
fn bytes_read() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap();
    io.lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// A CSV of about `megabytes` MB.
fn big_csv(megabytes: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity((megabytes << 20) + 128);
    write_big_csv(&mut bytes, megabytes);
    bytes
}

/// Writes a CSV of about `megabytes` MB to `out`; returns its size.
fn write_big_csv(out: &mut impl std::io::Write, megabytes: usize) -> u64 {
    let payload = "x".repeat(90);
    let mut size = 0;
    let mut line = String::from("id,payload\n");
    let mut i = 0;
    while size < megabytes << 20 {
        out.write_all(line.as_bytes()).unwrap();
        size += line.len();
        line = format!("{i},{payload}\n");
        i += 1;
    }
    size as u64
}

/// A local CSV file of about `megabytes` MB, written without holding it in memory;
/// returns its size.
fn big_csv_file(path: &Path, megabytes: usize) -> u64 {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let size = write_big_csv(&mut file, megabytes);
    file.flush().unwrap();
    size
}

#[test]
fn dropping_a_local_stream_after_one_batch_stops_reading_the_file() {
    let _measured = MEASURED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let conn = local(dir.path());
    let size = big_csv_file(&dir.path().join("data/big.csv"), 96);
    let before = bytes_read();
    let started = Instant::now();
    let mut stream = conn
        .read("big.csv")
        .option("batch_size", 1000)
        .stream()
        .blocking()
        .unwrap()
        .into_iter();
    let first = stream.next().unwrap().unwrap();
    let first_batch = started.elapsed();
    assert_eq!(first.num_rows(), 1000);
    drop(stream);
    // Give the aborted producer its moment to go; whatever it still reads counts.
    assert!(conn_core::plugin::runtime::settle_detached(
        Duration::from_secs(5)
    ));
    std::thread::sleep(Duration::from_millis(200));
    let read = bytes_read() - before;
    eprintln!("local: {read} of {size} bytes read; first batch after {first_batch:?}");
    assert!(read < size / 8, "{read} of {size} bytes were read");
}

fn moto_factory(dir: &Path, proxied: &str, direct: &str) -> ConnectionFactory {
    factory(
        dir,
        &format!(
            "[connections.proxied]\ntype = \"files\"\nprotocol = \"s3\"\nkey = \"AKIAMOTO\"\n\
             secret = \"moto-secret\"\nendpoint_url = \"{proxied}\"\n\
             client_kwargs = {{ region_name = \"us-east-1\" }}\n\
             [connections.direct]\ntype = \"files\"\nprotocol = \"s3\"\nkey = \"AKIAMOTO\"\n\
             secret = \"moto-secret\"\nendpoint_url = \"{direct}\"\n\
             client_kwargs = {{ region_name = \"us-east-1\" }}\n"
        ),
    )
}

#[test]
fn s3_streams_as_read_and_a_dropped_stream_stops_downloading() {
    let _measured = MEASURED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(moto) = MotoServer::start(false) else {
        return;
    };
    moto.create_bucket("stream");
    let (proxy, proxied) = FaultProxy::for_url(&moto.endpoint()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let factory = moto_factory(dir.path(), &proxied, &moto.endpoint());
    let s3 = factory.get::<FilesConnection>("proxied").unwrap();
    let direct = factory.get::<FilesConnection>("direct").unwrap();
    let put = |path: &str, bytes: &[u8]| {
        let mut writer = direct.create_blocking(path).unwrap();
        writer.write_all(bytes).unwrap();
        writer.finish().unwrap();
    };
    let csv = csv_text(10_000);
    put("stream/t.csv", csv.as_bytes());
    put("stream/t.csv.gz", &gzip(csv.as_bytes()));
    put("stream/t.jsonl", jsonl_text(10_000).as_bytes());
    let table = direct.read("stream/t.csv").blocking().unwrap();
    direct
        .write("stream/t.parquet", &table, Format::Parquet)
        .blocking()
        .unwrap();
    for path in [
        "stream/t.csv",
        "stream/t.csv.gz",
        "stream/t.jsonl",
        "stream/t.parquet",
    ] {
        let (batches, streamed, read) = stream_and_read(&s3, path, None);
        assert_eq!(batches.len(), 10, "{path}");
        assert_eq!(ids(&batches), (0..10_000).collect::<Vec<i64>>(), "{path}");
        assert_same(path, &streamed, &read);
    }

    let bytes = big_csv(64);
    let size = bytes.len() as u64;
    put("stream/big.csv", &bytes);
    drop(bytes);
    let before = proxy.stats().bytes_from_server;
    let mut stream = s3
        .read("stream/big.csv")
        .option("batch_size", 1000)
        .stream()
        .blocking()
        .unwrap()
        .into_iter();
    assert_eq!(stream.next().unwrap().unwrap().num_rows(), 1000);
    drop(stream);
    // The download's connection is closed, not read to its end.
    let deadline = Instant::now() + Duration::from_secs(10);
    while proxy.stats().open > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let stats = proxy.stats();
    let downloaded = stats.bytes_from_server - before;
    eprintln!(
        "s3: {downloaded} of {size} bytes downloaded, {} open",
        stats.open
    );
    assert_eq!(stats.open, 0, "the download is still open");
    assert!(
        downloaded < size / 4,
        "{downloaded} of {size} bytes downloaded"
    );
    // The connection still reads.
    let (_, streamed, read) = stream_and_read(&s3, "stream/t.csv", None);
    assert_same("stream/t.csv", &streamed, &read);
}

/// A field of /proc/self/status, in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024
}

/// Runs `work` and returns how far it raised the process's resident memory at its
/// peak (Linux: the peak is reset first, through /proc/self/clear_refs).
fn peak_growth(work: impl FnOnce()) -> u64 {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let base = status_bytes("VmRSS:");
    work();
    status_bytes("VmHWM:").saturating_sub(base)
}

/// Figures for docs and reports (run by hand: `cargo test -p conn-files --test stream
/// -- --ignored --nocapture`): streaming a 192 MB CSV whole keeps the peak memory far
/// below what `read()` of it needs.
#[test]
#[ignore = "a measurement: slow in debug builds, run by hand"]
fn streaming_a_large_csv_keeps_memory_bounded() {
    let _measured = MEASURED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let conn = local(dir.path());
    let size = big_csv_file(&dir.path().join("data/big.csv"), 192);
    let mut rows = 0;
    let started = Instant::now();
    let stream_peak = peak_growth(|| {
        for batch in conn.read("big.csv").stream().blocking().unwrap() {
            rows += batch.unwrap().num_rows();
        }
    });
    let streamed = started.elapsed();
    let mut table = None;
    let started = Instant::now();
    let read_peak = peak_growth(|| {
        table = Some(conn.read("big.csv").ttl(Ttl::ZERO).blocking().unwrap());
    });
    let read = started.elapsed();
    let table = table.unwrap();
    assert_eq!(table.num_rows(), rows);
    eprintln!(
        "{size} bytes, {rows} rows: stream {streamed:?}, peak +{} MB; read() {read:?}, peak +{} MB",
        stream_peak >> 20,
        read_peak >> 20
    );
    assert!(stream_peak < read_peak / 4, "{stream_peak} vs {read_peak}");
}

/// A Parquet file of `groups` row groups of `rows` rows each: an id (from `first`) and
/// a text that does not compress away, so each row group is a sizeable part of the file.
fn parquet_groups(groups: usize, rows: usize, first: i64) -> Vec<u8> {
    use conn_core::arrow::array::{Int64Array, StringArray};
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("text", DataType::Utf8, false),
    ]));
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(rows))
        .set_dictionary_enabled(false)
        .build();
    let mut out = Vec::new();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(&mut out, Arc::clone(&schema), Some(properties))
            .unwrap();
    for group in 0..groups {
        let ids: Vec<i64> = (0..rows as i64)
            .map(|i| first + (group * rows) as i64 + i)
            .collect();
        let texts: Vec<String> = ids
            .iter()
            .map(|i| format!("{:016x}", (*i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)))
            .collect();
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(ids)),
                Arc::new(StringArray::from(texts)),
            ],
        )
        .unwrap();
        writer.write(&batch).unwrap();
        writer.flush().unwrap();
    }
    writer.close().unwrap();
    out
}

#[test]
fn s3_parquet_streams_by_row_group_stops_on_drop_and_never_mixes_versions() {
    let _measured = MEASURED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(moto) = MotoServer::start(false) else {
        return;
    };
    moto.create_bucket("pqstream");
    let (proxy, proxied) = FaultProxy::for_url(&moto.endpoint()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let factory = moto_factory(dir.path(), &proxied, &moto.endpoint());
    let s3 = factory.get::<FilesConnection>("proxied").unwrap();
    let direct = factory.get::<FilesConnection>("direct").unwrap();
    let put = |path: &str, bytes: &[u8]| {
        let mut writer = direct.create_blocking(path).unwrap();
        writer.write_all(bytes).unwrap();
        writer.finish().unwrap();
    };
    let bytes = parquet_groups(8, 200_000, 0);
    let size = bytes.len() as u64;
    put("pqstream/groups.parquet", &bytes);

    // Read whole: every row, in order, in batches of 10,000.
    let (batches, streamed, read) = {
        let stream = s3
            .read("pqstream/groups.parquet")
            .option("batch_size", 10_000)
            .stream()
            .blocking()
            .unwrap();
        let schema = stream.schema();
        let batches: Vec<RecordBatch> = stream.into_iter().map(Result::unwrap).collect();
        let streamed = Table::new(schema, batches.clone()).unwrap();
        let read = s3
            .read("pqstream/groups.parquet")
            .option("batch_size", 10_000)
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap();
        (batches, streamed, read)
    };
    assert_eq!(batches.len(), 160);
    assert_eq!(ids(&batches), (0..1_600_000).collect::<Vec<i64>>());
    assert_same("pqstream/groups.parquet", &streamed, &read);

    // Dropped after one batch: the footer and the first row group, not the file.
    let before = proxy.stats().bytes_from_server;
    let mut stream = s3
        .read("pqstream/groups.parquet")
        .option("batch_size", 10_000)
        .prefetch(1)
        .stream()
        .blocking()
        .unwrap()
        .into_iter();
    assert_eq!(stream.next().unwrap().unwrap().num_rows(), 10_000);
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(10);
    while proxy.stats().open > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let downloaded = proxy.stats().bytes_from_server - before;
    eprintln!("s3 parquet: {downloaded} of {size} bytes downloaded after one batch");
    assert!(
        downloaded < size / 2,
        "{downloaded} of {size} bytes downloaded"
    );

    // Overwritten after the first batch: the batches of the row group in hand, then the
    // next row group's request is refused (If-Match) and the stream ends saying so.
    let mut stream = s3
        .read("pqstream/groups.parquet")
        .option("batch_size", 10_000)
        .prefetch(1)
        .stream()
        .blocking()
        .unwrap()
        .into_iter();
    assert_eq!(stream.next().unwrap().unwrap().num_rows(), 10_000);
    put(
        "pqstream/groups.parquet",
        &parquet_groups(8, 200_000, 10_000_000),
    );
    let mut rows = 10_000;
    let err = loop {
        match stream.next().expect("an error before the end") {
            Ok(batch) => {
                rows += batch.num_rows();
                assert!(ids(&[batch]).iter().all(|id| *id < 10_000_000), "mixed");
            }
            Err(err) => break err,
        }
    };
    assert!(rows < 1_600_000, "{rows}");
    // (Errors name the object by its key in the bucket, as read()'s do.)
    assert_eq!(
        err.to_string(),
        "connection \"proxied\": groups.parquet changed while it was being read (its ETag no \
         longer matches); nothing of the two versions was mixed: read it again"
    );
    assert!(stream.next().is_none());
}
