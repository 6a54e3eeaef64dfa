//! `write_table` against the real MySQL/MariaDB server: every Arrow type into every
//! column type that can hold it (and the refusals), `Create`'s mapping, identifiers,
//! long names with `Replace`, and sessions that refuse implicit commits. Skipped with a
//! message when CONN_TEST_MYSQL_URL is unset.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::matrix::{Case, created, days, fails, ok, run_append, run_create, src::*};
use common::{MYSQL_VAR, MySqlScratch, Project};
use conn_core::arrow::array::{
    Date32Array, Int32Array, RecordBatch, StringArray, Time64MicrosecondArray,
};
use conn_core::arrow::datatypes::{DataType, Field, Schema};
use conn_core::{Table, Ttl};
use conn_sql::{SqlConnection, WriteMode};

fn scratch() -> Option<(MySqlScratch, Project)> {
    let base = conn_testkit::server_url(MYSQL_VAR, "MySQL/MariaDB")?;
    let scratch = MySqlScratch::new(&base);
    let project = Project::new(&format!(
        "[connections.my]\ntype = \"sql\"\nurl = \"{}\"\n",
        scratch.url
    ));
    Some((scratch, project))
}

fn type_error(arrow: &str, column: &str) -> String {
    format!("column \"v\": cannot write Arrow {arrow} values to a MySQL column of type {column}")
}

fn value_error(column: &str, row: usize, kind: &str) -> String {
    format!("column \"v\" ({column}), row {row}: {kind}")
}

fn range(column: &str, row: usize, min: &str, max: &str) -> String {
    value_error(
        column,
        row,
        &format!("a value out of the column's range ({min} to {max})"),
    )
}

