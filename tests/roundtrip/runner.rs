//! Runs generated cases against one backend: write, read back, compare; shrinks a
//! failing case and reports every backend's figures.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::{Duration, Instant};

use conn::Table;
use conn::arrow::array::Array;
use conn::arrow::datatypes::Field;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::arrays::{self, ROW_ID};
use crate::model::{Expected, Model};
use crate::tables::{self, Case, Cell, Profile};

/// The seed CI uses.
const DEFAULT_SEED: u64 = 0x00C0_FFEE_2026;
/// Cases per backend in `cargo test`.
const DEFAULT_CASES: u32 = 200;
/// At most this many shrinking steps (each a write and a read) per failure.
const SHRINK_STEPS: u32 = 150;
const SHRINK_TIME: Duration = Duration::from_secs(90);
/// Stop a backend after this many (shrunk) failures.
const MAX_FAILURES: usize = 3;

/// One backend under test.
pub trait Backend {
    /// The name in the report (`postgres`, `files-csv`, ...).
    fn name(&self) -> &'static str;
    /// What to generate.
    fn profile(&self) -> Profile;
    /// What the column must read back as, or that the write must refuse it.
    fn model(&self, column: &tables::Column, case: &Case) -> Model;
    /// `write_table(name, table, Create)` (or the file's write).
    fn write(&self, name: &str, table: &Table, case: &Case) -> conn::Result<u64>;
    /// The columns a read gives back when they are not the columns written (a
    /// documented difference).
    fn columns(&self, _case: &Case) -> Option<Vec<String>> {
        None
    }
    /// The whole table back, ordered by the row id, read `case.batch_size` rows at a time.
    fn read(&self, name: &str, case: &Case) -> conn::Result<Table>;
    /// Removes what `write` made (best effort).
    fn remove(&self, name: &str, case: &Case);
}

/// What one case came to.
#[derive(Debug)]
enum Outcome {
    Passed,
    /// Refused, as the model predicted: the reason, grouped.
    Rejected(String),
    Failed(String),
}

fn env_number(var: &str) -> Option<u64> {
    let text = std::env::var(var).ok()?;
    let text = text.trim();
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    Some(parsed.unwrap_or_else(|e| panic!("{var}={text:?} is not a number: {e}")))
}

/// The number of cases per backend.
pub fn cases() -> u32 {
    env_number("CONN_ROUNDTRIP_CASES").map_or(DEFAULT_CASES, |n| u32::try_from(n).unwrap())
}

fn seed() -> u64 {
    env_number("CONN_ROUNDTRIP_SEED").unwrap_or(DEFAULT_SEED)
}

