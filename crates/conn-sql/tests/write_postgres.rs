//! `write_table` against the real PostgreSQL server: every Arrow type into every column
//! type that can hold it (and the refusals), `Create`'s mapping, identifiers, failed
//! COPYs and sessions. Skipped with a message when CONN_TEST_POSTGRES_URL is unset.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::matrix::{Case, created, fails, ok, run_append, run_create, src::*};
use common::{POSTGRES_VAR, PgScratch, Project};
use conn_core::{Table, Ttl};
use conn_sql::{SqlConnection, WriteMode};

fn scratch() -> Option<(PgScratch, Project)> {
    let base = conn_testkit::server_url(POSTGRES_VAR, "PostgreSQL")?;
    let scratch = PgScratch::new(&base);
    let project = Project::new(&format!(
        "[connections.pg]\ntype = \"sql\"\nurl = \"{}\"\n",
        scratch.url
    ));
    Some((scratch, project))
}

fn type_error(arrow: &str, column: &str) -> String {
    format!(
        "column \"v\": cannot write Arrow {arrow} values to a PostgreSQL column of type {column}"
    )
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
    let i64_range = ("-9223372036854775808", "9223372036854775807");
    vec![
        // boolean
        ok("boolean", bools(), &["true", "false", "NULL"]),
        fails("boolean", small(&[1]), &type_error("Int64", "boolean")),
        ok("boolean", nulls(2), &["NULL", "NULL"]),
        // smallint
        ok("smallint", bools(), &["1", "0", "NULL"]),
        ok("smallint", i8s(), &["-128", "127", "NULL"]),
        ok("smallint", i16s(), &["-32768", "32767", "NULL"]),
        fails("smallint", i32s(), &range("smallint", 0, "-32768", "32767")),
        ok("smallint", u8s(), &["0", "255", "NULL"]),
        fails("smallint", u16s(), &range("smallint", 1, "-32768", "32767")),
        ok("smallint", f64s(&[2.0, -3.0]), &["2", "-3", "NULL"]),
        fails(
            "smallint",
            f64s(&[2.0, 0.5]),
            &value_error(
                "smallint",
                1,
                "a float with a fractional part, which an integer column cannot hold",
            ),
        ),
        ok(
            "smallint",
            dec(5, -2, &[123, -5]),
            &["12300", "-500", "NULL"],
        ),
        fails(
            "smallint",
            dec(10, 2, &[100, 12345]),
            &value_error(
                "smallint",
                1,
                "a decimal with a fractional part, which an integer column cannot hold",
            ),
        ),
        fails("smallint", strs(&["1"]), &type_error("Utf8", "smallint")),
        // integer
        ok("integer", i32s(), &["-2147483648", "2147483647", "NULL"]),
        ok("integer", u16s(), &["0", "65535", "NULL"]),
        fails(
            "integer",
            i64s(),
            &range("integer", 0, "-2147483648", "2147483647"),
        ),
        fails(
            "integer",
            u32s(),
            &range("integer", 1, "-2147483648", "2147483647"),
        ),
        ok("integer", dec(10, 2, &[100, -4200]), &["1", "-42", "NULL"]),
        // bigint
        ok(
            "bigint",
            i64s(),
            &["-9223372036854775808", "9223372036854775807", "NULL"],
        ),
        ok("bigint", u32s(), &["0", "4294967295", "NULL"]),
        fails(
            "bigint",
            u64s(),
            &range("bigint", 1, i64_range.0, i64_range.1),
        ),
        fails(
            "bigint",
            f64s(&[1e19]),
            &range("bigint", 0, i64_range.0, i64_range.1),
        ),
        // numeric: unconstrained
        ok("numeric", small(&[1, -2]), &["1", "-2", "NULL"]),
        ok(
            "numeric",
            i64s(),
            &["-9223372036854775808", "9223372036854775807", "NULL"],
        ),
        ok("numeric", u64s(), &["0", "18446744073709551615", "NULL"]),
        ok(
            "numeric",
            dec(10, 2, &[12345, -5, 0]),
            &["123.45", "-0.05", "0.00", "NULL"],
        ),
        ok("numeric", dec(10, 6, &[12]), &["0.000012", "NULL"]),
        ok(
            "numeric",
            dec(5, -2, &[123, -5]),
            &["12300", "-500", "NULL"],
        ),
        ok(
            "numeric",
            dec256(40, 5, &["12345678901234567890123456789012345"]),
            &["123456789012345678901234567890.12345", "NULL"],
        ),
        ok("numeric", f32s(&[0.1, -2.5]), &["0.1", "-2.5", "NULL"]),
        fails(
            "numeric",
            f64s(&[1.0, f64::NAN]),
            &value_error(
                "numeric",
                1,
                "NaN or an infinity, which a decimal column cannot hold",
            ),
        ),
        fails("numeric", bools(), &type_error("Boolean", "numeric")),
        // numeric(p, s)
        ok("numeric(10,2)", small(&[1, -2]), &["1.00", "-2.00", "NULL"]),
        ok(
            "numeric(10,2)",
            dec(10, 2, &[12345, -5, 0]),
            &["123.45", "-0.05", "0.00", "NULL"],
        ),
        ok("numeric(10,2)", dec(12, 4, &[12300]), &["1.23", "NULL"]),
        fails(
            "numeric(10,2)",
            dec(12, 4, &[12300, 12345]),
            &value_error(
                "numeric(10,2)",
                1,
                "a value with more fractional digits than the column keeps (2)",
            ),
        ),
        // A small value never becomes 0.00.
        fails(
            "numeric(10,2)",
            dec(10, 6, &[12]),
            &value_error(
                "numeric(10,2)",
                0,
                "a value with more fractional digits than the column keeps (2)",
            ),
        ),
        ok("numeric(12,6)", dec(10, 6, &[12]), &["0.000012", "NULL"]),
        fails(
            "numeric(10,2)",
            i64s(),
            &value_error(
                "numeric(10,2)",
                0,
                "a value with more digits than the column's precision (10)",
            ),
        ),
        ok(
            "numeric(10,2)",
            f64s(&[0.1, 2.25]),
            &["0.10", "2.25", "NULL"],
        ),
        fails(
            "numeric(10,2)",
            f64s(&[0.125]),
            &value_error(
                "numeric(10,2)",
                0,
                "a value with more fractional digits than the column keeps (2)",
            ),
        ),
        ok(
            "numeric(10,2)",
            dec(5, -2, &[123, -5]),
            &["12300.00", "-500.00", "NULL"],
        ),
        ok(
            "numeric(20,0)",
            u64s(),
            &["0", "18446744073709551615", "NULL"],
        ),
        // PostgreSQL 15's negative scales.
        ok(
            "numeric(3,-2)",
            dec(5, -2, &[123, -5]),
            &["12300", "-500", "NULL"],
        ),
        fails(
            "numeric(3,-2)",
            small(&[12345]),
            &value_error(
                "numeric(3,-2)",
                0,
                "a value with non-zero digits below the column's negative scale (-2)",
            ),
        ),
        // real
        ok("real", f32s(&[0.1, -2.5]), &["0.1", "-2.5", "NULL"]),
        ok("real", f16s(), &["1.5", "-0.25", "NULL"]),
        ok("real", f64s(&[0.1, 2.25]), &["0.1", "2.25", "NULL"]),
        ok(
            "real",
            f32s(&[f32::NAN, f32::INFINITY]),
            &["NaN", "inf", "NULL"],
        ),
        fails(
            "real",
            f64s(&[0.1, 1e300]),
            &value_error("real", 1, "a value that a 32-bit float cannot hold exactly"),
        ),
        fails(
            "real",
            f64s(&[0.123_456_789_012]),
            &value_error("real", 0, "a value that a 32-bit float cannot hold exactly"),
        ),
        ok(
            "real",
            small(&[16_777_216, -3]),
            &["16777216.0", "-3.0", "NULL"],
        ),
        fails(
            "real",
            small(&[16_777_217]),
            &value_error("real", 0, "a value that a 32-bit float cannot hold exactly"),
        ),
        ok(
            "real",
            dec(10, 2, &[12345, -5, 0]),
            &["123.45", "-0.05", "0.0", "NULL"],
        ),
        // double precision
        ok(
            "double precision",
            f64s(&[0.1, 1e300, f64::NEG_INFINITY]),
            &["0.1", "1e300", "-inf", "NULL"],
        ),
        ok(
            "double precision",
            f32s(&[0.5, 0.1]),
            &["0.5", "0.10000000149011612", "NULL"],
        ),
        ok(
            "double precision",
            small(&[1 << 53, -2]),
            &["9007199254740992.0", "-2.0", "NULL"],
        ),
        fails(
            "double precision",
            small(&[(1 << 53) + 1]),
            &value_error(
                "double precision",
                0,
                "a value that a 64-bit float cannot hold exactly",
            ),
        ),
        fails(
            "double precision",
            u64s(),
            &value_error(
                "double precision",
                1,
                "a value that a 64-bit float cannot hold exactly",
            ),
        ),
        ok(
            "double precision",
            dec(10, 2, &[12345, -5]),
            &["123.45", "-0.05", "NULL"],
        ),
        fails(
            "double precision",
            dec256(40, 5, &["12345678901234567890123456789012345"]),
            &value_error(
                "double precision",
                0,
                "a value that a 64-bit float cannot hold exactly",
            ),
        ),
        // text and friends
        ok("text", strs(&["héllo", ""]), &["héllo", "", "NULL"]),
        ok("text", large_strs(&["a", "😀"]), &["a", "😀", "NULL"]),
        ok(
            "text",
            view_strs(&["a view string longer than twelve"]),
            &["a view string longer than twelve", "NULL"],
        ),
        ok(
            "text",
            dictionary(&["a", "b", "a"]),
            &["a", "b", "a", "NULL"],
        ),
        ok("text", strs(&["{\"a\": 1}"]), &["{\"a\": 1}", "NULL"]).marked("arrow.json"),
        fails(
            "text",
            strs(&["fine", "nul\0byte"]),
            &value_error(
                "text",
                1,
                "text with a NUL character (0x00), which PostgreSQL text cannot hold",
            ),
        ),
        fails("text", small(&[1]), &type_error("Int64", "text")),
        fails("text", bins(&[b"x"]), &type_error("Binary", "text")),
        ok(
            "varchar(5)",
            strs(&["héllo", "ééééé"]),
            &["héllo", "ééééé", "NULL"],
        ),
        fails(
            "varchar(5)",
            strs(&["ok", "toolong"]),
            &value_error(
                "character varying(5)",
                1,
                "text of 7 characters, longer than the column's 5",
            ),
        ),
        ok("char(3)", strs(&["ab", "abc  "]), &["ab ", "abc", "NULL"]),
        fails(
            "char(3)",
            strs(&["abcd"]),
            &value_error(
                "character(3)",
                0,
                "text of 4 characters, longer than the column's 3",
            ),
        ),
        // bytea
        ok("bytea", bins(&[&[0, 255], &[]]), &["00ff", "", "NULL"]),
        ok("bytea", large_bins(&[&[1]]), &["01", "NULL"]),
        ok("bytea", view_bins(&[&[2]]), &["02", "NULL"]),
        ok("bytea", fixed(3, &[&[1, 2, 3]]), &["010203", "NULL"]),
        ok(
            "bytea",
            uuids(),
            &["a0eebc999c0b4ef8bb6d6bb9bd380a11", "NULL"],
        )
        .marked("arrow.uuid"),
        fails("bytea", strs(&["x"]), &type_error("Utf8", "bytea")),
        // dates and times
        ok("date", dates32(), &["2024-02-29", "1969-12-31", "NULL"]),
        ok("date", dates64(), &["2024-02-29", "1969-12-31", "NULL"]),
        fails(
            "date",
            stamps("us", None),
            &type_error("Timestamp(µs)", "date"),
        ),
        ok("time", times64_us(), &["13:14:15.123456", "NULL"]),
        ok("time", times32_s(), &["13:14:15", "NULL"]),
        ok("time", times32_ms(), &["13:14:15.123", "NULL"]),
        ok("time", times64_ns(0), &["13:14:15.123456", "NULL"]),
        fails(
            "time",
            times64_ns(789),
            &value_error(
                "time without time zone",
                0,
                "a time with nanoseconds; the database keeps microseconds",
            ),
        ),
        ok("time(0)", times32_s(), &["13:14:15", "NULL"]),
        fails(
            "time(0)",
            times32_ms(),
            &value_error(
                "time(0) without time zone",
                0,
                "a value with more fractional second digits than the column keeps (0)",
            ),
        ),
        ok(
            "timestamp",
            stamps("s", None),
            &["2024-02-29T13:14:15", "NULL"],
        ),
        ok(
            "timestamp",
            stamps("ms", None),
            &["2024-02-29T13:14:15.500", "NULL"],
        ),
        ok(
            "timestamp",
            stamps("us", None),
            &["2024-02-29T13:14:15.500", "NULL"],
        ),
        ok(
            "timestamp",
            stamps("ns", None),
            &["2024-02-29T13:14:15.500", "NULL"],
        ),
        // A zoned instant goes in as its UTC time.
        ok(
            "timestamp",
            stamps("us", Some("+02:00")),
            &["2024-02-29T13:14:15.500", "NULL"],
        ),
        ok(
            "timestamp",
            dates32(),
            &["2024-02-29T00:00:00", "1969-12-31T00:00:00", "NULL"],
        ),
        fails(
            "timestamp",
            stamps_ns_with_nanos(),
            &value_error(
                "timestamp without time zone",
                0,
                "a timestamp with nanoseconds; the database keeps microseconds",
            ),
        ),
        fails(
            "timestamp(0)",
            stamps("ms", None),
            &value_error(
                "timestamp(0) without time zone",
                0,
                "a value with more fractional second digits than the column keeps (0)",
            ),
        ),
        ok(
            "timestamptz",
            stamps("us", Some("UTC")),
            &["2024-02-29T13:14:15.500Z", "NULL"],
        ),
        ok(
            "timestamptz",
            stamps("ns", Some("+02:00")),
            &["2024-02-29T13:14:15.500Z", "NULL"],
        ),
        ok(
            "timestamptz",
            stamps("s", Some("UTC")),
            &["2024-02-29T13:14:15Z", "NULL"],
        ),
        ok(
            "timestamptz",
            stamps("ms", Some("-05:30")),
            &["2024-02-29T13:14:15.500Z", "NULL"],
        ),
        // A naive timestamp into a zoned column is taken as UTC.
        ok(
            "timestamptz",
            stamps("s", None),
            &["2024-02-29T13:14:15Z", "NULL"],
        ),
        // intervals
        ok(
            "interval",
            intervals(0),
            &["14 mons 3 days 4 hours 5 mins 6.000000000 secs", "NULL"],
        ),
        ok("interval", intervals_year_month(), &["14 mons", "NULL"]),
        ok(
            "interval",
            intervals_day_time(),
            &["3 days 1.500000000 secs", "NULL"],
        ),
        ok(
            "interval",
            durations(),
            &["25 hours 1 mins 1.000001000 secs", "NULL"],
        ),
        fails(
            "interval",
            intervals(5),
            &value_error(
                "interval",
                0,
                "an interval with nanoseconds; the database keeps microseconds",
            ),
        ),
        // json, jsonb: the server checks the text.
        ok(
            "json",
            strs(&["{\"b\": 1, \"a\": [1, 2]}"]),
            &["{\"b\": 1, \"a\": [1, 2]}", "NULL"],
        )
        .marked("arrow.json"),
        ok(
            "jsonb",
            strs(&["{\"b\": 1, \"a\": [1, 2]}"]),
            &["{\"a\": [1, 2], \"b\": 1}", "NULL"],
        )
        .marked("arrow.json"),
        ok("jsonb", strs(&["[1,2]"]), &["[1, 2]", "NULL"]),
        fails(
            "jsonb",
            strs(&["{}", "nope"]),
            "invalid input syntax for type json",
        ),
        // uuid
        ok(
            "uuid",
            uuids(),
            &["a0eebc999c0b4ef8bb6d6bb9bd380a11", "NULL"],
        )
        .marked("arrow.uuid"),
        ok(
            "uuid",
            strs(&["A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"]),
            &["a0eebc999c0b4ef8bb6d6bb9bd380a11", "NULL"],
        ),
        fails(
            "uuid",
            strs(&["not-a-uuid"]),
            &value_error("uuid", 0, "text that is not a UUID"),
        ),
        fails(
            "uuid",
            bins(&[&[1, 2, 3]]),
            &value_error("uuid", 0, "3 bytes where a UUID has 16"),
        ),
        // arrays
        ok("integer[]", int_lists(), &["[1, NULL, 3]", "[]", "NULL"]),
        fails(
            "integer[]",
            big_int_lists(),
            &value_error(
                "integer[]",
                0,
                "element 1: a value out of the column's range (-2147483648 to 2147483647)",
            ),
        ),
        ok("bigint[]", big_int_lists(), &["[1, 1099511627776]", "NULL"]),
        ok("text[]", text_lists(), &["[a, NULL, b c]", "NULL"]),
        ok(
            "numeric(6,2)[]",
            decimal_lists(),
            &["[123.45, -0.05]", "NULL"],
        ),
        fails("integer[]", small(&[1]), &type_error("Int64", "integer[]")),
        // enums and domains: the server checks labels and constraints.
        ok("mood", strs(&["happy", "sad"]), &["happy", "sad", "NULL"]),
        fails(
            "mood",
            strs(&["happy", "angry"]),
            "invalid input value for enum mood: \"angry\"",
        ),
        ok("positive", small(&[1, 5]), &["1", "5", "NULL"]),
        fails(
            "positive",
            small(&[1, 0]),
            "value for domain positive violates check constraint",
        ),
        fails(
            "positive",
            i64s(),
            &range("positive", 0, "-2147483648", "2147483647"),
        ),
    ]
}

