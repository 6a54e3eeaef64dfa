//! Streamed reads through a test connector that produces numbered batches: order,
//! schema, bounded read-ahead, cancellation on drop, retries only before the first
//! batch, and values fitted to the announced types or refused.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use futures::StreamExt;

use crate::error::{ErrorClass, ErrorKind};
use crate::params::Params;
use crate::plugin::{Base, BatchSink, Connector, Queryable};
use crate::{ConnectionConfig, Error, Query, Result, RetryPolicy, Table};

/// What the producer of one connection name does, and what it saw.
#[derive(Default)]
struct Script {
    /// Batches of 10 rows (`0..` numbered through the result).
    batches: AtomicUsize,
    /// Attempts that fail transiently before sending anything.
    fail_before: AtomicUsize,
    /// Fail (transiently) after this many batches, on every attempt (0: never).
    fail_after: AtomicUsize,
    /// Send the batch at this index as Float64 with a fraction (0: never).
    fraction_at: AtomicUsize,
    /// After the first batch, wait forever outside `send` (only an abort stops it).
    hang_after_first: AtomicBool,
    /// Panic after this many batches (0: never).
    panic_after: AtomicUsize,
    /// Leading batches of NULLs typed Float64 (a placeholder, as a decoder that types by
    /// values gives them).
    null_first: AtomicUsize,
    /// Milliseconds before the first batch, and between later ones.
    delay_first_ms: AtomicUsize,
    delay_between_ms: AtomicUsize,
    attempts: AtomicUsize,
    /// Batches the producer finished sending.
    sent: AtomicUsize,
    /// Set when a producer's future was dropped before it finished.
    dropped_early: AtomicBool,
}

static SCRIPTS: LazyLock<Mutex<HashMap<String, Arc<Script>>>> = LazyLock::new(Default::default);

fn script(name: &str) -> Arc<Script> {
    Arc::clone(SCRIPTS.lock().unwrap().entry(name.to_owned()).or_default())
}

struct Numbers {
    script: Arc<Script>,
}

impl Connector for Numbers {
    type Raw = ();

    fn from_config(config: &ConnectionConfig) -> Result<Self> {
        Ok(Numbers {
            script: script(config.name()),
        })
    }

    async fn connect(&self) -> Result<()> {
        Ok(())
    }
}

fn transient(what: &str) -> Error {
    Error::driver("numbers", ErrorClass::Transient, what)
}

fn ints(from: i64, n: i64) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
    let values: ArrayRef = Arc::new(Int64Array::from_iter_values(from..from + n));
    RecordBatch::try_new(schema, vec![values]).unwrap()
}

fn floats(values: Vec<f64>) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Float64, true)]));
    let values: ArrayRef = Arc::new(Float64Array::from(values));
    RecordBatch::try_new(schema, vec![values]).unwrap()
}

/// Notes a producer dropped before its end.
struct DropFlag(Arc<Script>, bool);

impl Drop for DropFlag {
    fn drop(&mut self) {
        if !self.1 {
            self.0.dropped_early.store(true, Ordering::SeqCst);
        }
    }
}

impl Queryable for Numbers {
    async fn fetch(self: Arc<Self>, _: (), _: Arc<str>, _: Arc<Params>) -> Result<Table> {
        Err(Error::InvalidArgument(
            "the test connector only streams".into(),
        ))
    }