/// The generator of one backend: the seed mixed with the backend's name, so each
/// backend sees its own tables and a case is reproduced from the seed alone.
fn rng(seed: u64, backend: &str) -> TestRng {
    let mut mixed = seed;
    for byte in backend.bytes() {
        mixed = (mixed ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let word = mixed.rotate_left(u32::try_from(i).unwrap() * 16) ^ seed;
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

fn say(line: &str) {
    // Past the test harness's capture: the figures always show.
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Runs the cases for `backend`, prints its figures and fails on any failure.
pub fn run(backend: &dyn Backend) {
    let cases = cases();
    let seed = seed();
    let name = backend.name();
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, rng(seed, name));
    let strategy = tables::cases(backend.profile());
    let started = Instant::now();
    let mut passed = 0u32;
    let mut rejected: BTreeMap<String, u32> = BTreeMap::new();
    let mut failures: Vec<String> = Vec::new();
    let mut run_no = 0u64;
    let mut ran = 0u32;
    let mut values = 0usize;
    for index in 0..cases {
        let mut tree = strategy.new_tree(&mut runner).unwrap();
        ran += 1;
        match run_case(backend, &tree.current(), &mut run_no) {
            Outcome::Passed => {
                passed += 1;
                let case = tree.current();
                values += case.rows * case.columns.len();
            }
            Outcome::Rejected(reason) => *rejected.entry(reason).or_default() += 1,
            Outcome::Failed(first) => {
                let (case, why, steps) = shrink(backend, &mut tree, first, &mut run_no);
                failures.push(format!(
                    "{name}: case {index} (seed {seed:#x}) failed; shrunk in {steps} steps to:\n\
                     {case}\n{why}"
                ));
                if failures.len() >= MAX_FAILURES {
                    break;
                }
            }
        }
    }
    let total_rejected: u32 = rejected.values().sum();
    say(&format!(
        "roundtrip {name}: seed {seed:#x}, {ran} cases in {:.1} s: {passed} passed, \
         {total_rejected} rejected, {} failed; {values} values compared",
        started.elapsed().as_secs_f64(),
        failures.len()
    ));
    for (reason, n) in &rejected {
        say(&format!("roundtrip {name}:   rejected {n:>5} x {reason}"));
    }
    if !failures.is_empty() {
        panic!("{}", failures.join("\n\n"));
    }
}

/// Simplifies a failing case as far as it keeps failing.
fn shrink(
    backend: &dyn Backend,
    tree: &mut impl ValueTree<Value = Case>,
    first: String,
    run_no: &mut u64,
) -> (Case, String, u32) {
    let mut best = (tree.current(), first);
    let started = Instant::now();
    let mut steps = 0;
    if !tree.simplify() {
        return (best.0, best.1, steps);
    }
    while steps < SHRINK_STEPS && started.elapsed() < SHRINK_TIME {
        steps += 1;
        let candidate = tree.current();
        if let Outcome::Failed(why) = run_case(backend, &candidate, run_no) {
            best = (candidate, why);
            if !tree.simplify() {
                break;
            }
        } else if !tree.complicate() {
            break;
        }
    }
    let (case, why, more) = reduce(backend, best.0, best.1, run_no);
    (case, why, steps + more)
}

/// Removes columns, then rows, one at a time, as long as the case keeps failing
/// (proptest's shrinking simplifies values, but rarely drops a column).
fn reduce(
    backend: &dyn Backend,
    mut case: Case,
    mut why: String,
    run_no: &mut u64,
) -> (Case, String, u32) {
    let mut steps = 0;
    let mut i = 0;
    while i < case.columns.len() && case.columns.len() > 1 {
        let mut smaller = case.clone();
        smaller.columns.remove(i);
        steps += 1;
        match run_case(backend, &smaller, run_no) {
            Outcome::Failed(w) => (case, why) = (smaller, w),
            _ => i += 1,
        }
    }
    let mut row = 0;
    while row < case.rows {
        let mut smaller = case.clone();
        smaller.rows -= 1;
        for column in &mut smaller.columns {
            column.cells.remove(row);
        }
        steps += 1;
        match run_case(backend, &smaller, run_no) {
            Outcome::Failed(w) => (case, why) = (smaller, w),
            _ => row += 1,
        }
    }
    (case, why, steps)
}

fn run_case(backend: &dyn Backend, case: &Case, run_no: &mut u64) -> Outcome {
    *run_no += 1;
    let name = format!("rt_{run_no}");
    let outcome = write_and_compare(backend, case, &name);
    backend.remove(&name, case);
    outcome
}

/// The part of an error that says why, grouped: the column's type in front, numbers
/// and quoted names left out.
fn reason(case: &Case, column: usize, message: &str) -> String {
    let c = &case.columns[column];
    let mut text = message.replace(&c.name, "…");
    // Leave out where the file was ("writing path/rt_7.csv: ").
    if let Some(at) = text.find("column \"") {
        text = text[at..].to_owned();
    }
    if let Some(at) = text.find(", row ") {
        text = text[at + 2..].to_owned();
    }
    let mut out = String::new();
    let mut digits = false;
    for ch in text.chars() {
        if ch.is_ascii_digit() {
            if !digits {
                out.push('N');
            }
            digits = true;
        } else {
            digits = false;
            out.push(ch);
        }
    }
    let short: String = out.chars().take(140).collect();
    format!("{:?}: {short}", c.ty.kind())
}

fn write_and_compare(backend: &dyn Backend, case: &Case, name: &str) -> Outcome {
    let table = arrays::table(case);
    let models: Vec<Model> = case
        .columns
        .iter()
        .map(|c| backend.model(c, case))
        .collect();
    let refused: Vec<(usize, &String)> = models
        .iter()
        .enumerate()
        .filter_map(|(i, m)| match m {
            Model::Refused(why) => Some((i, why)),
            _ => None,
        })
        .collect();
    let written = backend.write(name, &table, case);
    match written {
        Err(e) => {
            let message = e.to_string();
            if refused.is_empty() {
                return Outcome::Failed(format!("write_table failed: {message}"));
            }
            let named = refused
                .iter()
                .find(|(i, _)| message.contains(&format!("\"{}\"", case.columns[*i].name)));
            match named {
                Some((i, _)) => Outcome::Rejected(format!("write: {}", reason(case, *i, &message))),
                None => Outcome::Failed(format!(
                    "write_table failed with an error that names no refused column: {message}\n\
                     (the model refuses {})",
                    refused
                        .iter()
                        .map(|(i, why)| format!("{:?} at {why}", case.columns[*i].name))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
        Ok(rows) if !refused.is_empty() => {
            let (i, why) = refused[0];
            Outcome::Failed(format!(
                "write_table wrote {rows} rows, but column {:?} holds a value the backend cannot \
                 hold ({why}): silently changed?",
                case.columns[i].name
            ))
        }
        Ok(rows) if rows != case.rows as u64 => Outcome::Failed(format!(
            "write_table says it wrote {rows} rows of {}",
            case.rows
        )),
        Ok(_) => read_and_compare(backend, case, name, &table, &models),
    }
}

/// A column read back against what it must be: `Err` says where it differs.
fn compare(
    expected: &Expected,
    read: &dyn Array,
    field: &Field,
    wrote: &dyn Array,
) -> Result<(), String> {
    if arrays::type_key(read.data_type()) != arrays::type_key(&expected.data_type) {
        return Err(format!(
            ": reads back as {}, expected {}",
            read.data_type(),
            expected.data_type
        ));
    }
    if let Some(extension) = expected.extension
        && field.extension_type_name() != Some(extension)
    {
        return Err(format!(
            ": reads back without the {extension} mark ({:?})",
            field.metadata()
        ));
    }
    let got = arrays::cells(read).map_err(|e| format!(": {e}"))?;
    for (row, (want, have)) in expected.cells.iter().zip(&got).enumerate() {
        if !arrays::same(want, have) {
            return Err(format!(
                ", row {row}: wrote {}, read {} (expected {want:?}, read {have:?})",
                arrays::shown(wrote, row),
                arrays::shown(read, row),
            ));
        }
    }
    Ok(())
}

fn read_and_compare(
    backend: &dyn Backend,
    case: &Case,
    name: &str,
    written: &Table,
    models: &[Model],
) -> Outcome {
    let unreadable: Vec<(usize, &String)> = models
        .iter()
        .enumerate()
        .filter_map(|(i, m)| match m {
            Model::Unreadable(text) => Some((i, text)),
            _ => None,
        })
        .collect();
    let back = match backend.read(name, case) {
        Ok(back) => back,
        Err(e) => {
            let message = e.to_string();
            let named = unreadable.iter().find(|(i, text)| {
                message.contains(&format!("\"{}\"", case.columns[*i].name))
                    && message.contains(text.as_str())
            });
            return match named {
                Some((i, _)) => Outcome::Rejected(format!("read: {}", reason(case, *i, &message))),
                None => Outcome::Failed(format!("reading back failed: {message}")),
            };
        }
    };
    if let Some((i, text)) = unreadable.first() {
        return Outcome::Failed(format!(
            "reading back column {:?} went through, but it must fail ({text})",
            case.columns[*i].name
        ));
    }
    let mut problems = Vec::new();
    let names: Vec<&str> = back.column_names();
    let wanted: Vec<&str> = std::iter::once(ROW_ID)
        .chain(case.columns.iter().map(|c| c.name.as_str()))
        .collect();
    if let Some(documented) = backend.columns(case) {
        return if names == documented {
            Outcome::Passed
        } else {
            Outcome::Failed(format!(
                "read back columns {names:?}, expected {documented:?}"
            ))
        };
    }
    if names != wanted {
        return Outcome::Failed(format!("read back columns {names:?}, wrote {wanted:?}"));
    }
    if back.num_rows() != case.rows {
        problems.push(format!(
            "read back {} rows, wrote {}",
            back.num_rows(),
            case.rows
        ));
    }
    if case.rows > case.batch_size && back.batches().len() < 2 && backend.name() != "duckdb" {
        problems.push(format!(
            "{} rows came back in {} batch(es) with batch size {}",
            case.rows,
            back.batches().len(),
            case.batch_size
        ));
    }
    let row_ids = back.column(ROW_ID).ok().map(|a| arrays::cells(a.as_ref()));
    let expected_ids: Vec<Option<Cell>> = (0..case.rows)
        .map(|i| Some(Cell::Int(i128::try_from(i).unwrap())))
        .collect();
    if row_ids != Some(Ok(expected_ids)) {
        problems.push("the row ids did not come back as 0, 1, 2, ...".to_owned());
    }
    for (index, (column, model)) in case.columns.iter().zip(models).enumerate() {
        let Model::Holds(expected) = model else {
            continue;
        };
        let read = back.column(&column.name).unwrap();
        let field = back.schema().field(index + 1).clone();
        let wrote = written.column(&column.name).unwrap();
        let label = format!("column {:?} ({:?})", column.name, column.ty);
        let checked = compare(expected, read.as_ref(), &field, wrote.as_ref());
        let either = match (&checked, &expected.alternative) {
            (Err(_), Some(other)) => compare(other, read.as_ref(), &field, wrote.as_ref()),
            _ => checked.clone(),
        };
        if either.is_err()
            && let Err(why) = checked
        {
            problems.push(format!("{label}{why}"));
        }
    }
    if problems.is_empty() {
        Outcome::Passed
    } else {
        Outcome::Failed(problems.join("\n"))
    }
}
