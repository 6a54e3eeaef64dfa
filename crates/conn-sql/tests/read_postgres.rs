//! PostgreSQL results read back exactly through both read paths (binary COPY, and
//! binary rows when there are parameters) at every batch size: numeric scales settle
//! over the whole result, type modifiers follow schema changes, and a value Arrow cannot
//! hold is an error naming its column, row and kind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    DataType, Date32Type, Float32Type, Float64Type, Int16Type, Int64Type, IntervalMonthDayNano,
    IntervalMonthDayNanoType, TimeUnit, TimestampMicrosecondType,
};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use common::columns::{
    batches_for, binaries, bools, data_type, days, displayed, float_bits, micros, strings, values,
};
use common::{POSTGRES_VAR, PgScratch, Project};
use conn_core::{Table, Ttl, arrow};
use conn_sql::SqlConnection;

/// A scratch schema and a project with connections to it: `default` (batch size
/// 65,536), `b2` to `b7` (batch sizes 2 to 7) and `one` (a single pooled connection).
fn scratch() -> Option<(PgScratch, Project)> {
    let base = conn_testkit::server_url(POSTGRES_VAR, "PostgreSQL")?;
    let scratch = PgScratch::new(&base);
    let url = scratch.url.clone();
    let mut secrets = format!(
        "[connections.default]\ntype = \"sql\"\nurl = \"{url}\"\n\
         [connections.one]\ntype = \"sql\"\nurl = \"{url}\"\n\
         create_engine_kwargs = {{ pool_size = 1, max_overflow = 0 }}\n"
    );
    for size in 2..=7 {
        secrets.push_str(&format!(
            "[connections.b{size}]\ntype = \"sql\"\nurl = \"{url}\"\nbatch_size = {size}\n"
        ));
    }
    Some((scratch, Project::new(&secrets)))
}

/// Reads `sql` through the COPY path, and through the row path (a parameter forces
/// it) with `sql` wrapped so that it takes one; both must agree.
fn read_both(conn: &SqlConnection, sql: &str) -> conn_core::Result<Table> {
    let copied = conn.query(sql).ttl(Ttl::ZERO).blocking()?;
    let rows = conn
        .query(format!("SELECT * FROM ({sql}) AS q WHERE $1"))
        .bind(true)
        .ttl(Ttl::ZERO)
        .blocking()?;
    assert_eq!(copied.schema(), rows.schema(), "{sql}");
    assert_eq!(copied.to_string(), rows.to_string(), "{sql}");
    assert_eq!(copied.batches().len(), rows.batches().len(), "{sql}");
    Ok(rows)
}

/// The error of reading `sql` through both paths (the same). The connection stays
/// usable: no later statement fails, is retried or resets the pool.
fn read_error(conn: &SqlConnection, sql: &str) -> String {
    let before = conn.stats();
    let copied = conn.query(sql).ttl(Ttl::ZERO).blocking().unwrap_err();
    let rows = conn
        .query(format!("SELECT * FROM ({sql}) AS q WHERE $1"))
        .bind(true)
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap_err();
    assert_eq!(copied.to_string(), rows.to_string());
    conn.query("SELECT 1 AS one")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    let after = conn.stats();
    assert_eq!(
        (after.retries, after.resets),
        (before.retries, before.resets),
        "{sql}"
    );
    common::data_message(&copied, conn)
}

fn small_batches(project: &Project) -> impl Iterator<Item = (usize, Arc<SqlConnection>)> + '_ {
    (2..=7).map(|size| (size, project.sql(&format!("b{size}"))))
}

const ROWS: usize = 17;

fn null_row(r: usize) -> bool {
    [0, 8, ROWS - 1].contains(&r)
}

fn pick<T: Clone>(r: usize, cycle: &[T]) -> Option<T> {
    (!null_row(r)).then(|| cycle[r % cycle.len()].clone())
}