    async fn fetch_stream(
        self: Arc<Self>,
        _: (),
        _: Arc<str>,
        _: Arc<Params>,
        sink: BatchSink,
    ) -> Result<()> {
        let s = &self.script;
        let attempt = s.attempts.fetch_add(1, Ordering::SeqCst);
        if attempt < s.fail_before.load(Ordering::SeqCst) {
            return Err(transient("refused before the first batch"));
        }
        let mut flag = DropFlag(Arc::clone(s), false);
        let millis = |ms: &AtomicUsize| Duration::from_millis(ms.load(Ordering::SeqCst) as u64);
        tokio::time::sleep(millis(&s.delay_first_ms)).await;
        let batches = s.batches.load(Ordering::SeqCst);
        if batches == 0 {
            sink.announce(ints(0, 0).schema()).await?;
        }
        for i in 0..batches {
            if i > 0 && i == s.fail_after.load(Ordering::SeqCst) {
                flag.1 = true;
                return Err(transient("connection reset mid-result"));
            }
            let first = i64::try_from(i * 10).unwrap();
            let batch = if i < s.null_first.load(Ordering::SeqCst) {
                let nulls: ArrayRef = Arc::new(Float64Array::from(vec![None::<f64>; 10]));
                RecordBatch::try_new(floats(vec![]).schema(), vec![nulls]).unwrap()
            } else if i > 0 && i == s.fraction_at.load(Ordering::SeqCst) {
                floats((0..10).map(|k| (first + k) as f64 + 0.5).collect())
            } else if i % 2 == 1 {
                // Whole numbers as Float64: they fit the Int64 column unchanged.
                floats((0..10).map(|k| (first + k) as f64).collect())
            } else {
                ints(first, 10)
            };
            if i > 0 {
                tokio::time::sleep(millis(&s.delay_between_ms)).await;
            }
            if i > 0 && i == s.panic_after.load(Ordering::SeqCst) {
                flag.1 = true;
                panic!("the test producer panics after {i} batches");
            }
            sink.send(batch).await?;
            s.sent.fetch_add(1, Ordering::SeqCst);
            if s.hang_after_first.load(Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
        }
        flag.1 = true;
        Ok(())
    }
}

fn base(name: &str) -> Base<Numbers> {
    let config = ConnectionConfig::from_toml(name, "numbers", "", "/app/secrets.toml").unwrap();
    let base = Base::new(&config, "numbers").unwrap();
    base.set_retry_policy(RetryPolicy::new(3, Duration::from_millis(1)).unwrap());
    base
}

fn values(batches: &[RecordBatch]) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect()
}

#[test]
fn batches_arrive_in_order_with_one_schema_and_whole_floats_fitted() {
    let name = "stream_order";
    script(name).batches.store(25, Ordering::SeqCst);
    let stream = Query::new(&base(name), "select")
        .stream()
        .blocking()
        .unwrap();
    assert_eq!(stream.schema().field(0).data_type(), &DataType::Int64);
    let batches: Vec<RecordBatch> = stream.into_iter().map(|b| b.unwrap()).collect();
    assert_eq!(batches.len(), 25);
    assert!(
        batches
            .iter()
            .all(|b| b.schema().field(0).data_type() == &DataType::Int64)
    );
    assert_eq!(values(&batches), (0..250).collect::<Vec<_>>());
}

#[test]
fn an_empty_result_has_its_schema_and_no_batches() {
    let name = "stream_empty";
    let mut stream = Query::new(&base(name), "select")
        .stream()
        .blocking()
        .unwrap();
    assert_eq!(stream.schema().field(0).name(), "n");
    assert!(stream.next_blocking().is_none());
}

#[test]
fn a_value_that_does_not_fit_the_announced_type_ends_the_stream_naming_it() {
    let name = "stream_fraction";
    let s = script(name);
    s.batches.store(6, Ordering::SeqCst);
    s.fraction_at.store(4, Ordering::SeqCst);
    let results: Vec<Result<RecordBatch>> = Query::new(&base(name), "select")
        .stream()
        .blocking()
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(
        results.len(),
        5,
        "four batches, then the error, then nothing"
    );
    assert!(results[..4].iter().all(Result::is_ok));
    let err = results[4].as_ref().unwrap_err().to_string();
    assert!(
        err.contains("column \"n\", row 40: a Float64 value does not fit the column's type Int64"),
        "{err}"
    );
    assert_eq!(
        s.attempts.load(Ordering::SeqCst),
        1,
        "a data error is not retried"
    );
}

#[test]
fn an_attempt_that_fails_before_the_first_batch_is_retried() {
    let name = "stream_retry";
    let s = script(name);
    s.batches.store(3, Ordering::SeqCst);
    s.fail_before.store(2, Ordering::SeqCst);
    let stream = Query::new(&base(name), "select")
        .stream()
        .blocking()
        .unwrap();
    let batches: Vec<RecordBatch> = stream.into_iter().map(|b| b.unwrap()).collect();
    assert_eq!(values(&batches), (0..30).collect::<Vec<_>>());
    assert_eq!(s.attempts.load(Ordering::SeqCst), 3);
}

