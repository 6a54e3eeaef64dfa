//! Reading a 1M-row Parquet file and a 1M-row CSV file into a Table through conn (local
//! files through object_store) against the parquet and arrow-csv crates used directly,
//! in the same run. Target: <= 1.1x.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::hint::black_box;
use std::io::Seek;
use std::sync::Arc;
use std::time::Duration;

use conn::Ttl;
use conn::arrow::array::RecordBatch;
use conn::files::FilesConnection;
use conn_benches::{data_dir, exists, factory, table};
use criterion::{Criterion, criterion_group, criterion_main};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn write_data() {
    let dir = data_dir();
    let parquet = dir.join("files-1m.parquet");
    let csv = dir.join("files-1m.csv");
    if exists(&parquet) && exists(&csv) {
        return;
    }
    let data = table(1_000_000);
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        File::create(&parquet).unwrap(),
        Arc::clone(data.schema()),
        None,
    )
    .unwrap();
    let mut csv_writer = arrow_csv::Writer::new(File::create(&csv).unwrap());
    for batch in data.batches() {
        writer.write(batch).unwrap();
        csv_writer.write(batch).unwrap();
    }
    writer.close().unwrap();
}

fn parquet_direct(path: &std::path::Path) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .with_batch_size(65_536)
        .build()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn csv_direct(path: &std::path::Path) -> Vec<RecordBatch> {
    let mut file = File::open(path).unwrap();
    let format = arrow_csv::reader::Format::default().with_header(true);
    let (schema, _) = format.infer_schema(&mut file, Some(1000)).unwrap();
    file.rewind().unwrap();
    arrow_csv::ReaderBuilder::new(Arc::new(schema))
        .with_format(format)
        .with_batch_size(65_536)
        .build(file)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Reads a file with a format crate alone.
type DirectReader = fn(&std::path::Path) -> Vec<RecordBatch>;

fn bench(c: &mut Criterion) {
    write_data();
    let dir = data_dir();
    let factory = factory(&format!(
        "[connections.data]\ntype = \"files\"\nroot = \"{}\"\n",
        dir.display()
    ));
    let conn = factory.get::<FilesConnection>("data").unwrap();
    let cases: [(&str, DirectReader, &str); 2] = [
        ("files-1m.parquet", parquet_direct, "parquet_crate"),
        ("files-1m.csv", csv_direct, "arrow_csv_crate"),
    ];
    for (file, direct, direct_name) in cases {
        let via_conn = conn.read(file).ttl(Ttl::ZERO).blocking().unwrap();
        let rows: usize = direct(&dir.join(file))
            .iter()
            .map(RecordBatch::num_rows)
            .sum();
        assert_eq!(via_conn.num_rows(), rows);
        assert_eq!(rows, 1_000_000);
        let mut group = c.benchmark_group(format!("files/{file}"));
        group.bench_function("conn", |b| {
            b.iter(|| black_box(conn.read(file).ttl(Ttl::ZERO).blocking().unwrap()));
        });
        let path = dir.join(file);
        group.bench_function(direct_name, |b| b.iter(|| black_box(direct(&path))));
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(8));
    targets = bench
}
criterion_main!(benches);