const INTS: [i64; 5] = [i64::MIN, i64::MAX, 0, -1, 42];
const SMALLS: [i16; 3] = [i16::MIN, i16::MAX, 0];
const DOUBLES: [f64; 7] = [
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    0.1,
    -0.0,
    1e308,
    5e-324,
];
const FLOATS: [f32; 4] = [f32::INFINITY, f32::NAN, 1.5, -3.25];
const TEXTS: [&str; 4] = ["", "héllo ✓ 漢字 🎉", "plain", "it's"];
const BLOBS: [&[u8]; 3] = [b"", b"\x00\xff\x01", b"bytes"];
const DATES: [&str; 4] = ["0001-01-01", "9999-12-31", "1970-01-01", "2024-02-29"];
const STAMPS: [&str; 3] = [
    "0001-01-01 00:00:00",
    "9999-12-31 23:59:59.999999",
    "2024-02-29 13:14:15.5",
];
/// numeric(12, 2) values and how they read back.
const PRICES: [&str; 3] = ["1234567890.12", "-0.01", "0.00"];
/// The domain `amount` is numeric(8, 3).
const AMOUNTS: [&str; 2] = ["1.500", "-99999.999"];
/// Unconstrained numerics: integers in the first rows, up to 6 decimal places later;
/// each with how it reads back at the column's scale of 6.
fn free(r: usize) -> Option<(&'static str, &'static str)> {
    let early = [
        ("1", "1.000000"),
        ("-2", "-2.000000"),
        ("70000", "70000.000000"),
    ];
    let late = [
        ("0.5", "0.500000"),
        (
            "-123456789012345678901234567890.123456",
            "-123456789012345678901234567890.123456",
        ),
        ("0.000001", "0.000001"),
    ];
    if r < 6 {
        pick(r, &early)
    } else {
        pick(r, &late)
    }
}
/// Arrays of unconstrained numerics: scale 0 first, scale 2 later.
fn free_array(r: usize) -> Option<(&'static str, Vec<Option<&'static str>>)> {
    if r < 9 {
        pick(
            r,
            &[("ARRAY[1, NULL]::numeric[]", vec![Some("1.00"), None])],
        )
    } else {
        pick(r, &[("ARRAY[0.25, 3]", vec![Some("0.25"), Some("3.00")])])
    }
}
const INTERVALS: [(&str, (i32, i32, i64)); 2] = [
    (
        "1 year 2 months 3 days 04:05:06.789",
        (14, 3, 14_706_789_000_000),
    ),
    ("-1 days -00:00:00.000001", (0, -1, -1000)),
];

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn literal<T>(value: Option<T>, show: impl Fn(T) -> String) -> String {
    value.map_or_else(|| "NULL".to_owned(), show)
}

fn double_literal(f: f64) -> String {
    match f {
        f if f.is_nan() => "'NaN'".into(),
        f64::INFINITY => "'Infinity'".into(),
        f64::NEG_INFINITY => "'-Infinity'".into(),
        f => format!("'{f}'"),
    }
}

fn fill(conn: &SqlConnection) {
    conn.execute(
        "CREATE DOMAIN amount AS numeric(8, 3); \
         CREATE TABLE t (id integer, i8 bigint, i2 smallint, f8 double precision, f4 real, \
         t text, by bytea, d date, ts timestamp, tstz timestamptz, b boolean, \
         price numeric(12, 2), free numeric, arr numeric[], amt amount, iv interval)",
    )
    .blocking()
    .unwrap();
    let rows: Vec<String> = (0..ROWS)
        .map(|r| {
            let values = [
                r.to_string(),
                literal(pick(r, &INTS), |i| i.to_string()),
                literal(pick(r, &SMALLS), |i| i.to_string()),
                literal(pick(r, &DOUBLES), double_literal),
                literal(pick(r, &FLOATS), |f| double_literal(f64::from(f))),
                literal(pick(r, &TEXTS), quote),
                literal(pick(r, &BLOBS), |b| {
                    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
                    format!("'\\x{hex}'::bytea")
                }),
                literal(pick(r, &DATES), quote),
                literal(pick(r, &STAMPS), quote),
                literal(pick(r, &STAMPS), |s| quote(&format!("{s}+00"))),
                literal(pick(r, &[true, false]), |b| b.to_string()),
                literal(pick(r, &PRICES), str::to_owned),
                literal(free(r), |(v, _)| v.to_owned()),
                literal(free_array(r), |(v, _)| v.to_owned()),
                literal(pick(r, &AMOUNTS), str::to_owned),
                literal(pick(r, &INTERVALS), |(v, _)| quote(v)),
            ];
            format!("({})", values.join(", "))
        })
        .collect();
    conn.execute(format!("INSERT INTO t VALUES {}", rows.join(", ")))
        .blocking()
        .unwrap();
}