#[test]
fn an_error_after_the_first_batch_ends_the_stream_without_a_retry() {
    let name = "stream_mid_error";
    let s = script(name);
    s.batches.store(10, Ordering::SeqCst);
    s.fail_after.store(3, Ordering::SeqCst);
    let results: Vec<Result<RecordBatch>> = Query::new(&base(name), "select")
        .stream()
        .blocking()
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(results.len(), 4);
    assert_eq!(
        values(
            &results[..3]
                .iter()
                .map(|r| r.clone().unwrap())
                .collect::<Vec<_>>()
        ),
        (0..30).collect::<Vec<_>>()
    );
    let err = results[3].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(
        err.to_string().contains("connection reset mid-result"),
        "{err}"
    );
    assert_eq!(
        s.attempts.load(Ordering::SeqCst),
        1,
        "rows were handed out: no second attempt could be told apart from them"
    );
}

#[test]
fn the_producer_runs_at_most_the_prefetch_depth_ahead() {
    let name = "stream_prefetch";
    let s = script(name);
    s.batches.store(1000, Ordering::SeqCst);
    let mut stream = Query::new(&base(name), "select")
        .prefetch(3)
        .stream()
        .blocking()
        .unwrap();
    for taken in 1..=5 {
        stream.next_blocking().unwrap().unwrap();
        std::thread::sleep(Duration::from_millis(30));
        let sent = s.sent.load(Ordering::SeqCst);
        // Taken batches and three in the channel (a fourth waits in `send`, not sent).
        assert!(sent <= taken + 3, "{sent} sent after {taken} taken");
    }
}

#[test]
fn dropping_the_stream_stops_the_producer() {
    let name = "stream_drop";
    let s = script(name);
    s.batches.store(1_000_000, Ordering::SeqCst);
    let mut stream = Query::new(&base(name), "select")
        .stream()
        .blocking()
        .unwrap();
    stream.next_blocking().unwrap().unwrap();
    drop(stream);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !s.dropped_early.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        s.dropped_early.load(Ordering::SeqCst),
        "the producer was not stopped"
    );
    let sent = s.sent.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(s.sent.load(Ordering::SeqCst), sent, "the producer went on");
    assert_eq!(sent, 1, "{sent} batches were produced");
}

#[test]
fn a_stream_works_with_await_in_any_runtime() {
    let name = "stream_async";
    script(name).batches.store(4, Ordering::SeqCst);
    let base = base(name);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let collected = runtime.block_on(async {
        let mut stream = Query::new(&base, "select").stream().await.unwrap();
        let mut batches = Vec::new();
        while let Some(batch) = stream.next().await {
            batches.push(batch.unwrap());
        }
        batches
    });
    assert_eq!(values(&collected), (0..40).collect::<Vec<_>>());
}

#[test]
fn fitting_refuses_a_null_in_a_not_null_column_and_a_wrong_width() {
    let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
    let nulls = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("n", DataType::Float64, true)])),
        vec![Arc::new(Float64Array::from(vec![Some(1.0), None])) as ArrayRef],
    )
    .unwrap();
    let err = super::fit::to_schema(&nulls, &schema, 7)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("column \"n\": a NULL in a later batch"),
        "{err}"
    );
    let wide = ints(0, 3);
    let two = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Int64, true),
        ])),
        vec![wide.column(0).clone(), wide.column(0).clone()],
    )
    .unwrap();
    let err = super::fit::to_schema(&two, &schema, 0)
        .unwrap_err()
        .to_string();
    assert_eq!(err, "a streamed batch has 2 columns where the first had 1");
    // A float too large for Int64 is refused, not wrapped or saturated.
    let huge = floats(vec![1.0, 1e30]);
    let err = super::fit::to_schema(&huge, &ints(0, 1).schema(), 100)
        .unwrap_err()
        .to_string();
    assert!(err.contains("row 101"), "{err}");
}

