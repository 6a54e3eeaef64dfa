//! [`Tally`]: what a loop of reads and writes under a fault saw, checked and printed
//! as one `FIGURES faults ...` line a script can collect.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{Display, Write as _};
use std::io::Write as _;
use std::time::{Duration, Instant};

use conn_core::Error;

use super::{FIGURES_FILE_VAR, VERBOSE_VAR};

/// How many texts a tally keeps to show when it fails (all of them when verbose).
const SAMPLES: usize = 10;

/// The writes of a loop compared with what the server holds afterwards. Every count is
/// of write operations (one statement, one table, one object), except `unexpected`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteCheck {
    /// Writes with an id present more than once: applied twice.
    pub duplicated: u64,
    /// Writes reported successful whose ids are not all present: lost.
    pub lost: u64,
    /// Writes reported failed yet present (the failure came after the server applied
    /// them; the caller was told they may have been).
    pub failed_applied: u64,
    /// Writes reported failed and absent.
    pub failed_absent: u64,
    /// Writes of several ids of which some are present and others absent: applied in
    /// part.
    pub torn: u64,
    /// Ids present that no write of the loop made.
    pub unexpected: u64,
}

/// One write operation and its outcome.
#[derive(Debug)]
struct WriteOp {
    ids: Vec<u64>,
    ok: bool,
}

/// The outcome of every read and write of one fault loop.
///
/// Reads must all come through with the right value; each write must be applied once
/// if it reported success, at most once and never in part if it reported a failure.
/// [`finish`](Self::finish) prints the figures and fails the test otherwise.
#[derive(Debug)]
pub struct Tally {
    target: String,
    fault: String,
    operations: u64,
    seed: u64,
    started: Instant,
    reads: u64,
    reads_ok: u64,
    read_errors: u64,
    wrong: u64,
    slowest_read: Duration,
    writes: Vec<WriteOp>,
    check: Option<WriteCheck>,
    faults: u64,
    notes: Vec<(String, String)>,
    /// The kinds of the errors callers saw: reads, writes.
    read_kinds: BTreeMap<String, u64>,
    write_kinds: BTreeMap<String, u64>,
    samples: Vec<String>,
    verbose: bool,
}

impl Tally {
    /// A tally for `operations` operations under fault `fault` against `target`, whose
    /// schedule came from `seed`.
    pub fn new(target: &str, fault: &str, operations: u64, seed: u64) -> Tally {
        Tally {
            target: target.to_owned(),
            fault: fault.to_owned(),
            operations,
            seed,
            started: Instant::now(),
            reads: 0,
            reads_ok: 0,
            read_errors: 0,
            wrong: 0,
            slowest_read: Duration::ZERO,
            writes: Vec::new(),
            check: None,
            faults: 0,
            notes: Vec::new(),
            read_kinds: BTreeMap::new(),
            write_kinds: BTreeMap::new(),
            samples: Vec::new(),
            verbose: std::env::var(VERBOSE_VAR).is_ok_and(|v| v == "1"),
        }
    }

    /// Records a read that took `took`: failed, or checked by `check` (`Err` says what
    /// is wrong with the value).
    pub fn read<T>(
        &mut self,
        took: Duration,
        outcome: Result<T, Error>,
        check: impl FnOnce(&T) -> Result<(), String>,
    ) {
        let n = self.reads;
        self.reads += 1;
        self.slowest_read = self.slowest_read.max(took);
        match outcome {
            Err(err) => {
                self.read_errors += 1;
                *self.read_kinds.entry(kind(&err)).or_default() += 1;
                self.sample(format!("read {n}: {err}"));
            }
            Ok(value) => match check(&value) {
                Ok(()) => self.reads_ok += 1,
                Err(why) => {
                    self.wrong += 1;
                    self.sample(format!("read {n}: wrong result: {why}"));
                }
            },
        }
    }

    /// Records the write of the row (or object) with the unique id `id`.
    pub fn write<T>(&mut self, id: u64, outcome: Result<T, Error>) {
        self.write_all(&[id], outcome);
    }

    /// Records one write of several rows (or objects) with the unique ids `ids`: all
    /// of them are applied, or none.
    pub fn write_all<T>(&mut self, ids: &[u64], outcome: Result<T, Error>) {
        let ok = match outcome {
            Ok(_) => true,
            Err(err) => {
                *self.write_kinds.entry(kind(&err)).or_default() += 1;
                // Failed writes are allowed; their text is for the figures' reader.
                self.sample(format!("write {ids:?} failed: {err}"));
                false
            }
        };
        self.writes.push(WriteOp {
            ids: ids.to_vec(),
            ok,
        });
    }