#[test]
fn append_matrix() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("pg");
    conn.execute(
        "CREATE TYPE mood AS ENUM ('sad', 'happy'); \
         CREATE DOMAIN positive AS integer CHECK (VALUE > 0)",
    )
    .blocking()
    .unwrap();
    let problems = run_append(&conn, &append_cases(), |table, column| {
        format!("CREATE TABLE {table} (case_no integer, seq integer, v {column})")
    });
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn pg_column_types(conn: &SqlConnection, table: &str) -> Vec<(String, String)> {
    conn.query(
        "SELECT attname::text AS name, format_type(atttypid, atttypmod) AS type \
         FROM pg_attribute WHERE attrelid = to_regclass(:t) AND attnum > 0 AND NOT attisdropped",
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
    let conn = project.sql("pg");
    let ts = "Timestamp(µs)";
    let columns = vec![
        created(
            "c_bool",
            bools(),
            "boolean",
            "Boolean",
            &["true", "false", "NULL"],
        ),
        created("c_i8", i8s(), "smallint", "Int16", &["-128", "127", "NULL"]),
        created(
            "c_i16",
            i16s(),
            "smallint",
            "Int16",
            &["-32768", "32767", "NULL"],
        ),
        created(
            "c_i32",
            i32s(),
            "integer",
            "Int32",
            &["-2147483648", "2147483647", "NULL"],
        ),
        created(
            "c_i64",
            i64s(),
            "bigint",
            "Int64",
            &["-9223372036854775808", "9223372036854775807", "NULL"],
        ),
        created("c_u8", u8s(), "smallint", "Int16", &["0", "255", "NULL"]),
        created("c_u16", u16s(), "integer", "Int32", &["0", "65535", "NULL"]),
        created(
            "c_u32",
            u32s(),
            "bigint",
            "Int64",
            &["0", "4294967295", "NULL"],
        ),
        created(
            "c_u64",
            u64s(),
            "numeric(20,0)",
            "Decimal128(20, 0)",
            &["0", "18446744073709551615", "NULL"],
        ),
        created(
            "c_f16",
            f16s(),
            "real",
            "Float32",
            &["1.5", "-0.25", "NULL"],
        ),
        created(
            "c_f32",
            f32s(&[0.1, -2.5]),
            "real",
            "Float32",
            &["0.1", "-2.5", "NULL"],
        ),
        created(
            "c_f64",
            f64s(&[0.1, f64::NAN]),
            "double precision",
            "Float64",
            &["0.1", "NaN", "NULL"],
        ),
        created(
            "c_dec",
            dec(10, 2, &[12345, -5]),
            "numeric(10,2)",
            "Decimal128(10, 2)",
            &["123.45", "-0.05", "NULL"],
        ),
        created(
            "c_dec0",
            dec(5, 0, &[99999, -1]),
            "numeric(5,0)",
            "Decimal128(5, 0)",
            &["99999", "-1", "NULL"],
        ),
        created(
            "c_decneg",
            dec(5, -2, &[123, -5]),
            "numeric(7,0)",
            "Decimal128(7, 0)",
            &["12300", "-500", "NULL"],
        ),
        created(
            "c_dec256",
            dec256(40, 5, &["12345678901234567890123456789012345", "-1"]),
            "numeric(40,5)",
            "Decimal256(40, 5)",
            &["123456789012345678901234567890.12345", "-0.00001", "NULL"],
        ),
        created(
            "c_text",
            strs(&["héllo", ""]),
            "text",
            "Utf8",
            &["héllo", "", "NULL"],
        ),
        created(
            "c_large",
            large_strs(&["a", "b"]),
            "text",
            "Utf8",
            &["a", "b", "NULL"],
        ),
        created(
            "c_view",
            view_strs(&["a", "b"]),
            "text",
            "Utf8",
            &["a", "b", "NULL"],
        ),
        created(
            "c_dict",
            dictionary(&["x", "y"]),
            "text",
            "Utf8",
            &["x", "y", "NULL"],
        ),
        created(
            "c_json",
            strs(&["{\"b\": 1,  \"a\": 2}", "[]"]),
            "json",
            "Utf8",
            &["{\"b\": 1,  \"a\": 2}", "[]", "NULL"],
        )
        .marked("arrow.json"),
        created(
            "c_bin",
            bins(&[&[0, 255], &[]]),
            "bytea",
            "Binary",
            &["00ff", "", "NULL"],
        ),
        created(
            "c_fixed",
            fixed(2, &[&[1, 2], &[3, 4]]),
            "bytea",
            "Binary",
            &["0102", "0304", "NULL"],
        ),
        created(
            "c_uuid",
            fixed(16, &[&UUID, &[0; 16]]),
            "uuid",
            "FixedSizeBinary(16)",
            &[
                "a0eebc999c0b4ef8bb6d6bb9bd380a11",
                "00000000000000000000000000000000",
                "NULL",
            ],
        )
        .marked("arrow.uuid"),
        created(
            "c_date32",
            dates32(),
            "date",
            "Date32",
            &["2024-02-29", "1969-12-31", "NULL"],
        ),
        created(
            "c_date64",
            dates64(),
            "date",
            "Date32",
            &["2024-02-29", "1969-12-31", "NULL"],
        ),
        created(
            "c_ts",
            stamps_us(&[0, -1], None),
            "timestamp without time zone",
            ts,
            &["1970-01-01T00:00:00", "1969-12-31T23:59:59.999999", "NULL"],
        ),
        created(
            "c_tsz",
            stamps_us(&[0, -1], Some("UTC")),
            "timestamp with time zone",
            "Timestamp(µs, \"UTC\")",
            &[
                "1970-01-01T00:00:00Z",
                "1969-12-31T23:59:59.999999Z",
                "NULL",
            ],
        ),
        created(
            "c_tsz2",
            stamps_us(&[0, -1], Some("+02:00")),
            "timestamp with time zone",
            "Timestamp(µs, \"UTC\")",
            &[
                "1970-01-01T00:00:00Z",
                "1969-12-31T23:59:59.999999Z",
                "NULL",
            ],
        ),
        created(
            "c_list",
            int_lists(),
            "integer[]",
            "List(Int32)",
            &["[1, NULL, 3]", "[]", "NULL"],
        ),
    ];
    let problems = run_create(&conn, "created", &columns, pg_column_types);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A table of `(id integer, name text)` rows.
fn id_names(ids: &[i32], name: impl Fn(i32) -> String) -> Table {
    use conn_core::arrow::array::{Int32Array, RecordBatch, StringArray};
    use conn_core::arrow::datatypes::{DataType, Field, Schema};
    let schema = std::sync::Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, false),
        Field::new("name", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        std::sync::Arc::clone(&schema),
        vec![
            std::sync::Arc::new(Int32Array::from(ids.to_vec())),
            std::sync::Arc::new(StringArray::from_iter_values(ids.iter().map(|i| name(*i)))),
        ],
    )
    .unwrap();
    Table::from_batch(batch)
}

fn keyed_rows(conn: &SqlConnection, table: &str) -> Vec<(i32, String)> {
    conn.query(format!("SELECT id, name FROM {table} ORDER BY id"))
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(i32, String)>()
        .unwrap()
}

#[test]
fn a_failed_copy_leaves_a_one_connection_pool_usable_and_the_table_unchanged() {
    let Some((scratch, _project)) = scratch() else {
        return;
    };
    let project = Project::new(&format!(
        "[connections.one]\ntype = \"sql\"\nurl = \"{}\"\n\
         create_engine_kwargs = {{ pool_size = 1, max_overflow = 0, pool_pre_ping = false }}\n",
        scratch.url
    ));
    let conn = project.sql("one");
    conn.execute(
        "CREATE TABLE keyed (id integer PRIMARY KEY, name text NOT NULL); \
         INSERT INTO keyed VALUES (1, 'kept'), (2, 'kept')",
    )
    .blocking()
    .unwrap();
    let before = keyed_rows(&conn, "keyed");
    // About 8 MB: the COPY sends several chunks before and after the server's error.
    let ids: Vec<i32> = (100..80_100).collect();
    let long = |i: i32| format!("{i:0>100}");
    let mut early = ids.clone();
    early[0] = 1;
    let mut late = ids.clone();
    *late.last_mut().unwrap() = 2;
    for (what, ids) in [("early duplicate", early), ("late duplicate", late)] {
        let err = conn
            .write_table("keyed", &id_names(&ids, long), WriteMode::Append)
            .blocking()
            .unwrap_err();
        assert_eq!(err.code(), Some("23505"), "{what}: {err}");
        assert_eq!(keyed_rows(&conn, "keyed"), before, "{what}");
    }
    // A value the column cannot hold, at the end of a long table: refused before the
    // COPY starts.
    let err = conn
        .write_table(
            "keyed",
            &id_names(&ids, |i| if i == 80_099 { "nul\0".into() } else { long(i) }),
            WriteMode::Append,
        )
        .blocking()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("column \"name\" (text), row 79999: text with a NUL character (0x00)"),
        "{err}"
    );
    assert_eq!(keyed_rows(&conn, "keyed"), before);
    // The one connection is clean: not in a transaction, not mid-COPY.
    let state = conn
        .query("SELECT state, backend_xid IS NULL AS no_xid FROM pg_stat_activity WHERE pid = pg_backend_pid()")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(String, bool)>()
        .unwrap();
    assert_eq!(state, vec![("active".to_owned(), true)]);
    let written = conn
        .write_table("keyed", &id_names(&ids, long), WriteMode::Append)
        .blocking()
        .unwrap();
    assert_eq!(written, 80_000);
    assert_eq!(keyed_rows(&conn, "keyed").len(), 80_002);
}