fn append_cases() -> Vec<Case> {
    vec![
        // BOOLEAN is TINYINT(1), which conn reads back as Boolean.
        ok("BOOLEAN", bools(), &["true", "false", "NULL"]),
        ok("BOOLEAN", small(&[1, 0]), &["true", "false", "NULL"]),
        fails("BOOLEAN", small(&[1, 2]), &range("tinyint(1)", 1, "0", "1")),
        fails(
            "BOOLEAN",
            strs(&["true"]),
            &type_error("Utf8", "tinyint(1)"),
        ),
        // integers
        ok("TINYINT", i8s(), &["-128", "127", "NULL"]),
        ok("TINYINT", bools(), &["1", "0", "NULL"]),
        fails("TINYINT", i16s(), &range("tinyint(4)", 0, "-128", "127")),
        ok("TINYINT UNSIGNED", u8s(), &["0", "255", "NULL"]),
        fails(
            "TINYINT UNSIGNED",
            i8s(),
            &range("tinyint(3) unsigned", 0, "0", "255"),
        ),
        ok("SMALLINT", i16s(), &["-32768", "32767", "NULL"]),
        fails(
            "SMALLINT",
            u16s(),
            &range("smallint(6)", 1, "-32768", "32767"),
        ),
        ok(
            "MEDIUMINT",
            small(&[-8_388_608, 8_388_607]),
            &["-8388608", "8388607", "NULL"],
        ),
        fails(
            "MEDIUMINT",
            i32s(),
            &range("mediumint(9)", 0, "-8388608", "8388607"),
        ),
        ok("INT", i32s(), &["-2147483648", "2147483647", "NULL"]),
        fails(
            "INT",
            u32s(),
            &range("int(11)", 1, "-2147483648", "2147483647"),
        ),
        ok("INT UNSIGNED", u32s(), &["0", "4294967295", "NULL"]),
        ok(
            "BIGINT",
            i64s(),
            &["-9223372036854775808", "9223372036854775807", "NULL"],
        ),
        fails(
            "BIGINT",
            u64s(),
            &range(
                "bigint(20)",
                1,
                "-9223372036854775808",
                "9223372036854775807",
            ),
        ),
        ok(
            "BIGINT UNSIGNED",
            u64s(),
            &["0", "18446744073709551615", "NULL"],
        ),
        fails(
            "BIGINT UNSIGNED",
            i64s(),
            &range("bigint(20) unsigned", 0, "0", "18446744073709551615"),
        ),
        ok("BIGINT", f64s(&[2.0, -3.0]), &["2", "-3", "NULL"]),
        fails(
            "BIGINT",
            dec(10, 2, &[150]),
            &value_error(
                "bigint(20)",
                0,
                "a decimal with a fractional part, which an integer column cannot hold",
            ),
        ),
        ok("YEAR", small(&[2024, 1901]), &["2024", "1901", "NULL"]),
        fails("YEAR", small(&[1900]), &range("year(4)", 0, "1901", "2155")),
        // DECIMAL: never rounded (MySQL itself would round, with only a note).
        ok("DECIMAL(10,2)", small(&[1, -2]), &["1.00", "-2.00", "NULL"]),
        ok(
            "DECIMAL(10,2)",
            dec(10, 2, &[12345, -5, 0]),
            &["123.45", "-0.05", "0.00", "NULL"],
        ),
        fails(
            "DECIMAL(10,2)",
            dec(12, 4, &[12300, 12345]),
            &value_error(
                "decimal(10,2)",
                1,
                "a value with more fractional digits than the column keeps (2)",
            ),
        ),
        fails(
            "DECIMAL(10,2)",
            dec(10, 6, &[12]),
            &value_error(
                "decimal(10,2)",
                0,
                "a value with more fractional digits than the column keeps (2)",
            ),
        ),
        fails(
            "DECIMAL(10,2)",
            i64s(),
            &value_error(
                "decimal(10,2)",
                0,
                "a value with more digits than the column's precision (10)",
            ),
        ),
        ok(
            "DECIMAL(10,2)",
            f64s(&[0.1, 2.25]),
            &["0.10", "2.25", "NULL"],
        ),
        ok(
            "DECIMAL(10,2)",
            dec(5, -2, &[123, -5]),
            &["12300.00", "-500.00", "NULL"],
        ),
        ok(
            "DECIMAL(30,5)",
            dec256(40, 5, &["1234567890123456789012345678"]),
            &["12345678901234567890123.45678", "NULL"],
        ),
        ok(
            "DECIMAL(20,0)",
            u64s(),
            &["0", "18446744073709551615", "NULL"],
        ),
        // floats: MySQL has no NaN or infinities.
        ok("FLOAT", f32s(&[0.1, -2.5]), &["0.1", "-2.5", "NULL"]),
        ok("FLOAT", f16s(), &["1.5", "-0.25", "NULL"]),
        ok("FLOAT", f64s(&[0.1, 2.25]), &["0.1", "2.25", "NULL"]),
        fails(
            "FLOAT",
            f64s(&[0.123_456_789_012]),
            &value_error(
                "float",
                0,
                "a value that a 32-bit float cannot hold exactly",
            ),
        ),
        fails(
            "FLOAT",
            f32s(&[1.0, f32::NAN]),
            &value_error("float", 1, "NaN, which the column cannot hold"),
        ),
        ok("DOUBLE", f64s(&[0.1, 1e300]), &["0.1", "1e300", "NULL"]),
        fails(
            "DOUBLE",
            f64s(&[f64::INFINITY]),
            &value_error("double", 0, "an infinity, which the column cannot hold"),
        ),
        fails(
            "DOUBLE",
            small(&[(1 << 53) + 1]),
            &value_error(
                "double",
                0,
                "a value that a 64-bit float cannot hold exactly",
            ),
        ),
        ok(
            "DOUBLE",
            dec(10, 2, &[12345, -5]),
            &["123.45", "-0.05", "NULL"],
        ),
        // text
        ok(
            "VARCHAR(5)",
            strs(&["héllo", "😀"]),
            &["héllo", "😀", "NULL"],
        ),
        fails(
            "VARCHAR(5)",
            strs(&["ok", "toolong"]),
            &value_error(
                "varchar(5)",
                1,
                "text of 7 characters, longer than the column's 5",
            ),
        ),
        fails(
            "VARCHAR(5) CHARACTER SET utf8mb3",
            strs(&["é", "😀"]),
            &value_error(
                "varchar(5)",
                1,
                "a character (U+1F600) the column's character set utf8mb3 cannot store",
            ),
        ),
        ok(
            "VARCHAR(5) CHARACTER SET latin1",
            strs(&["é€"]),
            &["é€", "NULL"],
        ),
        fails(
            "VARCHAR(5) CHARACTER SET latin1",
            strs(&["ł"]),
            &value_error(
                "varchar(5)",
                0,
                "a character (U+0142) the column's character set latin1 cannot store",
            ),
        ),
        ok("TEXT", strs(&["héllo", ""]), &["héllo", "", "NULL"]),
        ok("TEXT", large_strs(&["a"]), &["a", "NULL"]),
        ok(
            "TEXT",
            view_strs(&["a view string longer than twelve"]),
            &["a view string longer than twelve", "NULL"],
        ),
        ok(
            "TEXT",
            dictionary(&["a", "b", "a"]),
            &["a", "b", "a", "NULL"],
        ),
        ok("TEXT", strs(&["nul\0byte"]), &["nul\0byte", "NULL"]),
        fails("TEXT", small(&[1]), &type_error("Int64", "text")),
        fails(
            "TINYTEXT",
            strs(&[&"é".repeat(128)]),
            &value_error(
                "tinytext",
                0,
                "text of 256 bytes, longer than the column's 255",
            ),
        ),
        ok("CHAR(3)", strs(&["ab", "abc"]), &["ab", "abc", "NULL"]),
        fails(
            "CHAR(3)",
            strs(&["abcd"]),
            &value_error(
                "char(3)",
                0,
                "text of 4 characters, longer than the column's 3",
            ),
        ),
        ok(
            "ENUM('sad','happy')",
            strs(&["happy", "sad"]),
            &["happy", "sad", "NULL"],
        ),
        fails(
            "ENUM('sad','happy')",
            strs(&["HAPPY"]),
            &value_error(
                "enum('sad','happy')",
                0,
                "text that is not one of the column's ENUM labels",
            ),
        ),
        // MariaDB's JSON is LONGTEXT with a CHECK (json_valid(...)): text kept as written.
        ok(
            "JSON",
            strs(&["{\"b\": 1,  \"a\": [1, 2]}"]),
            &["{\"b\": 1,  \"a\": [1, 2]}", "NULL"],
        )
        .marked("arrow.json"),
        fails("JSON", strs(&["{}", "nope"]), "CONSTRAINT"),
        // binary
        ok("BINARY(3)", fixed(3, &[&[1, 2, 3]]), &["010203", "NULL"]),
        fails(
            "BINARY(3)",
            bins(&[&[1, 2]]),
            &value_error(
                "binary(3)",
                0,
                "2 bytes for a column of exactly 3 bytes (it would pad them with zero bytes)",
            ),
        ),
        ok(
            "VARBINARY(4)",
            bins(&[&[0, 255], &[]]),
            &["00ff", "", "NULL"],
        ),
        fails(
            "VARBINARY(4)",
            bins(&[&[1, 2, 3, 4, 5]]),
            &value_error("varbinary(4)", 0, "5 bytes, more than the column's 4"),
        ),
        ok("BLOB", large_bins(&[&[1]]), &["01", "NULL"]),
        ok("BLOB", view_bins(&[&[2]]), &["02", "NULL"]),
        ok(
            "BLOB",
            uuids(),
            &["a0eebc999c0b4ef8bb6d6bb9bd380a11", "NULL"],
        )
        .marked("arrow.uuid"),
        fails("BLOB", strs(&["x"]), &type_error("Utf8", "blob")),
        // dates and times: four-digit years, the column's fractional digits.
        ok("DATE", dates32(), &["2024-02-29", "1969-12-31", "NULL"]),
        ok("DATE", dates64(), &["2024-02-29", "1969-12-31", "NULL"]),
        ok(
            "DATE",
            a(Date32Array::from(vec![
                Some(days(1, 1, 1)),
                Some(days(9999, 12, 31)),
            ])),
            &["0001-01-01", "9999-12-31"],
        ),
        fails(
            "DATE",
            a(Date32Array::from(vec![days(10000, 1, 1)])),
            &value_error("date", 0, "a date outside the column's range"),
        ),
        ok("TIME", times32_s(), &["13:14:15", "NULL"]),
        fails(
            "TIME",
            times64_us(),
            &value_error(
                "time",
                0,
                "a value with more fractional second digits than the column keeps (0)",
            ),
        ),
        ok("TIME(6)", times64_us(), &["13:14:15.123456", "NULL"]),
        ok("TIME(6)", times32_ms(), &["13:14:15.123", "NULL"]),
        fails(
            "TIME(6)",
            times64_ns(789),
            &value_error(
                "time(6)",
                0,
                "a time with nanoseconds; the database keeps microseconds",
            ),
        ),
        ok(
            "DATETIME",
            stamps("s", None),
            &["2024-02-29T13:14:15", "NULL"],
        ),
        // MariaDB would silently truncate the .5 seconds.
        fails(
            "DATETIME",
            stamps("ms", None),
            &value_error(
                "datetime",
                0,
                "a value with more fractional second digits than the column keeps (0)",
            ),
        ),
        ok(
            "DATETIME(3)",
            stamps("us", None),
            &["2024-02-29T13:14:15.500", "NULL"],
        ),
        ok(
            "DATETIME(6)",
            stamps("ns", None),
            &["2024-02-29T13:14:15.500", "NULL"],
        ),
        ok(
            "DATETIME(6)",
            stamps("us", Some("+02:00")),
            &["2024-02-29T13:14:15.500", "NULL"],
        ),
        ok(
            "DATETIME(6)",
            dates32(),
            &["2024-02-29T00:00:00", "1969-12-31T00:00:00", "NULL"],
        ),
        fails(
            "DATETIME(6)",
            stamps_ns_with_nanos(),
            &value_error(
                "datetime(6)",
                0,
                "a timestamp with nanoseconds; the database keeps microseconds",
            ),
        ),
        ok(
            "TIMESTAMP(6) NULL",
            stamps("us", Some("UTC")),
            &["2024-02-29T13:14:15.500Z", "NULL"],
        ),
        ok(
            "TIMESTAMP(6) NULL",
            stamps("us", None),
            &["2024-02-29T13:14:15.500Z", "NULL"],
        ),
        fails(
            "TIMESTAMP(6) NULL",
            stamps_us(&[1_000_000, 0], Some("UTC")),
            &value_error("timestamp(6)", 1, "a timestamp outside the column's range"),
        ),
        fails(
            "TIMESTAMP(6) NULL",
            stamps_us(&[2_147_483_648_000_000], Some("UTC")),
            &value_error("timestamp(6)", 0, "a timestamp outside the column's range"),
        ),
        // MariaDB's UUID type takes 16 bytes or UUID text.
        ok(
            "UUID",
            uuids(),
            &["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "NULL"],
        )
        .marked("arrow.uuid"),
        ok(
            "UUID",
            strs(&["A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"]),
            &["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "NULL"],
        ),
        fails(
            "UUID",
            strs(&["nope"]),
            &value_error("uuid", 0, "text that is not a UUID"),
        ),
        // no intervals or arrays in MySQL
        fails(
            "TEXT",
            intervals(0),
            &type_error("Interval(MonthDayNano)", "text"),
        ),
        fails("TEXT", int_lists(), "cannot write Arrow List("),
        ok("INT", nulls(2), &["NULL", "NULL"]),
    ]
}

#[test]
fn append_matrix() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("my");
    let problems = run_append(&conn, &append_cases(), |table, column| {
        format!("CREATE TABLE {table} (case_no INT, seq INT, v {column})")
    });
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn mysql_column_types(conn: &SqlConnection, table: &str) -> Vec<(String, String)> {
    conn.query(
        "SELECT CAST(COLUMN_NAME AS CHAR) AS name, CAST(COLUMN_TYPE AS CHAR) AS type \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t",
    )
    .param("t", table)
    .ttl(Ttl::ZERO)
    .blocking()
    .unwrap()
    .rows::<(String, String)>()
    .unwrap()
}

#[test]
fn create_maps_every_arrow_type() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("my");
    let columns = vec![
        created(
            "c_bool",
            bools(),
            "tinyint(1)",
            "Boolean",
            &["true", "false", "NULL"],
        ),
        created(
            "c_i8",
            i8s(),
            "tinyint(4)",
            "Int8",
            &["-128", "127", "NULL"],
        ),
        created(
            "c_i16",
            i16s(),
            "smallint(6)",
            "Int16",
            &["-32768", "32767", "NULL"],
        ),
        created(
            "c_i32",
            i32s(),
            "int(11)",
            "Int32",
            &["-2147483648", "2147483647", "NULL"],
        ),
        created(
            "c_i64",
            i64s(),
            "bigint(20)",
            "Int64",
            &["-9223372036854775808", "9223372036854775807", "NULL"],
        ),
        created(
            "c_u8",
            u8s(),
            "tinyint(3) unsigned",
            "UInt8",
            &["0", "255", "NULL"],
        ),
        created(
            "c_u16",
            u16s(),
            "smallint(5) unsigned",
            "UInt16",
            &["0", "65535", "NULL"],
        ),
        created(
            "c_u32",
            u32s(),
            "int(10) unsigned",
            "UInt32",
            &["0", "4294967295", "NULL"],
        ),
        created(
            "c_u64",
            u64s(),
            "bigint(20) unsigned",
            "UInt64",
            &["0", "18446744073709551615", "NULL"],
        ),
        created(
            "c_f16",
            f16s(),
            "float",
            "Float32",
            &["1.5", "-0.25", "NULL"],
        ),
        created(
            "c_f32",
            f32s(&[0.1, -2.5]),
            "float",
            "Float32",
            &["0.1", "-2.5", "NULL"],
        ),
        created(
            "c_f64",
            f64s(&[0.1, 1e300]),
            "double",
            "Float64",
            &["0.1", "1e300", "NULL"],
        ),
        created(
            "c_dec",
            dec(10, 2, &[12345, -5]),
            "decimal(10,2)",
            "Decimal128(38, 2)",
            &["123.45", "-0.05", "NULL"],
        ),
        created(
            "c_decneg",
            dec(5, -2, &[123, -5]),
            "decimal(7,0)",
            "Decimal128(38, 0)",
            &["12300", "-500", "NULL"],
        ),
        created(
            "c_dec256",
            dec256(40, 5, &["1234567890123456789012345678", "-1"]),
            "decimal(40,5)",
            "Decimal128(38, 5)",
            &["12345678901234567890123.45678", "-0.00001", "NULL"],
        ),
        created(
            "c_text",
            strs(&["héllo", "😀"]),
            "longtext",
            "Utf8",
            &["héllo", "😀", "NULL"],
        ),
        created(
            "c_view",
            view_strs(&["a", "b"]),
            "longtext",
            "Utf8",
            &["a", "b", "NULL"],
        ),
        created(
            "c_dict",
            dictionary(&["x", "y"]),
            "longtext",
            "Utf8",
            &["x", "y", "NULL"],
        ),
        created(
            "c_json",
            strs(&["{\"b\": 1,  \"a\": 2}", "[]"]),
            "longtext",
            "Utf8",
            &["{\"b\": 1,  \"a\": 2}", "[]", "NULL"],
        )
        .marked("arrow.json"),
        created(
            "c_bin",
            bins(&[&[0, 255], &[]]),
            "longblob",
            "Binary",
            &["00ff", "", "NULL"],
        ),
        created(
            "c_fixed",
            fixed(2, &[&[1, 2], &[3, 4]]),
            "binary(2)",
            "Binary",
            &["0102", "0304", "NULL"],
        ),
        created(
            "c_uuid",
            fixed(16, &[&UUID, &[0; 16]]),
            "binary(16)",
            "Binary",
            &[
                "a0eebc999c0b4ef8bb6d6bb9bd380a11",
                "00000000000000000000000000000000",
                "NULL",
            ],
        )
        .marked("arrow.uuid"),
        created(
            "c_date",
            dates32(),
            "date",
            "Date32",
            &["2024-02-29", "1969-12-31", "NULL"],
        ),
        created(
            "c_time",
            a(Time64MicrosecondArray::from(vec![
                Some(1),
                Some(86_399_999_999),
                None,
            ])),
            "time(6)",
            "Time64(µs)",
            &["00:00:00.000001", "23:59:59.999999", "NULL"],
        ),
        created(
            "c_ts",
            stamps_us(&[0, -1], None),
            "datetime(6)",
            "Timestamp(µs)",
            &["1970-01-01T00:00:00", "1969-12-31T23:59:59.999999", "NULL"],
        ),
        // A zoned timestamp is stored as its UTC time in a DATETIME(6).
        created(
            "c_tsz",
            stamps_us(&[0, -1], Some("+02:00")),
            "datetime(6)",
            "Timestamp(µs)",
            &["1970-01-01T00:00:00", "1969-12-31T23:59:59.999999", "NULL"],
        ),
    ];
    let problems = run_create(&conn, "created", &columns, mysql_column_types);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // MariaDB's JSON column reads back as plain text (no arrow.json mark).
    let back = conn
        .query("SELECT c_json FROM created")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    assert_eq!(back.schema().field(0).extension_type_name(), None);
    let check = conn
        .query("SELECT CAST(CHECK_CLAUSE AS CHAR) AS c FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = 'created'")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(String,)>()
        .unwrap();
    assert_eq!(check, vec![("json_valid(`c_json`)".to_owned(),)]);
}

fn id_names(ids: &[i32], name: impl Fn(i32) -> String) -> Table {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, false),
        Field::new("name", DataType::Utf8, true),
    ]));
    Table::from_batch(
        RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int32Array::from(ids.to_vec())),
                Arc::new(StringArray::from_iter_values(ids.iter().map(|i| name(*i)))),
            ],
        )
        .unwrap(),
    )
}