fn list_items(table: &Table, name: &str) -> Vec<Option<Vec<Option<String>>>> {
    let array = table.column(name).unwrap();
    let list = array.as_list::<i32>();
    (0..list.len())
        .map(|i| {
            list.is_valid(i).then(|| {
                let items = list.value(i);
                let formatter =
                    ArrayFormatter::try_new(items.as_ref(), &FormatOptions::default()).unwrap();
                (0..items.len())
                    .map(|j| items.is_valid(j).then(|| formatter.value(j).to_string()))
                    .collect()
            })
        })
        .collect()
}

fn check(table: &Table, batch_size: usize) {
    let rows = 0..ROWS;
    assert_eq!(table.num_rows(), ROWS);
    assert_eq!(table.batches().len(), batches_for(ROWS, batch_size));
    let list =
        |t: DataType| DataType::List(Arc::new(arrow::datatypes::Field::new_list_field(t, true)));
    let types: Vec<DataType> = table
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(
        types,
        vec![
            DataType::Int32,
            DataType::Int64,
            DataType::Int16,
            DataType::Float64,
            DataType::Float32,
            DataType::Utf8,
            DataType::Binary,
            DataType::Date32,
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            DataType::Boolean,
            DataType::Decimal128(12, 2),
            DataType::Decimal128(38, 6),
            list(DataType::Decimal128(38, 2)),
            DataType::Decimal128(8, 3),
            DataType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano),
        ],
        "batch size {batch_size}"
    );
    let ints: Vec<_> = rows.clone().map(|r| pick(r, &INTS)).collect();
    assert_eq!(values::<Int64Type>(table, "i8"), ints);
    let smalls: Vec<_> = rows.clone().map(|r| pick(r, &SMALLS)).collect();
    assert_eq!(values::<Int16Type>(table, "i2"), smalls);
    let doubles: Vec<_> = rows.clone().map(|r| pick(r, &DOUBLES)).collect();
    assert_eq!(
        float_bits(&values::<Float64Type>(table, "f8")),
        float_bits(&doubles)
    );
    let floats: Vec<Option<f64>> = rows
        .clone()
        .map(|r| pick(r, &FLOATS).map(f64::from))
        .collect();
    let read: Vec<Option<f64>> = values::<Float32Type>(table, "f4")
        .into_iter()
        .map(|f| f.map(f64::from))
        .collect();
    assert_eq!(float_bits(&read), float_bits(&floats));
    let texts: Vec<_> = rows
        .clone()
        .map(|r| pick(r, &TEXTS).map(str::to_owned))
        .collect();
    assert_eq!(strings(table, "t"), texts);
    let blobs: Vec<_> = rows
        .clone()
        .map(|r| pick(r, &BLOBS).map(<[u8]>::to_vec))
        .collect();
    assert_eq!(binaries(table, "by"), blobs);
    let dates: Vec<_> = rows.clone().map(|r| pick(r, &DATES).map(days)).collect();
    assert_eq!(values::<Date32Type>(table, "d"), dates);
    let stamps: Vec<_> = rows.clone().map(|r| pick(r, &STAMPS).map(micros)).collect();
    assert_eq!(values::<TimestampMicrosecondType>(table, "ts"), stamps);
    assert_eq!(values::<TimestampMicrosecondType>(table, "tstz"), stamps);
    let flags: Vec<_> = rows.clone().map(|r| pick(r, &[true, false])).collect();
    assert_eq!(bools(table, "b"), flags);
    let prices: Vec<_> = rows
        .clone()
        .map(|r| pick(r, &PRICES).map(str::to_owned))
        .collect();
    assert_eq!(displayed(table, "price"), prices);
    let frees: Vec<_> = rows
        .clone()
        .map(|r| free(r).map(|(_, v)| v.to_owned()))
        .collect();
    assert_eq!(displayed(table, "free"), frees);
    let arrays: Vec<_> = rows
        .clone()
        .map(|r| {
            free_array(r)
                .map(|(_, items)| items.into_iter().map(|i| i.map(str::to_owned)).collect())
        })
        .collect();
    assert_eq!(list_items(table, "arr"), arrays);
    let amounts: Vec<_> = rows
        .clone()
        .map(|r| pick(r, &AMOUNTS).map(str::to_owned))
        .collect();
    assert_eq!(displayed(table, "amt"), amounts);
    let intervals: Vec<_> = rows
        .map(|r| pick(r, &INTERVALS).map(|(_, (m, d, n))| IntervalMonthDayNano::new(m, d, n)))
        .collect();
    assert_eq!(values::<IntervalMonthDayNanoType>(table, "iv"), intervals);
}