#[test]
fn identifiers_are_quoted_whole_and_long_ones_refused() {
    use conn_core::arrow::array::{Int32Array, RecordBatch};
    use conn_core::arrow::datatypes::{DataType, Field, Schema};
    let Some((scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("pg");
    let names = [
        "a.b",
        "say \"hi\"",
        "with space",
        "naïve €",
        "UPPER",
        "x".repeat(63).leak(),
    ];
    let schema = std::sync::Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(*n, DataType::Int32, true))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        std::sync::Arc::clone(&schema),
        names
            .iter()
            .enumerate()
            .map(|(i, _)| {
                std::sync::Arc::new(Int32Array::from(vec![i32::try_from(i).unwrap()])) as _
            })
            .collect(),
    )
    .unwrap();
    let table = Table::from_batch(batch);
    let schema_name = &scratch.schema;
    for name in [
        "\"my.table\"".to_owned(),
        format!("{schema_name}.\"other.table\""),
        "\"it\"\"s\"".to_owned(),
        "Ünïcödé täble".to_owned(),
        "t".repeat(63),
    ] {
        assert_eq!(
            conn.write_table(&name, &table, WriteMode::Create)
                .blocking()
                .unwrap(),
            1,
            "{name}"
        );
        assert_eq!(
            conn.write_table(&name, &table, WriteMode::Append)
                .blocking()
                .unwrap(),
            1,
            "{name}"
        );
        assert_eq!(
            conn.write_table(&name, &table, WriteMode::Replace)
                .blocking()
                .unwrap(),
            1,
            "{name}"
        );
    }
    // The names are the tables' real names, and the columns' too.
    let tables = conn
        .query("SELECT relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = :s AND relkind = 'r' ORDER BY relname")
        .param("s", schema_name.as_str())
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(String,)>()
        .unwrap();
    let mut expected: Vec<(String,)> = ["it\"s", "my.table", "other.table", "Ünïcödé täble"]
        .iter()
        .map(|s| ((*s).to_owned(),))
        .chain([("t".repeat(63),)])
        .collect();
    expected.sort();
    let mut tables = tables;
    tables.sort();
    assert_eq!(tables, expected);
    let back = conn
        .query("SELECT * FROM \"my.table\"")
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

    // Names PostgreSQL would truncate are refused, never truncated into a collision.
    let long = "t".repeat(64);
    let err = conn
        .write_table(&long, &table, WriteMode::Create)
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "table name \"{long}\" is 64 bytes; PostgreSQL keeps only the first 63 bytes"
        )),
        "{err}"
    );
    let wide_schema = std::sync::Arc::new(Schema::new(vec![Field::new(
        "é".repeat(32),
        DataType::Int32,
        true,
    )]));
    let wide = Table::new(wide_schema, vec![]).unwrap();
    let err = conn
        .write_table("fine", &wide, WriteMode::Create)
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(err.contains("is 64 bytes; PostgreSQL keeps only"), "{err}");
    let err = conn
        .write_table("a.b.c", &table, WriteMode::Create)
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(err.contains("it has more than two parts"), "{err}");
    // A table that is not there.
    let err = conn
        .write_table("missing", &table, WriteMode::Append)
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(err.contains("table \"missing\" does not exist"), "{err}");
    // A field with no column lists the table's columns.
    let other = Table::from_batch(
        RecordBatch::try_new(
            std::sync::Arc::new(Schema::new(vec![Field::new("nope", DataType::Int32, true)])),
            vec![std::sync::Arc::new(Int32Array::from(vec![1]))],
        )
        .unwrap(),
    );
    let err = conn
        .write_table("\"my.table\"", &other, WriteMode::Append)
        .blocking()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "column \"nope\" is not in table \"my.table\" (its columns: \"a.b\", \"say \"hi\"\""
        ),
        "{err}"
    );
}