fn id_rows(conn: &SqlConnection, table: &str) -> Vec<(i32, String)> {
    conn.query(format!("SELECT id, name FROM {table} ORDER BY id"))
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(i32, String)>()
        .unwrap()
}

fn tables(conn: &SqlConnection) -> Vec<String> {
    let mut names: Vec<String> = conn
        .query("SELECT CAST(TABLE_NAME AS CHAR) AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(String,)>()
        .unwrap()
        .into_iter()
        .map(|(t,)| t)
        .collect();
    names.sort();
    names
}

#[test]
fn long_names_replace_within_64_characters_and_identifiers_are_quoted_whole() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("my");
    let long = "é".repeat(64);
    let first = id_names(&[1, 2], |i| format!("first {i}"));
    let second = id_names(&[3], |i| format!("second {i}"));
    // Replace of a table that does not exist yet, then of one that does.
    assert_eq!(
        conn.write_table(&long, &first, WriteMode::Replace)
            .blocking()
            .unwrap(),
        2
    );
    assert_eq!(
        conn.write_table(&long, &second, WriteMode::Replace)
            .blocking()
            .unwrap(),
        1
    );
    assert_eq!(
        id_rows(&conn, &format!("`{long}`")),
        vec![(3, "second 3".into())]
    );
    assert_eq!(
        tables(&conn),
        vec![long.clone()],
        "no temporary table is left"
    );
    let err = conn
        .write_table(&"x".repeat(65), &first, WriteMode::Replace)
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is 65 characters; MySQL allows at most 64"),
        "{err}"
    );

    // Columns with dots, quotes, backticks, spaces and multi-byte characters.
    let names = ["a.b", "say \"hi\"", "back`tick", "with space", "naïve €"];
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(*n, DataType::Int32, true))
            .collect::<Vec<_>>(),
    ));
    let odd = Table::from_batch(
        RecordBatch::try_new(
            schema,
            (0..names.len())
                .map(|i| Arc::new(Int32Array::from(vec![i32::try_from(i).unwrap()])) as _)
                .collect(),
        )
        .unwrap(),
    );
    for name in ["`my.table`", "\"odd `name`\"", "Ünïcödé täble"] {
        conn.write_table(name, &odd, WriteMode::Create)
            .blocking()
            .unwrap();
        conn.write_table(name, &odd, WriteMode::Append)
            .blocking()
            .unwrap();
        conn.write_table(name, &odd, WriteMode::Replace)
            .blocking()
            .unwrap();
    }
    let mut expected = vec![
        long,
        "my.table".to_owned(),
        "odd `name`".to_owned(),
        "Ünïcödé täble".to_owned(),
    ];
    expected.sort();
    assert_eq!(tables(&conn), expected);
    let back = conn
        .query("SELECT * FROM `my.table`")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    let back_names: Vec<&str> = back
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(back_names, names.to_vec());
    // database.table names the table in another database.
    let database = &_scratch.database;
    conn.write_table(&format!("{database}.`in.db`"), &odd, WriteMode::Create)
        .blocking()
        .unwrap();
    assert!(tables(&conn).contains(&"in.db".to_owned()));
}