#[test]
fn every_value_reads_back_through_both_paths_at_every_batch_size() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    fill(&project.sql("default"));
    let sql = "SELECT * FROM t ORDER BY id";
    check(&read_both(&project.sql("default"), sql).unwrap(), 65_536);
    for (size, conn) in small_batches(&project) {
        check(&read_both(&conn, sql).unwrap(), size);
    }
}

#[test]
fn an_unconstrained_numeric_after_70000_nulls_keeps_its_scale() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("default");
    conn.execute(
        "CREATE TABLE big AS SELECT g AS id, NULL::numeric AS n FROM generate_series(1, 70000) g; \
         INSERT INTO big VALUES (70001, 1.5), (70002, NULL), (70003, -0.25)",
    )
    .blocking()
    .unwrap();
    let table = read_both(&conn, "SELECT n FROM big ORDER BY id").unwrap();
    assert_eq!(table.batches().len(), 2);
    assert_eq!(data_type(&table, "n"), DataType::Decimal128(38, 2));
    let n = displayed(&table, "n");
    assert!(n[..70_000].iter().all(Option::is_none));
    assert_eq!(
        n[70_000..],
        [Some("1.50".into()), None, Some("-0.25".into())]
    );
    // The same shape at small batch sizes: NULLs, integers, then decimals.
    conn.execute(
        "CREATE TABLE small AS SELECT g AS id, \
         CASE WHEN g < 3 THEN NULL WHEN g < 8 THEN g::numeric ELSE g + 0.125 END AS n \
         FROM generate_series(0, 9) g",
    )
    .blocking()
    .unwrap();
    for (size, conn) in small_batches(&project) {
        let table = read_both(&conn, "SELECT n FROM small ORDER BY id").unwrap();
        assert_eq!(data_type(&table, "n"), DataType::Decimal128(38, 3));
        let expected: Vec<Option<String>> = (0..10)
            .map(|g| match g {
                0..3 => None,
                3..8 => Some(format!("{g}.000")),
                _ => Some(format!("{g}.125")),
            })
            .collect();
        assert_eq!(displayed(&table, "n"), expected, "batch size {size}");
    }
}

#[test]
fn computed_numerics_take_the_largest_scale_of_the_result() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("default");
    let table = read_both(
        &conn,
        "SELECT CASE WHEN g <= 70000 THEN g::numeric ELSE g + 0.25 END AS n \
         FROM generate_series(1, 70002) g ORDER BY g",
    )
    .unwrap();
    assert_eq!(data_type(&table, "n"), DataType::Decimal128(38, 2));
    let n = displayed(&table, "n");
    assert_eq!(n[0].as_deref(), Some("1.00"));
    assert_eq!(n[69_999].as_deref(), Some("70000.00"));
    assert_eq!(n[70_000].as_deref(), Some("70001.25"));
    assert_eq!(n[70_001].as_deref(), Some("70002.25"));
}