#[test]
fn the_date_and_timestamp_ranges_are_postgresqls() {
    use conn_core::arrow::array::{Date32Array, RecordBatch, TimestampMicrosecondArray};
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("pg");
    conn.execute("CREATE TABLE r (v date)").blocking().unwrap();
    let dates = |d: i32| {
        Table::from_batch(
            RecordBatch::try_from_iter([(
                "v",
                std::sync::Arc::new(Date32Array::from(vec![d])) as _,
            )])
            .unwrap(),
        )
    };
    // 5874897-12-31 and 4714-11-24 BC are PostgreSQL's last and first dates.
    conn.write_table("r", &dates(2_145_042_905), WriteMode::Append)
        .blocking()
        .unwrap();
    conn.write_table("r", &dates(-2_440_588), WriteMode::Append)
        .blocking()
        .unwrap();
    for outside in [2_145_042_906, -2_440_589] {
        let err = conn
            .write_table("r", &dates(outside), WriteMode::Append)
            .blocking()
            .unwrap_err();
        let err = common::data_message(&err, &conn);
        assert_eq!(
            err,
            "column \"v\" (date), row 0: a date outside the column's range"
        );
    }
    let text = conn
        .query("SELECT v::text AS t FROM r ORDER BY v")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(String,)>()
        .unwrap();
    assert_eq!(
        text,
        vec![("4714-11-24 BC".to_owned(),), ("5874897-12-31".to_owned(),)]
    );
    conn.execute("CREATE TABLE s (v timestamp)")
        .blocking()
        .unwrap();
    let stamps = |us: i64| {
        Table::from_batch(
            RecordBatch::try_from_iter([(
                "v",
                std::sync::Arc::new(TimestampMicrosecondArray::from(vec![us])) as _,
            )])
            .unwrap(),
        )
    };
    conn.write_table("s", &stamps(-210_866_803_200_000_000), WriteMode::Append)
        .blocking()
        .unwrap();
    conn.write_table("s", &stamps(i64::MAX), WriteMode::Append)
        .blocking()
        .unwrap();
    let err = conn
        .write_table("s", &stamps(-210_866_803_200_000_001), WriteMode::Append)
        .blocking()
        .unwrap_err();
    let err = common::data_message(&err, &conn);
    assert_eq!(
        err,
        "column \"v\" (timestamp without time zone), row 0: a timestamp outside the column's range"
    );
    let text = conn
        .query("SELECT v::text AS t FROM s ORDER BY v")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(String,)>()
        .unwrap();
    assert_eq!(
        text,
        vec![
            ("4714-11-24 00:00:00 BC".to_owned(),),
            ("294247-01-10 04:00:54.775807".to_owned(),)
        ]
    );
}