#[test]
fn a_failed_write_leaves_a_one_connection_pool_usable_and_the_table_unchanged() {
    let Some((scratch, _project)) = scratch() else {
        return;
    };
    let project = Project::new(&format!(
        "[connections.one]\ntype = \"sql\"\nurl = \"{}\"\n\
         create_engine_kwargs = {{ pool_size = 1, max_overflow = 0, pool_pre_ping = false }}\n",
        scratch.url
    ));
    let conn = project.sql("one");
    conn.execute("CREATE TABLE keyed (id INT PRIMARY KEY, name VARCHAR(200) NOT NULL)")
        .blocking()
        .unwrap();
    conn.execute("INSERT INTO keyed VALUES (1, 'kept'), (2, 'kept')")
        .blocking()
        .unwrap();
    let before = id_rows(&conn, "keyed");
    let ids: Vec<i32> = (100..20_100).collect();
    let long = |i: i32| format!("{i:0>100}");
    let mut late = ids.clone();
    *late.last_mut().unwrap() = 2;
    let err = conn
        .write_table("keyed", &id_names(&late, long), WriteMode::Append)
        .blocking()
        .unwrap_err();
    assert_eq!(err.code(), Some("23000"), "{err}");
    assert_eq!(id_rows(&conn, "keyed"), before);
    let err = conn
        .write_table(
            "keyed",
            &id_names(&ids, |i| {
                if i == 20_099 {
                    "x".repeat(201)
                } else {
                    long(i)
                }
            }),
            WriteMode::Append,
        )
        .blocking()
        .unwrap_err();
    assert_eq!(
        common::data_message(&err, &conn),
        "column \"name\" (varchar(200)), row 19999: text of 201 characters, longer than the \
         column's 200"
    );
    assert_eq!(id_rows(&conn, "keyed"), before);
    // Create that fails while filling drops the new table again.
    let bad = Table::from_batch(
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("d", DataType::Date32, true)])),
            vec![Arc::new(Date32Array::from(vec![0, days(10000, 1, 1)]))],
        )
        .unwrap(),
    );
    let err = conn
        .write_table("never", &bad, WriteMode::Create)
        .blocking()
        .unwrap_err();
    assert!(
        common::data_message(&err, &conn).contains("row 1: a date outside"),
        "{err}"
    );
    assert!(!tables(&conn).contains(&"never".to_owned()));
    assert_eq!(
        conn.write_table("keyed", &id_names(&ids, long), WriteMode::Append)
            .blocking()
            .unwrap(),
        20_000
    );
}