#[test]
fn numerics_beyond_38_digits_widen_to_decimal256_exactly() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("default");
    // 35-digit integers in the first batch, then a value with 4 decimal places: 39
    // digits at the column's scale.
    let table = read_both(
        &conn,
        "SELECT CASE WHEN g <= 70000 THEN g * 1e30 ELSE 0.0001 END AS n \
         FROM generate_series(1, 70001) g ORDER BY g",
    )
    .unwrap();
    assert_eq!(data_type(&table, "n"), DataType::Decimal256(76, 4));
    let n = displayed(&table, "n");
    assert_eq!(n[0], Some(format!("1{}.0000", "0".repeat(30))));
    assert_eq!(n[69_999], Some(format!("70000{}.0000", "0".repeat(30))));
    assert_eq!(n[70_000].as_deref(), Some("0.0001"));
    // 60-digit values are wide from the start.
    let table = read_both(&conn, "SELECT -(10::numeric ^ 59) - 0.5 AS n").unwrap();
    assert_eq!(
        displayed(&table, "n"),
        vec![Some(format!("-1{}.5000000000000000", "0".repeat(59)))]
    );
    for (size, conn) in small_batches(&project) {
        let table = read_both(
            &conn,
            "SELECT CASE WHEN g < 5 THEN g * 1e36 ELSE 0.001 END AS n \
             FROM generate_series(0, 6) g ORDER BY g",
        )
        .unwrap();
        assert_eq!(
            data_type(&table, "n"),
            DataType::Decimal256(76, 3),
            "batch size {size}"
        );
        assert_eq!(
            displayed(&table, "n")[4],
            Some(format!("4{}.000", "0".repeat(36)))
        );
    }
}

/// Found by the round-trip suite: a `numeric(38, 2)` value near i128's limit whose
/// last base-10000 group (`01` as `0100`) overflowed an i128 while being decoded made
/// the declared column Decimal256.
#[test]
fn a_declared_numeric_near_the_i128_limit_stays_decimal128() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("default");
    conn.execute(
        "CREATE TABLE near_limit (n numeric(38, 2)); \
         INSERT INTO near_limit VALUES (17014118346046923173168730376109424.01), \
         (-99999999999999999999999999999999999.99), (NULL), (0.01)",
    )
    .blocking()
    .unwrap();
    for (size, conn) in small_batches(&project).chain([(0, Arc::clone(&conn))]) {
        let table = read_both(&conn, "SELECT n FROM near_limit").unwrap();
        assert_eq!(
            data_type(&table, "n"),
            DataType::Decimal128(38, 2),
            "batch size {size}"
        );
        assert_eq!(
            displayed(&table, "n"),
            vec![
                Some("17014118346046923173168730376109424.01".to_owned()),
                Some("-99999999999999999999999999999999999.99".to_owned()),
                None,
                Some("0.01".to_owned()),
            ],
            "batch size {size}"
        );
    }
}

#[test]
fn values_arrow_cannot_hold_are_errors_naming_column_row_and_kind() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("default");
    let err = read_error(
        &conn,
        "SELECT CASE WHEN g = 1 THEN '1e70'::numeric WHEN g <= 70000 THEN g ELSE 1e-10 END \
         AS n FROM generate_series(1, 70001) g ORDER BY g",
    );
    // The first batch alone fits (Decimal256 at scale 0); the second batch's scale of 10
    // does not fit the first batch's first value.
    assert_eq!(
        err,
        format!(
            "column \"n\": row 0 holds 1{}, which needs more than 76 digits at the column's \
             scale of 10 decimal places (the largest in the result), more than Arrow's widest \
             decimal holds; round or cast the column in the query",
            "0".repeat(70)
        )
    );
    let err = read_error(
        &conn,
        "SELECT CASE WHEN g = 70000 THEN 'NaN' ELSE g::numeric END AS n \
         FROM generate_series(0, 70001) g ORDER BY g",
    );
    assert_eq!(
        err,
        "column \"n\": row 70000 holds NaN, which no Arrow decimal can hold; cast the column \
         to double precision or text in the query"
    );
    for (size, conn) in small_batches(&project) {
        let err = read_error(
            &conn,
            "SELECT g, CASE WHEN g = 5 THEN '-Infinity' ELSE g::numeric END AS n \
             FROM generate_series(0, 9) g ORDER BY g",
        );
        assert!(
            err.starts_with("column \"n\": row 5 holds -Infinity, which no Arrow decimal"),
            "batch size {size}: {err}"
        );
        let err = read_error(
            &conn,
            "SELECT CASE WHEN g = 3 THEN 'infinity' ELSE '2024-01-01' END::date AS d \
             FROM generate_series(0, 9) g ORDER BY g",
        );
        assert_eq!(
            err,
            "column \"d\": row 3 holds the date infinity, which Arrow's type for it cannot \
             hold; cast it to text in the query"
        );
        let err = read_error(
            &conn,
            "SELECT CASE WHEN g = 6 THEN '-infinity' ELSE '2024-01-01' END::timestamptz AS ts \
             FROM generate_series(0, 9) g ORDER BY g",
        );
        assert!(
            err.starts_with("column \"ts\": row 6 holds the timestamp -infinity"),
            "{err}"
        );
    }
}

