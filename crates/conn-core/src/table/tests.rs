use std::sync::Arc;

use arrow::array::{
    BooleanArray, Float64Array, Int32Array, Int64Array, ListArray, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};
use serde::Deserialize;

use super::*;

fn pets() -> Table {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("weight", DataType::Float64, true),
        Field::new("adopted", DataType::Boolean, true),
    ]));
    let batch = |ids: Vec<i64>, names: Vec<Option<&str>>, weights: Vec<Option<f64>>| {
        let n = ids.len();
        RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(ids)),
                Arc::new(StringArray::from(names)),
                Arc::new(Float64Array::from(weights)),
                Arc::new(BooleanArray::from(vec![Some(true); n])),
            ],
        )
        .unwrap()
    };
    Table::new(
        Arc::clone(&schema),
        vec![
            batch(
                vec![1, 2],
                vec![Some("Rex"), None],
                vec![Some(12.5), Some(3.0)],
            ),
            batch(vec![3], vec![Some("Tom")], vec![None]),
        ],
    )
    .unwrap()
}

#[test]
fn counts_and_columns() {
    let table = pets();
    assert_eq!(table.num_rows(), 3);
    assert_eq!(table.num_columns(), 4);
    assert_eq!(
        table.column_names(),
        vec!["id", "name", "weight", "adopted"]
    );
    let ids = table.column("id").unwrap();
    assert_eq!(ids.len(), 3);
    assert_eq!(table.column_chunks("id").unwrap().len(), 2);
    let err = table.column("nmae").unwrap_err().to_string();
    assert_eq!(
        err,
        "no column \"nmae\" (did you mean \"name\"?); columns: id, name, weight, adopted"
    );
    assert_eq!(table.to_record_batch().unwrap().num_rows(), 3);
    assert!(table.memory_size() > 0);
}

#[test]
fn clones_share_data() {
    let table = pets();
    let clone = table.clone();
    assert!(clone.shares_data_with(&table));
    assert!(!pets().shares_data_with(&table));
}

#[test]
fn typed_rows_through_serde() {
    #[derive(Deserialize, Debug, PartialEq)]
    struct Pet {
        id: i64,
        name: Option<String>,
        weight: Option<f64>,
        adopted: bool,
    }
    let rows: Vec<Pet> = pets().rows().unwrap();
    assert_eq!(
        rows[1],
        Pet {
            id: 2,
            name: None,
            weight: Some(3.0),
            adopted: true
        }
    );
    assert_eq!(rows[2].weight, None);
    let err = pets()
        .rows::<(i64, Option<String>)>()
        .unwrap_err()
        .to_string();
    assert_eq!(err, "row 0: the row has 4 columns but the type reads 2");
    let tuples: Vec<(i64, Option<String>, Option<f64>, bool)> = pets().rows().unwrap();
    assert_eq!(tuples[0], (1, Some("Rex".to_owned()), Some(12.5), true));
}

#[test]
fn a_value_that_does_not_fit_names_column_and_row() {
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Strict {
        id: i64,
        name: String,
    }
    let err = pets().rows::<Strict>().unwrap_err().to_string();
    assert_eq!(
        err,
        "row 1, column \"name\": invalid type: Option value, expected a string"
    );
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Small {
        id: i8,
        weight: u8,
    }
    let err = pets().rows::<Small>().unwrap_err().to_string();
    assert_eq!(
        err,
        "row 0, column \"weight\": invalid type: floating point `12.5`, expected u8"
    );
}

#[test]
fn timestamps_and_lists_deserialize() {
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new(
            "tags",
            DataType::List(Arc::new(Field::new_list_field(DataType::Int32, true))),
            true,
        ),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(TimestampMicrosecondArray::from(vec![1_700_000_000_000_000])),
            Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
                Some(vec![Some(1), None, Some(3)]),
            ])),
        ],
    )
    .unwrap();
    #[derive(Deserialize)]
    struct Row {
        at: String,
        tags: Vec<Option<i32>>,
    }
    let rows: Vec<Row> = Table::from_batch(batch.clone()).rows().unwrap();
    assert_eq!(rows[0].at, "2023-11-14T22:13:20");
    assert_eq!(rows[0].tags, vec![Some(1), None, Some(3)]);
    #[derive(Deserialize)]
    struct Raw {
        at: i64,
    }
    let raw: Vec<Raw> = Table::from_batch(batch).rows().unwrap();
    assert_eq!(raw[0].at, 1_700_000_000_000_000);
}

