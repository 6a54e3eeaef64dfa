//! Against a real Snowflake account, when `CONN_TEST_SNOWFLAKE` names a secrets file
//! whose `[connections.snowflake]` section reaches one (a role that may create tables
//! in its schema). Skipped otherwise, in CI too: no account is reachable from here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use conn_core::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use conn_core::{ConnectionFactory, Table, Ttl, WriteMode};
use conn_snowflake::SnowflakeConnection;

const VAR: &str = "CONN_TEST_SNOWFLAKE";

#[test]
fn a_real_account_round_trip() {
    let Ok(secrets) = std::env::var(VAR) else {
        eprintln!(
            "skipped a_real_account_round_trip: set {VAR} to a secrets.toml with [connections.snowflake]"
        );
        return;
    };
    let factory = ConnectionFactory::builder()
        .secrets_files([secrets])
        .build();
    let sf = factory.get::<SnowflakeConnection>("snowflake").unwrap();

    // Every type, and NULLs.
    let types = sf
        .query(
            "select 1::number(38,0) i, 1.25::number(10,2) d, 0.5::float f, 'x' s, true b, \
             '2024-02-29'::date dt, '12:34:56.789'::time t, '2024-02-29 12:34:56.123456789'::timestamp_ntz ntz, \
             '2024-02-29 12:34:56 +02:00'::timestamp_tz tz, to_binary('00ff', 'HEX') bin, \
             parse_json('{\"a\": 1}') v, null::number(38,0) n",
        )
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    assert_eq!(types.num_rows(), 1);
    println!("{types}");

    // A result in many chunks, in order.
    let many = sf
        .query("select seq8() as id from table(generator(rowcount => 2000000)) order by id")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    assert_eq!(many.num_rows(), 2_000_000);
    let mut next = 0_i64;
    for batch in many.batches() {
        let ids = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        for id in ids.values() {
            assert_eq!(*id, next);
            next += 1;
        }
    }

    // write_table replace, then read back; then drop the table.
    let name = format!("CONN_TEST_{}", std::process::id());
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..25_000));
    let labels: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..25_000).map(|i| format!("row {i}")),
    ));
    let table =
        Table::from_batch(RecordBatch::try_from_iter([("id", ids), ("label", labels)]).unwrap());
    sf.write_table(&name, &table, WriteMode::Replace)
        .blocking()
        .unwrap();
    sf.write_table(&name, &table, WriteMode::Replace)
        .blocking()
        .unwrap();
    let count = sf
        .query(format!("select count(*) as n from {name}"))
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    println!("{count}");
    sf.execute(format!("drop table {name}")).blocking().unwrap();
}
