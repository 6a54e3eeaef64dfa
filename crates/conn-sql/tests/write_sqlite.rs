//! `write_table` against real SQLite files: every Arrow type into every declared column
//! type (and the refusals), `Create`'s mapping, identifiers and sessions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::Project;
use common::matrix::{Case, created, days, fails, ok, run_append, run_create, src::*};
use conn_core::arrow::array::{Date32Array, Int32Array, RecordBatch, StringArray};
use conn_core::arrow::datatypes::{DataType, Field, Schema};
use conn_core::{Table, Ttl};
use conn_sql::{SqlConnection, WriteMode};

fn project() -> Project {
    Project::with(|dir| {
        format!(
            "[connections.lite]\ntype = \"sql\"\nurl = \"sqlite:///{}\"\n",
            dir.join("write.db").display()
        )
    })
}

fn type_error(arrow: &str, column: &str) -> String {
    format!("column \"v\": cannot write Arrow {arrow} values to a SQLite column of type {column}")
}

fn value_error(column: &str, row: usize, kind: &str) -> String {
    format!("column \"v\" ({column}), row {row}: {kind}")
}

const NO_TYPE: &str = "(no declared type)";

fn append_cases() -> Vec<Case> {
    let i64_range =
        "a value out of the column's range (-9223372036854775808 to 9223372036854775807)";
    vec![
        // A column without declared type keeps each value's own kind.
        ok("", bools(), &["1", "0", "NULL"]),
        ok(
            "",
            i64s(),
            &["-9223372036854775808", "9223372036854775807", "NULL"],
        ),
        ok("", f64s(&[0.1, 2.5]), &["0.1", "2.5", "NULL"]),
        ok("", dec(10, 2, &[12345, -5]), &["123.45", "-0.05", "NULL"]),
        ok("", strs(&["héllo", ""]), &["héllo", "", "NULL"]),
        ok("", bins(&[&[0, 255]]), &["00ff", "NULL"]),
        ok("", dates32(), &["2024-02-29", "1969-12-31", "NULL"]),
        ok("", stamps("ms", None), &["2024-02-29 13:14:15.500", "NULL"]),
        fails(
            "",
            u64s(),
            &value_error(
                NO_TYPE,
                1,
                "an integer beyond SQLite's 64-bit signed integers",
            ),
        ),
        fails(
            "",
            f64s(&[f64::NAN]),
            &value_error(NO_TYPE, 0, "NaN, which SQLite stores as NULL"),
        ),
        fails(
            "",
            intervals(0),
            &type_error("Interval(MonthDayNano)", NO_TYPE),
        ),
        fails("", int_lists(), "cannot write Arrow List("),
        // INTEGER
        ok(
            "INTEGER",
            i64s(),
            &["-9223372036854775808", "9223372036854775807", "NULL"],
        ),
        ok("INTEGER", u32s(), &["0", "4294967295", "NULL"]),
        ok("INTEGER", bools(), &["1", "0", "NULL"]),
        ok("BIGINT", f64s(&[2.0, -3.0]), &["2", "-3", "NULL"]),
        ok("INTEGER", dec(10, 2, &[100, -4200]), &["1", "-42", "NULL"]),
        fails("INTEGER", u64s(), &value_error("INTEGER", 1, i64_range)),
        fails(
            "INTEGER",
            f64s(&[2.5]),
            &value_error(
                "INTEGER",
                0,
                "a float with a fractional part, which an integer column cannot hold",
            ),
        ),
        fails("INTEGER", strs(&["1"]), &type_error("Utf8", "INTEGER")),
        // BOOLEAN
        ok("BOOLEAN", bools(), &["true", "false", "NULL"]),
        fails("BOOLEAN", small(&[1]), &type_error("Int64", "BOOLEAN")),
        // REAL: SQLite turns NaN into NULL; infinities survive.
        ok(
            "REAL",
            f64s(&[0.1, 1e300, f64::INFINITY]),
            &["0.1", "1e300", "inf", "NULL"],
        ),
        ok(
            "DOUBLE",
            f32s(&[0.5, 0.1]),
            &["0.5", "0.10000000149011612", "NULL"],
        ),
        ok(
            "REAL",
            dec(10, 2, &[12345, -5]),
            &["123.45", "-0.05", "NULL"],
        ),
        fails(
            "REAL",
            f64s(&[1.0, f64::NAN]),
            &value_error("REAL", 1, "NaN, which the column cannot hold"),
        ),
        fails(
            "REAL",
            small(&[(1 << 53) + 1]),
            &value_error("REAL", 0, "a value that a 64-bit float cannot hold exactly"),
        ),
        // NUMERIC affinity: integers stay integers, other numbers become floats that
        // must read back the same.
        ok("NUMERIC", small(&[1, -2]), &["1", "-2", "NULL"]),
        ok(
            "NUMERIC",
            dec(10, 2, &[12345, -5, 0]),
            &["123.45", "-0.05", "0.0", "NULL"],
        ),
        ok(
            "DECIMAL(10, 2)",
            dec(5, -2, &[123, -5]),
            &["12300", "-500", "NULL"],
        ),
        fails(
            "DECIMAL(30, 5)",
            dec256(40, 5, &["1234567890123456789012345678"]),
            &value_error(
                "DECIMAL(30, 5)",
                0,
                "a decimal SQLite cannot store exactly (it keeps about 15 significant digits \
                 of a fraction); write it to a TEXT column as Utf8",
            ),
        ),
        fails(
            "NUMERIC",
            u64s(),
            &value_error(
                "NUMERIC",
                1,
                "an integer beyond SQLite's 64-bit signed integers",
            ),
        ),
        // text and blobs
        ok("TEXT", strs(&["héllo", "😀"]), &["héllo", "😀", "NULL"]),
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
        ok("TEXT", strs(&["{\"a\": 1}"]), &["{\"a\": 1}", "NULL"]).marked("arrow.json"),
        // SQLite does not enforce declared lengths.
        ok("VARCHAR(3)", strs(&["longer"]), &["longer", "NULL"]),
        fails("TEXT", small(&[1]), &type_error("Int64", "TEXT")),
        ok("BLOB", bins(&[&[0, 255], &[]]), &["00ff", "", "NULL"]),
        ok("BLOB", fixed(3, &[&[1, 2, 3]]), &["010203", "NULL"]),
        ok(
            "BLOB",
            uuids(),
            &["a0eebc999c0b4ef8bb6d6bb9bd380a11", "NULL"],
        )
        .marked("arrow.uuid"),
        fails("BLOB", strs(&["x"]), &type_error("Utf8", "BLOB")),
        // dates and times: text SQLite and conn read back by declared type.
        ok("DATE", dates32(), &["2024-02-29", "1969-12-31", "NULL"]),
        ok("DATE", dates64(), &["2024-02-29", "1969-12-31", "NULL"]),
        fails(
            "DATE",
            a(Date32Array::from(vec![days(10000, 1, 1)])),
            &value_error("DATE", 0, "a date outside the column's range"),
        ),
        ok("TIME", times64_us(), &["13:14:15.123456", "NULL"]),
        ok("TIME", times32_s(), &["13:14:15", "NULL"]),
        fails(
            "TIME",
            times64_ns(789),
            &value_error(
                "TIME",
                0,
                "a time with nanoseconds; the database keeps microseconds",
            ),
        ),
        ok(
            "DATETIME",
            stamps("s", None),
            &["2024-02-29T13:14:15", "NULL"],
        ),
        ok(
            "DATETIME",
            stamps("ns", None),
            &["2024-02-29T13:14:15.500", "NULL"],
        ),
        ok(
            "DATETIME",
            stamps("us", Some("+02:00")),
            &["2024-02-29T13:14:15.500", "NULL"],
        ),
        ok(
            "TIMESTAMP",
            dates32(),
            &["2024-02-29T00:00:00", "1969-12-31T00:00:00", "NULL"],
        ),
        fails(
            "DATETIME",
            stamps_ns_with_nanos(),
            &value_error(
                "DATETIME",
                0,
                "a timestamp with nanoseconds; the database keeps microseconds",
            ),
        ),
        ok("INTEGER", nulls(2), &["NULL", "NULL"]),
    ]
}