#[test]
fn fitting_refuses_another_kind_of_value_and_other_names() {
    use arrow::datatypes::TimeUnit;
    // Unix seconds as Int64 would cast to microseconds since 1970 and back unchanged.
    let stamps = Arc::new(Schema::new(vec![Field::new(
        "n",
        DataType::Timestamp(TimeUnit::Microsecond, None),
        true,
    )]));
    let err = super::fit::to_schema(&ints(1_700_000_000, 2), &stamps, 5)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("column \"n\", row 5: a Int64 value does not fit the column's type Timestamp"),
        "{err}"
    );
    // All NULL fits any type.
    let nulls = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)])),
        vec![Arc::new(Int64Array::from(vec![None, None])) as ArrayRef],
    )
    .unwrap();
    let fitted = super::fit::to_schema(&nulls, &stamps, 0).unwrap();
    assert_eq!(fitted.schema(), stamps);
    assert_eq!(fitted.column(0).null_count(), 2);
    // Same types, other names: refused, not relabelled.
    let renamed = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("m", DataType::Int64, true)])),
        vec![ints(0, 1).column(0).clone()],
    )
    .unwrap();
    let err = super::fit::to_schema(&renamed, &ints(0, 1).schema(), 0)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "a streamed batch has a column \"m\" where the first had \"n\""
    );
}

#[test]
fn a_producer_that_panics_ends_the_stream_with_an_error_not_short() {
    let name = "stream_panic";
    let s = script(name);
    s.batches.store(10, Ordering::SeqCst);
    s.panic_after.store(3, Ordering::SeqCst);
    let results: Vec<Result<RecordBatch>> = Query::new(&base(name), "select")
        .stream()
        .blocking()
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(results.len(), 4, "three batches, then the error");
    let err = results[3].as_ref().unwrap_err().to_string();
    assert!(
        err.contains("stopped before the end of the result"),
        "{err}"
    );
}

#[test]
fn the_time_limit_covers_the_first_batch_only() {
    let slow_start = "stream_slow_start";
    let s = script(slow_start);
    s.batches.store(2, Ordering::SeqCst);
    s.delay_first_ms.store(300, Ordering::SeqCst);
    let err = Query::new(&base(slow_start), "select")
        .timeout(Duration::from_millis(50))
        .stream()
        .blocking()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    let slow_rest = "stream_slow_rest";
    let s = script(slow_rest);
    s.batches.store(3, Ordering::SeqCst);
    s.delay_between_ms.store(100, Ordering::SeqCst);
    let batches: Vec<RecordBatch> = Query::new(&base(slow_rest), "select")
        .timeout(Duration::from_millis(50))
        .stream()
        .blocking()
        .unwrap()
        .into_iter()
        .map(|b| b.unwrap())
        .collect();
    assert_eq!(values(&batches), (0..30).collect::<Vec<_>>());
}

#[test]
fn a_streamed_write_that_failed_after_it_answered_is_not_run_again() {
    let name = "stream_write";
    let s = script(name);
    s.batches.store(10, Ordering::SeqCst);
    s.fail_after.store(2, Ordering::SeqCst);
    let results: Vec<Result<RecordBatch>> =
        Query::new(&base(name), "insert into t values (1) returning n")
            .stream()
            .blocking()
            .unwrap()
            .into_iter()
            .collect();
    assert_eq!(results.len(), 3);
    assert!(results[2].is_err());
    assert_eq!(s.attempts.load(Ordering::SeqCst), 1, "a write runs once");
}

#[test]
fn first_batches_of_nulls_wait_for_a_value_to_give_the_column_its_type() {
    let name = "stream_nulls_first";
    let s = script(name);
    s.batches.store(6, Ordering::SeqCst);
    s.null_first.store(2, Ordering::SeqCst);
    let stream = Query::new(&base(name), "select")
        .stream()
        .blocking()
        .unwrap();
    // Announced with the type of the first value, not the NULLs' placeholder.
    assert_eq!(stream.schema().field(0).data_type(), &DataType::Int64);
    let batches: Vec<RecordBatch> = stream.into_iter().map(|b| b.unwrap()).collect();
    assert_eq!(batches.len(), 6);
    let column: Vec<Option<i64>> = batches
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_primitive::<Int64Type>()
                .iter()
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(column[..20], [None; 20]);
    assert_eq!(column[20], Some(20));
    assert_eq!(column[59], Some(59));
}

#[test]
fn a_result_of_nulls_only_ends_with_every_row() {
    let name = "stream_nulls_only";
    let s = script(name);
    s.batches.store(3, Ordering::SeqCst);
    s.null_first.store(3, Ordering::SeqCst);
    let batches: Vec<RecordBatch> = Query::new(&base(name), "select")
        .stream()
        .blocking()
        .unwrap()
        .into_iter()
        .map(|b| b.unwrap())
        .collect();
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 30);
}