#[test]
fn queries_copy_cannot_wrap_work_in_sessions_and_outside() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("pg");
    conn.execute("CREATE TABLE log (a integer)")
        .blocking()
        .unwrap();
    let mut session = conn.session().blocking().unwrap();
    session
        .execute("INSERT INTO log VALUES (1)")
        .blocking()
        .unwrap();
    // COPY refuses SELECT INTO (0A000); inside a session every query takes the row
    // path, and the transaction goes on.
    session
        .query("SELECT 2 AS a INTO TEMP copied_into")
        .blocking()
        .unwrap();
    // A query COPY takes, inside the same transaction, sees the uncommitted rows.
    let inside = session
        .query("SELECT a FROM log UNION ALL SELECT a FROM copied_into ORDER BY a")
        .blocking()
        .unwrap()
        .rows::<(i32,)>()
        .unwrap();
    assert_eq!(inside, vec![(1,), (2,)]);
    session
        .execute("INSERT INTO log VALUES (3)")
        .blocking()
        .unwrap();
    session.commit().blocking().unwrap();
    let rows = conn
        .query("SELECT a FROM log ORDER BY a")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(i32,)>()
        .unwrap();
    assert_eq!(rows, vec![(1,), (3,)]);
    // Outside a session too, on a pool of one connection: the connection stays in step.
    let project = Project::new(&format!(
        "[connections.one]\ntype = \"sql\"\nurl = \"{}\"\n\
         create_engine_kwargs = {{ pool_size = 1, max_overflow = 0, pool_pre_ping = false }}\n",
        _scratch.url
    ));
    let one = project.sql("one");
    for _ in 0..2 {
        one.query("SELECT 4 AS a INTO TEMP elsewhere")
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap();
        let rows = one
            .query("SELECT a FROM elsewhere; -- a trailing comment")
            .ttl(Ttl::ZERO)
            .blocking()
            .unwrap()
            .rows::<(i32,)>()
            .unwrap();
        assert_eq!(rows, vec![(4,)]);
        one.execute("DROP TABLE elsewhere").blocking().unwrap();
    }
}