#[test]
fn append_matrix() {
    let project = project();
    let conn = project.sql("lite");
    let problems = run_append(&conn, &append_cases(), |table, column| {
        format!("CREATE TABLE {table} (case_no INTEGER, seq INTEGER, v {column})")
    });
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn sqlite_column_types(conn: &SqlConnection, table: &str) -> Vec<(String, String)> {
    conn.query("SELECT name, type FROM pragma_table_info(:t)")
        .param("t", table)
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(String, String)>()
        .unwrap()
}

#[test]
fn create_maps_every_arrow_type() {
    let project = project();
    let conn = project.sql("lite");
    let columns = vec![
        created(
            "c_bool",
            bools(),
            "BOOLEAN",
            "Boolean",
            &["true", "false", "NULL"],
        ),
        created("c_i8", i8s(), "INTEGER", "Int64", &["-128", "127", "NULL"]),
        created(
            "c_i64",
            i64s(),
            "INTEGER",
            "Int64",
            &["-9223372036854775808", "9223372036854775807", "NULL"],
        ),
        created(
            "c_u32",
            u32s(),
            "INTEGER",
            "Int64",
            &["0", "4294967295", "NULL"],
        ),
        created(
            "c_f32",
            f32s(&[0.5, 0.1]),
            "REAL",
            "Float64",
            &["0.5", "0.10000000149011612", "NULL"],
        ),
        created(
            "c_f64",
            f64s(&[0.1, 1e300]),
            "REAL",
            "Float64",
            &["0.1", "1e300", "NULL"],
        ),
        created(
            "c_dec",
            dec(10, 2, &[12345, -5]),
            "NUMERIC",
            "Float64",
            &["123.45", "-0.05", "NULL"],
        ),
        created(
            "c_text",
            strs(&["héllo", ""]),
            "TEXT",
            "Utf8",
            &["héllo", "", "NULL"],
        ),
        created(
            "c_json",
            strs(&["{\"b\": 1}", "[]"]),
            "TEXT",
            "Utf8",
            &["{\"b\": 1}", "[]", "NULL"],
        )
        .marked("arrow.json"),
        created(
            "c_bin",
            bins(&[&[0, 255], &[]]),
            "BLOB",
            "Binary",
            &["00ff", "", "NULL"],
        ),
        created(
            "c_uuid",
            fixed(16, &[&UUID, &[0; 16]]),
            "BLOB",
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
            "DATE",
            "Date32",
            &["2024-02-29", "1969-12-31", "NULL"],
        ),
        created(
            "c_ts",
            stamps_us(&[0, -1], None),
            "DATETIME",
            "Timestamp(µs)",
            &["1970-01-01T00:00:00", "1969-12-31T23:59:59.999999", "NULL"],
        ),
        created(
            "c_tsz",
            stamps_us(&[0, -1], Some("+02:00")),
            "DATETIME",
            "Timestamp(µs)",
            &["1970-01-01T00:00:00", "1969-12-31T23:59:59.999999", "NULL"],
        ),
    ];
    let problems = run_create(&conn, "created", &columns, sqlite_column_types);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let err = conn
        .write_table(
            "more",
            &Table::from_batch(RecordBatch::try_from_iter([("u", u64s())]).unwrap()),
            WriteMode::Create,
        )
        .blocking()
        .unwrap_err();
    assert_eq!(
        common::data_message(&err, &conn),
        "column \"u\" (INTEGER), row 1: a value out of the column's range \
         (-9223372036854775808 to 9223372036854775807)"
    );
    let err = conn
        .write_table(
            "more",
            &Table::from_batch(RecordBatch::try_from_iter([("i", intervals(0))]).unwrap()),
            WriteMode::Create,
        )
        .blocking()
        .unwrap_err();
    assert_eq!(
        common::data_message(&err, &conn),
        "column \"i\": conn-sql cannot create a sqlite column for Arrow type \
         Interval(MonthDayNano) (it has no interval type)"
    );
    // Neither failure left a table behind.
    let left = conn
        .query("SELECT count(*) AS n FROM sqlite_master WHERE name = 'more'")
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(i64,)>()
        .unwrap();
    assert_eq!(left, vec![(0,)]);
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

fn id_rows(conn: &SqlConnection, table: &str) -> Vec<(i64, String)> {
    conn.query(format!("SELECT id, name FROM {table} ORDER BY id"))
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap()
        .rows::<(i64, String)>()
        .unwrap()
}

#[test]
fn identifiers_and_sessions() {
    let project = project();
    let conn = project.sql("lite");
    let names = ["a.b", "say \"hi\"", "with space", "naïve €"];
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
    for name in ["\"my.table\"", "main.\"other.table\"", "Ünïcödé täble"] {
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
    let back = conn
        .query("SELECT * FROM \"other.table\"")
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
    assert_eq!(back.num_rows(), 1);

    // A failed write inside a session rolls back to before it; the session goes on.
    conn.execute("CREATE TABLE keyed (id INTEGER PRIMARY KEY, name TEXT)")
        .blocking()
        .unwrap();
    let count = |conn: &SqlConnection| {
        conn.query("SELECT count(*) AS n FROM keyed")
            .blocking()
            .unwrap()
            .rows::<(i64,)>()
            .unwrap()[0]
            .0
    };
    assert_eq!(count(&conn), 0);
    let mut session = conn.session().blocking().unwrap();
    session
        .execute("INSERT INTO keyed VALUES (1, 'in session')")
        .blocking()
        .unwrap();
    let clash = id_names(&[2, 1], |_| "clash".into());
    let err = session
        .write_table("keyed", &clash, WriteMode::Append)
        .blocking()
        .unwrap_err();
    assert!(
        err.to_string().contains("UNIQUE constraint failed"),
        "{err}"
    );
    session
        .write_table(
            "keyed",
            &id_names(&[3], |_| "good".into()),
            WriteMode::Append,
        )
        .blocking()
        .unwrap();
    session.commit().blocking().unwrap();
    // The commit cleared the cached count.
    assert_eq!(count(&conn), 2);
    assert_eq!(
        id_rows(&conn, "keyed"),
        vec![(1, "in session".into()), (3, "good".into())]
    );
}
