//! Shared setup for conn's benchmarks: data sets written once into a folder.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use conn::arrow::array::{
    BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use conn::{ConnectionFactory, Env, Table};

/// A folder kept between benchmark runs, so data sets are written once.
pub fn data_dir() -> PathBuf {
    let dir = std::env::var("CONN_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir().join("conn-bench"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `rows` rows of five columns: id, name, value, flag, at.
pub fn table(rows: usize) -> Table {
    let batch_rows = 65_536;
    let mut batches = Vec::new();
    let mut start = 0;
    while start < rows {
        let end = (start + batch_rows).min(rows);
        let ids: Vec<i64> = (start as i64..end as i64).collect();
        let batch = RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(ids.clone())) as _),
            (
                "name",
                Arc::new(StringArray::from_iter_values(
                    ids.iter().map(|i| format!("name {i}")),
                )) as _,
            ),
            (
                "value",
                Arc::new(Float64Array::from_iter_values(
                    ids.iter().map(|i| *i as f64 * 0.25),
                )) as _,
            ),
            (
                "flag",
                Arc::new(BooleanArray::from_iter(
                    ids.iter().map(|i| Some(i % 3 == 0)),
                )) as _,
            ),
            (
                "at",
                Arc::new(TimestampMicrosecondArray::from_iter_values(
                    ids.iter().map(|i| 1_700_000_000_000_000 + i * 1_000_000),
                )) as _,
            ),
        ])
        .unwrap();
        batches.push(batch);
        start = end;
    }
    let schema = batches[0].schema();
    Table::new(schema, batches).unwrap()
}

/// A factory whose secrets are `secrets`, with an empty environment.
pub fn factory(secrets: &str) -> ConnectionFactory {
    let secrets = conn::Secrets::from_toml_str(secrets, "bench/secrets.toml", None).unwrap();
    ConnectionFactory::builder()
        .env(Env::from_pairs::<&str, &str>([]))
        .secrets(secrets)
        .build()
}

/// Whether `path` exists (data sets are reused).
pub fn exists(path: &Path) -> bool {
    path.metadata().is_ok_and(|m| m.len() > 0)
}