#[test]
fn sessions_refuse_what_would_commit_them() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("my");
    conn.execute("CREATE TABLE keyed (id INT PRIMARY KEY, name VARCHAR(50))")
        .blocking()
        .unwrap();
    let mut session = conn.session().blocking().unwrap();
    session
        .execute("INSERT INTO keyed VALUES (1, 'in session')")
        .blocking()
        .unwrap();
    let rows = id_names(&[2], |_| "x".into());
    for mode in [WriteMode::Create, WriteMode::Replace] {
        let err = session
            .write_table("other", &rows, mode)
            .blocking()
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "write mode {mode:?} cannot run inside a MySQL session: MySQL commits the open \
                 transaction before CREATE and DROP TABLE"
            )),
            "{err}"
        );
        assert!(
            err.contains("Call SqlConnection::write_table outside the session"),
            "{err}"
        );
    }
    for statement in [
        "CREATE TABLE t2 (a INT)",
        "ALTER TABLE keyed ADD COLUMN b INT",
        "DROP TABLE keyed",
        "TRUNCATE keyed",
        "RENAME TABLE keyed TO k2",
        "INSERT INTO keyed VALUES (9, 'x'); CREATE INDEX i ON keyed (name)",
        "COMMIT",
    ] {
        let err = session
            .execute(statement)
            .blocking()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "cannot run inside a MySQL session: MySQL commits the open transaction before it"
            ),
            "{statement}: {err}"
        );
        let err = session.query(statement).blocking().unwrap_err().to_string();
        assert!(
            err.contains("cannot run inside a MySQL session"),
            "{statement}: {err}"
        );
    }
    let err = session
        .execute("create table t3 (a int)")
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("CREATE TABLE cannot run inside a MySQL session")
            && err.ends_with(
                "run it with SqlConnection::execute outside the session, before or after it"
            ),
        "{err}"
    );
    // Temporary tables do not commit; Append runs under a savepoint.
    session
        .execute("CREATE TEMPORARY TABLE scratch (a INT)")
        .blocking()
        .unwrap();
    let clash = id_names(&[3, 1], |_| "clash".into());
    let err = session
        .write_table("keyed", &clash, WriteMode::Append)
        .blocking()
        .unwrap_err();
    assert_eq!(err.code(), Some("23000"), "{err}");
    assert_eq!(
        session
            .write_table(
                "keyed",
                &id_names(&[4, 5], |i| format!("good {i}")),
                WriteMode::Append
            )
            .blocking()
            .unwrap(),
        2
    );
    // Nothing was committed behind the session's back.
    assert_eq!(id_rows(&conn, "keyed"), vec![]);
    session.rollback().blocking().unwrap();
    assert_eq!(id_rows(&conn, "keyed"), vec![]);
    let mut session = conn.session().blocking().unwrap();
    session
        .write_table(
            "keyed",
            &id_names(&[4, 5], |i| format!("good {i}")),
            WriteMode::Append,
        )
        .blocking()
        .unwrap();
    session.commit().blocking().unwrap();
    assert_eq!(
        id_rows(&conn, "keyed"),
        vec![(4, "good 4".into()), (5, "good 5".into())]
    );
}