#[test]
fn a_committed_session_clears_cached_results_and_a_rolled_back_one_does_not() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("pg");
    conn.execute("CREATE TABLE counted (a integer)")
        .blocking()
        .unwrap();
    let count = |conn: &SqlConnection| {
        conn.query("SELECT count(*) AS n FROM counted")
            .blocking()
            .unwrap()
            .rows::<(i64,)>()
            .unwrap()[0]
            .0
    };
    assert_eq!(count(&conn), 0);
    let mut session = conn.session().blocking().unwrap();
    session
        .execute("INSERT INTO counted VALUES (1)")
        .blocking()
        .unwrap();
    drop(session);
    assert_eq!(count(&conn), 0);
    let hits = conn.stats().cache_hits;
    let mut session = conn.session().blocking().unwrap();
    session
        .execute("INSERT INTO counted VALUES (1)")
        .blocking()
        .unwrap();
    // Not committed yet: the cached result stands.
    assert_eq!(count(&conn), 0);
    session.commit().blocking().unwrap();
    assert_eq!(count(&conn), 1, "the commit cleared the cached count");
    assert_eq!(conn.stats().cache_hits, hits + 1);
}

#[test]
fn a_failed_write_in_a_session_leaves_the_session_usable() {
    let Some((_scratch, project)) = scratch() else {
        return;
    };
    let conn = project.sql("pg");
    conn.execute(
        "CREATE TABLE keyed (id integer PRIMARY KEY, name text); \
         INSERT INTO keyed VALUES (1, 'kept')",
    )
    .blocking()
    .unwrap();
    let mut session = conn.session().blocking().unwrap();
    session
        .execute("INSERT INTO keyed VALUES (2, 'in session')")
        .blocking()
        .unwrap();
    let clash = id_names(&[3, 1], |_| "clash".into());
    let err = session
        .write_table("keyed", &clash, WriteMode::Append)
        .blocking()
        .unwrap_err();
    assert_eq!(err.code(), Some("23505"), "{err}");
    let bad = id_names(&[4], |_| "nul\0".into());
    let err = session
        .write_table("keyed", &bad, WriteMode::Append)
        .blocking()
        .unwrap_err();
    assert!(err.to_string().contains("0x00"), "{err}");
    let good = id_names(&[5, 6], |i| format!("good {i}"));
    assert_eq!(
        session
            .write_table("keyed", &good, WriteMode::Append)
            .blocking()
            .unwrap(),
        2
    );
    // Create inside the session is part of its transaction.
    session
        .write_table("made_inside", &good, WriteMode::Create)
        .blocking()
        .unwrap();
    session.commit().blocking().unwrap();
    assert_eq!(
        keyed_rows(&conn, "keyed"),
        vec![
            (1, "kept".into()),
            (2, "in session".into()),
            (5, "good 5".into()),
            (6, "good 6".into())
        ]
    );
    assert_eq!(keyed_rows(&conn, "made_inside").len(), 2);
    // A session dropped without commit takes its Create with it.
    let mut session = conn.session().blocking().unwrap();
    session
        .write_table("never", &good, WriteMode::Create)
        .blocking()
        .unwrap();
    drop(session);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let err = conn
        .query("SELECT * FROM never")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap_err();
    assert_eq!(err.code(), Some("42P01"));
}