    /// Counts one injected fault.
    pub fn fault(&mut self) {
        self.faults += 1;
    }

    /// Adds `key=value` to the figures line (retries, connections cut, ...).
    pub fn note(&mut self, key: &str, value: impl Display) {
        self.notes.push((key.to_owned(), value.to_string()));
    }

    /// Compares the writes with what the server holds: `present` gives each id found
    /// and how many times (ids missing from it are absent).
    pub fn check_writes(&mut self, present: impl IntoIterator<Item = (u64, u64)>) -> WriteCheck {
        let present: BTreeMap<u64, u64> = present.into_iter().collect();
        let mut check = WriteCheck::default();
        let mut problems = Vec::new();
        let mut written = BTreeSet::new();
        for write in &self.writes {
            written.extend(write.ids.iter().copied());
            let counts: Vec<u64> = write
                .ids
                .iter()
                .map(|id| present.get(id).copied().unwrap_or(0))
                .collect();
            let applied = counts.iter().filter(|&&n| n > 0).count();
            if counts.iter().any(|&n| n > 1) {
                check.duplicated += 1;
                problems.push(format!("write {:?} is present {counts:?} times", write.ids));
            }
            if applied > 0 && applied < counts.len() {
                check.torn += 1;
                problems.push(format!(
                    "write {:?} was applied in part: {counts:?}",
                    write.ids
                ));
            }
            match (write.ok, applied == counts.len()) {
                (true, true) => {}
                (true, false) => {
                    check.lost += 1;
                    problems.push(format!(
                        "write {:?} reported success but is absent: {counts:?}",
                        write.ids
                    ));
                }
                (false, true) => check.failed_applied += 1,
                (false, false) if applied == 0 => check.failed_absent += 1,
                (false, false) => {}
            }
        }
        for (id, _) in present.iter().filter(|(id, _)| !written.contains(id)) {
            check.unexpected += 1;
            problems.push(format!("id {id} is present but was never written"));
        }
        for problem in problems {
            self.sample(problem);
        }
        self.check = Some(check);
        check
    }

    /// The figures line: `FIGURES faults target=... fault=... n=... ...`.
    pub fn line(&self) -> String {
        let check = self.check.unwrap_or_default();
        let writes_ok = self.writes.iter().filter(|w| w.ok).count();
        let mut line = format!(
            "FIGURES faults target={} fault={} n={} reads={} reads_ok={} read_errors={} \
             wrong={} writes={} writes_ok={} write_errors={} failed_applied={} \
             failed_absent={} duplicated={} lost={} torn={} faults={} slowest_read_ms={} \
             elapsed_ms={} seed={}",
            self.target,
            self.fault,
            self.operations,
            self.reads,
            self.reads_ok,
            self.read_errors,
            self.wrong,
            self.writes.len(),
            writes_ok,
            self.writes.len() - writes_ok,
            check.failed_applied,
            check.failed_absent,
            check.duplicated,
            check.lost,
            check.torn,
            self.faults,
            self.slowest_read.as_millis(),
            self.started.elapsed().as_millis(),
            self.seed,
        );
        for (key, kinds) in [
            ("read_error_kinds", &self.read_kinds),
            ("write_error_kinds", &self.write_kinds),
        ] {
            if !kinds.is_empty() {
                let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k}:{n}")).collect();
                let _ = write!(line, " {key}={}", kinds.join(","));
            }
        }
        for (key, value) in &self.notes {
            let _ = write!(line, " {key}={value}");
        }
        line
    }

    /// Prints the figures line (to stderr, past the test harness's capture, and to the
    /// file named by `CONN_FAULTS_FIGURES`), then fails the test if a read was lost or
    /// wrong, or a write was applied twice, in part, lost, or not checked.
    #[allow(clippy::panic)]
    pub fn finish(self) {
        let line = self.line();
        let _ = writeln!(std::io::stderr(), "{line}");
        if self.verbose {
            for sample in &self.samples {
                let _ = writeln!(std::io::stderr(), "  {}: {sample}", self.fault);
            }
        }
        if let Ok(path) = std::env::var(FIGURES_FILE_VAR) {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path);
            if let Ok(mut file) = file {
                let _ = writeln!(file, "{line}");
            }
        }
        let problems = self.problems();
        if !problems.is_empty() {
            panic!("{}", self.failure(&problems, &line));
        }
    }

    /// What makes the loop fail: lost or wrong reads, doubled, partial, lost or
    /// unchecked writes.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.read_errors > 0 {
            problems.push(format!("{} reads failed", self.read_errors));
        }
        if self.wrong > 0 {
            problems.push(format!("{} reads returned a wrong result", self.wrong));
        }
        match self.check {
            None if !self.writes.is_empty() => {
                problems.push("the writes were never checked".to_owned());
            }
            None => {}
            Some(check) => {
                for (n, what) in [
                    (check.duplicated, "writes applied twice"),
                    (check.torn, "writes applied in part"),
                    (check.lost, "successful writes absent"),
                    (check.unexpected, "ids present that nobody wrote"),
                ] {
                    if n > 0 {
                        problems.push(format!("{n} {what}"));
                    }
                }
            }
        }
        problems
    }

    /// The message of a failed loop.
    fn failure(&self, problems: &[String], line: &str) -> String {
        format!(
            "{}: {}\n{line}\nfirst errors and problems:\n  {}",
            self.fault,
            problems.join(", "),
            self.samples.join("\n  ")
        )
    }

    fn sample(&mut self, text: String) {
        if self.verbose || self.samples.len() < SAMPLES {
            self.samples.push(text);
        }
    }
}