#[test]
fn a_decimal_wider_than_conns_reader_is_written_exactly() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("my");
    let wide = Table::from_batch(
        RecordBatch::try_from_iter([(
            "v",
            dec256(
                76,
                10,
                &["-123456789012345678901234567890123456789012345678901234567890"],
            ),
        )])
        .unwrap(),
    );
    conn.write_table("wide", &wide, WriteMode::Create)
        .blocking()
        .unwrap();
    let text = conn
        .query("SELECT CAST(v AS CHAR) AS v FROM wide")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(Option<String>,)>()
        .unwrap();
    assert_eq!(
        text,
        vec![
            (Some(
                "-12345678901234567890123456789012345678901234567890.1234567890".to_owned()
            ),),
            (None,)
        ]
    );
    assert_eq!(
        mysql_column_types(&conn, "wide"),
        vec![("v".to_owned(), "decimal(65,10)".to_owned())]
    );
}

#[test]
fn concurrent_replaces_each_swap_in_whole() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("my");
    for round in 0..2 {
        // Round 0: the table does not exist yet; round 1: it does.
        let barrier = Arc::new(std::sync::Barrier::new(4));
        let handles: Vec<_> = (0..4)
            .map(|writer| {
                let conn = (*conn).clone();
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    let rows: Vec<i32> = (0..500).collect();
                    let data = id_names(&rows, |_| format!("writer {writer}"));
                    barrier.wait();
                    conn.write_table("shared", &data, WriteMode::Replace)
                        .blocking()
                })
            })
            .collect();
        for handle in handles {
            assert_eq!(handle.join().unwrap().unwrap(), 500, "round {round}");
        }
        let names = conn
            .query("SELECT DISTINCT name FROM shared")
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap()
            .rows::<(String,)>()
            .unwrap();
        assert_eq!(names.len(), 1, "one writer's rows, whole: {names:?}");
        assert_eq!(id_rows(&conn, "shared").len(), 500);
        assert_eq!(tables(&conn), vec!["shared".to_owned()], "round {round}");
    }
}