#[test]
fn display_is_aligned_with_types_and_shape() {
    assert_eq!(
        pets().to_string(),
        " id    | name | weight  | adopted\n\
         \x20int64 | utf8 | float64 | boolean\n\
         -------+------+---------+---------\n\
         \x20    1 | Rex  |    12.5 | true\n\
         \x20    2 | null |     3.0 | true\n\
         \x20    3 | Tom  |    null | true\n\
         (3 rows × 4 columns)"
    );
}

#[test]
fn display_truncates_long_and_wide_tables() {
    let schema = Arc::new(Schema::new(
        (0..12)
            .map(|i| Field::new(format!("c{i}"), DataType::Int32, false))
            .collect::<Vec<_>>(),
    ));
    let columns = (0..12)
        .map(|_| Arc::new(Int32Array::from_iter_values(0..100)) as ArrayRef)
        .collect();
    let table = Table::from_batch(RecordBatch::try_new(schema, columns).unwrap());
    let text = table
        .display(DisplayOptions {
            max_rows: 4,
            max_columns: 4,
            max_cell_width: 8,
        })
        .to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], " c0    | c1    | … | c10   | c11");
    assert_eq!(lines[4], "     1 |     1 | … |     1 |     1");
    assert_eq!(lines[5], "     … |     … | … |     … |     …");
    assert_eq!(lines[7], "    99 |    99 | … |    99 |    99");
    assert_eq!(lines[8], "(100 rows × 12 columns)");
}

#[test]
fn mismatched_batches_are_refused() {
    let a = pets().batches()[0].clone();
    let other = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, false)])),
        vec![Arc::new(Int32Array::from(vec![1]))],
    )
    .unwrap();
    let err = Table::new(a.schema(), vec![a, other])
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "record batch 1 has a schema that differs from the table's"
    );
}

#[test]
fn temporal_cells_read_as_their_stored_integers_in_every_unit() {
    use arrow::array::{
        Date64Array, DurationSecondArray, Time64NanosecondArray, TimestampNanosecondArray,
        TimestampSecondArray,
    };
    let n = 50_000i64;
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "s",
            DataType::Timestamp(TimeUnit::Second, Some("UTC".into())),
            true,
        ),
        Field::new("ns", DataType::Timestamp(TimeUnit::Nanosecond, None), true),
        Field::new("d", DataType::Date64, true),
        Field::new("t", DataType::Time64(TimeUnit::Nanosecond), true),
        Field::new("dur", DataType::Duration(TimeUnit::Second), true),
    ]));
    let values = |scale: i64| (0..n).map(move |i| (i % 7 != 3).then_some(i * scale - 5));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(TimestampSecondArray::from_iter(values(1)).with_timezone("UTC")),
            Arc::new(TimestampNanosecondArray::from_iter(values(1_000))),
            Arc::new(Date64Array::from_iter(values(86_400_000))),
            Arc::new(Time64NanosecondArray::from_iter(
                values(7).map(|v| v.map(i64::abs)),
            )),
            Arc::new(DurationSecondArray::from_iter(values(3))),
        ],
    )
    .unwrap();
    #[derive(Deserialize)]
    struct Raw {
        s: Option<i64>,
        ns: Option<i64>,
        d: Option<i64>,
        t: Option<i64>,
        dur: Option<i64>,
    }
    let rows: Vec<Raw> = Table::from_batch(batch).rows().unwrap();
    assert_eq!(rows.len(), 50_000);
    for (i, row) in (0..n).zip(&rows) {
        let want = |scale: i64| (i % 7 != 3).then_some(i * scale - 5);
        assert_eq!(row.s, want(1), "row {i}");
        assert_eq!(row.ns, want(1_000), "row {i}");
        assert_eq!(row.d, want(86_400_000), "row {i}");
        assert_eq!(row.t, want(7).map(i64::abs), "row {i}");
        assert_eq!(row.dur, want(3), "row {i}");
    }
}