/// An error's kind, as the figures name it.
fn kind(err: &Error) -> String {
    format!("{:?}", err.kind())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gone() -> Error {
        Error::driver("op", conn_core::ErrorClass::Stale, "gone")
    }

    #[test]
    fn writes_are_checked_against_what_is_present() {
        let mut tally = Tally::new("t", "f", 4, 1);
        tally.write(1, Ok::<(), Error>(()));
        tally.write(2, Ok::<(), Error>(()));
        tally.write(3, Err::<(), _>(gone()));
        tally.write(4, Err::<(), _>(gone()));
        let check = tally.check_writes([(1, 1), (2, 2), (3, 1), (9, 1)]);
        assert_eq!(
            check,
            WriteCheck {
                duplicated: 1,
                lost: 0,
                failed_applied: 1,
                failed_absent: 1,
                torn: 0,
                unexpected: 1,
            }
        );
        let line = tally.line();
        assert!(
            line.starts_with("FIGURES faults target=t fault=f n=4 "),
            "{line}"
        );
        assert!(
            line.contains(" writes=4 writes_ok=2 write_errors=2 "),
            "{line}"
        );
        assert!(line.contains(" duplicated=1 lost=0 "), "{line}");
        assert!(line.contains(" write_error_kinds=Stale:2"), "{line}");
    }

    #[test]
    fn a_write_of_several_ids_is_all_or_nothing() {
        let mut tally = Tally::new("t", "f", 3, 1);
        tally.write_all(&[1, 2, 3], Err::<(), _>(gone()));
        tally.write_all(&[4, 5], Err::<(), _>(gone()));
        tally.write_all(&[6, 7], Ok::<(), Error>(()));
        tally.write_all(&[8, 9], Err::<(), _>(gone()));
        let check = tally.check_writes([(1, 1), (2, 1), (4, 1), (5, 1), (6, 1), (7, 1)]);
        assert_eq!(
            (
                check.torn,
                check.failed_applied,
                check.failed_absent,
                check.lost
            ),
            (1, 1, 1, 0)
        );
    }

    #[test]
    fn a_lost_write_or_read_fails_the_tally() {
        let mut tally = Tally::new("t", "f", 1, 1);
        tally.write(1, Ok::<(), Error>(()));
        tally.check_writes([]);
        tally.read(Duration::ZERO, Err::<(), _>(gone()), |()| Ok(()));
        // (Not `finish`, which would print a figures line among the real ones.)
        let failure = tally.failure(&tally.problems(), &tally.line());
        assert!(failure.contains("1 reads failed"), "{failure}");
        assert!(failure.contains("1 successful writes absent"), "{failure}");
        assert!(failure.contains("read 0: op: gone"), "{failure}");
    }

    #[test]
    fn wrong_values_are_counted_apart_from_errors() {
        let mut tally = Tally::new("t", "f", 2, 1);
        let four = |v: &i32| {
            if *v == 4 {
                Ok(())
            } else {
                Err(format!("got {v}"))
            }
        };
        tally.read(Duration::from_millis(5), Ok::<i32, Error>(4), four);
        tally.read(Duration::from_millis(9), Ok::<i32, Error>(5), four);
        let line = tally.line();
        assert!(
            line.contains(" reads=2 reads_ok=1 read_errors=0 wrong=1 "),
            "{line}"
        );
        assert!(line.contains(" slowest_read_ms=9 "), "{line}");
        assert!(line.ends_with(" seed=1"), "{line}");
    }
}