#[test]
fn type_modifiers_follow_schema_changes_on_the_same_connection() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("one");
    conn.execute(
        "CREATE TABLE m (id integer, x numeric(10, 2), k integer, f double precision); \
         INSERT INTO m VALUES (1, 1.25, 7, 1.5)",
    )
    .blocking()
    .unwrap();
    let sql = "SELECT x, k, f FROM m ORDER BY id";
    let before = read_both(&conn, sql).unwrap();
    assert_eq!(data_type(&before, "x"), DataType::Decimal128(10, 2));
    assert_eq!(data_type(&before, "k"), DataType::Int32);
    // Same width on the wire (8 bytes): only the catalog tells a bigint from a double.
    conn.execute(
        "ALTER TABLE m ALTER COLUMN x TYPE numeric(20, 6), ALTER COLUMN k TYPE bigint, \
         ALTER COLUMN f TYPE bigint USING 42; \
         INSERT INTO m VALUES (2, 1.123456, 9000000000, -1)",
    )
    .blocking()
    .unwrap();
    let after = read_both(&conn, sql).unwrap();
    assert_eq!(data_type(&after, "x"), DataType::Decimal128(20, 6));
    assert_eq!(
        displayed(&after, "x"),
        vec![Some("1.250000".into()), Some("1.123456".into())]
    );
    assert_eq!(
        values::<Int64Type>(&after, "k"),
        vec![Some(7), Some(9_000_000_000)]
    );
    assert_eq!(values::<Int64Type>(&after, "f"), vec![Some(42), Some(-1)]);
    conn.execute("ALTER TABLE m ALTER COLUMN x TYPE text")
        .blocking()
        .unwrap();
    let text = read_both(&conn, sql).unwrap();
    assert_eq!(
        strings(&text, "x"),
        vec![Some("1.250000".into()), Some("1.123456".into())]
    );
    // A column added under `SELECT *`: the cached description has one column too few.
    let star = "SELECT * FROM m ORDER BY id";
    assert_eq!(read_both(&conn, star).unwrap().num_columns(), 4);
    conn.execute("ALTER TABLE m ADD COLUMN extra text DEFAULT 'new'")
        .blocking()
        .unwrap();
    let wider = read_both(&conn, star).unwrap();
    assert_eq!(
        strings(&wider, "extra"),
        vec![Some("new".into()), Some("new".into())]
    );
    conn.execute("ALTER TABLE m DROP COLUMN k")
        .blocking()
        .unwrap();
    assert_eq!(read_both(&conn, star).unwrap().num_columns(), 4);
    // The row path first this time: the server refuses the cached plan.
    conn.execute("ALTER TABLE m ADD COLUMN later integer DEFAULT 5")
        .blocking()
        .unwrap();
    let rows = conn
        .query(format!("SELECT * FROM ({star}) AS q WHERE $1"))
        .bind(true)
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    assert_eq!(
        values::<arrow::datatypes::Int32Type>(&rows, "later"),
        vec![Some(5), Some(5)]
    );
    let stats = conn.stats();
    assert_eq!(stats.connects, 1, "one connection throughout");
    assert_eq!((stats.retries, stats.resets), (0, 0));
}

#[test]
fn type_modifiers_are_read_afresh_after_a_reset() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("one");
    conn.execute("CREATE TABLE r (x numeric(5, 1)); INSERT INTO r VALUES (2.5)")
        .blocking()
        .unwrap();
    let sql = "SELECT x FROM r";
    assert_eq!(
        data_type(&read_both(&conn, sql).unwrap(), "x"),
        DataType::Decimal128(5, 1)
    );
    conn.reset();
    conn.execute("ALTER TABLE r ALTER COLUMN x TYPE numeric(7, 3)")
        .blocking()
        .unwrap();
    let table = read_both(&conn, sql).unwrap();
    assert_eq!(data_type(&table, "x"), DataType::Decimal128(7, 3));
    assert_eq!(displayed(&table, "x"), vec![Some("2.500".into())]);
    assert_eq!(conn.stats().connects, 2, "the reset reconnected");
}
