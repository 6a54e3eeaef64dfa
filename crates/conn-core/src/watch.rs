//! Watching secrets files: when one changes, a callback runs (the factory reloads its
//! secrets and resets the connections whose section changed).
//!
//! Better than Streamlit's watcher in these ways:
//!
//! * it watches exactly the folders that hold the secrets files, not one level more
//!   (never a home folder or `/`), and recursively only a Kubernetes-style secrets
//!   *directory*, whose files live in subfolders;
//! * a folder that does not exist yet (no `~/.streamlit/` at start-up) is looked for
//!   every [`POLL`] and watched as soon as it appears, and a file created, deleted or
//!   replaced by an editor's rename is still seen;
//! * a burst of events (an editor's save) is folded into one reload after
//!   [`SETTLE`] of quiet, but never later than [`MAX_SETTLE`] after the first event;
//! * relative locations are made absolute when the watcher starts;
//! * it stops when the [`SecretsWatcher`] is dropped.
//!
//! It depends on nothing but the locations and the callback, so that the factory uses
//! it without it knowing the factory.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use crate::error::{Error, Result};

/// Quiet time that ends a burst of file events.
pub const SETTLE: Duration = Duration::from_millis(100);
/// The longest a burst may delay a reload.
pub const MAX_SETTLE: Duration = Duration::from_secs(1);
/// How often missing folders are looked for (and how quickly a drop is noticed).
pub const POLL: Duration = Duration::from_millis(250);

/// A running secrets watcher. Dropping it stops watching.
#[derive(Debug)]
pub struct SecretsWatcher {
    stop: Arc<AtomicBool>,
}

impl Drop for SecretsWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One folder to watch.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Target {
    folder: PathBuf,
    recursive: bool,
}

impl SecretsWatcher {
    /// Watches `locations` (secrets files and secrets directories) and calls
    /// `on_change` after each settled burst of changes to them, on a thread of its own,
    /// until the returned watcher is dropped.
    pub fn start(locations: &[PathBuf], on_change: impl Fn() + Send + 'static) -> Result<Self> {
        let cwd = std::env::current_dir().unwrap_or_default();
        let locations: Vec<PathBuf> = locations.iter().map(|l| cwd.join(l)).collect();
        let targets = targets(&locations);
        let (events, received) = mpsc::channel();
        let mut watcher = notify::recommended_watcher(move |event| {
            let _ = events.send(event);
        })
        .map_err(|err| watch_error(&err))?;
        let mut watching = BTreeSet::new();
        arm(&mut watcher, &targets, &mut watching);
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("conn-secrets-watcher".into())
            .spawn(move || {
                let mut state = Loop {
                    watcher,
                    targets,
                    watching,
                    locations,
                };
                state.run(&received, &stopped, &on_change);
            })
            .map_err(|err| Error::Io {
                context: "starting the secrets watcher".into(),
                message: err.to_string(),
            })?;
        Ok(SecretsWatcher { stop })
    }
}

fn watch_error(err: &notify::Error) -> Error {
    Error::Io {
        context: "watching secrets files".into(),
        message: err.to_string(),
    }
}

/// The folders to watch: a file's own folder, a secrets directory itself
/// (recursively). A location that is not a directory is taken as a file.
fn targets(locations: &[PathBuf]) -> BTreeSet<Target> {
    locations
        .iter()
        .filter_map(|location| {
            if location.is_dir() {
                Some(Target {
                    folder: location.clone(),
                    recursive: true,
                })
            } else {
                location.parent().map(|folder| Target {
                    folder: folder.to_path_buf(),
                    recursive: false,
                })
            }
        })
        .collect()
}

/// Watches every target whose folder exists and is not watched yet. Returns whether a
/// new one was armed.
fn arm(
    watcher: &mut RecommendedWatcher,
    targets: &BTreeSet<Target>,
    watching: &mut BTreeSet<Target>,
) -> bool {
    let mut armed = false;
    for target in targets {
        if watching.contains(target) || !target.folder.is_dir() {
            continue;
        }
        let mode = if target.recursive {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        match watcher.watch(&target.folder, mode) {
            Ok(()) => {
                tracing::debug!(folder = %target.folder.display(), "conn.secrets.watch");
                watching.insert(target.clone());
                armed = true;
            }
            Err(err) => tracing::warn!(
                folder = %target.folder.display(),
                error = %err,
                "conn.secrets.watch: cannot watch this folder"
            ),
        }
    }
    armed
}

fn concerns_secrets(event: &notify::Event, locations: &[PathBuf]) -> bool {
    matches!(
        event.kind,
        notify::EventKind::Create(_) | notify::EventKind::Modify(_) | notify::EventKind::Remove(_)
    ) && event
        .paths
        .iter()
        .any(|path| locations.iter().any(|l| path.starts_with(l)))
}

struct Loop {
    watcher: RecommendedWatcher,
    targets: BTreeSet<Target>,
    watching: BTreeSet<Target>,
    locations: Vec<PathBuf>,
}

impl Loop {
    fn run(
        &mut self,
        received: &mpsc::Receiver<notify::Result<notify::Event>>,
        stop: &AtomicBool,
        on_change: &dyn Fn(),
    ) {
        while !stop.load(Ordering::Relaxed) {
            let first = match received.recv_timeout(POLL) {
                Ok(event) => event,
                Err(RecvTimeoutError::Timeout) => {
                    // A folder that appeared may already hold a secrets file.
                    if arm(&mut self.watcher, &self.targets, &mut self.watching) {
                        on_change();
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            };
            let mut relevant = self.is_relevant(&first);
            let started = Instant::now();
            while started.elapsed() < MAX_SETTLE {
                match received.recv_timeout(SETTLE) {
                    Ok(more) => relevant |= self.is_relevant(&more),
                    Err(_) => break,
                }
            }
            if relevant && !stop.load(Ordering::Relaxed) {
                on_change();
            }
        }
    }

    fn is_relevant(&self, event: &notify::Result<notify::Event>) -> bool {
        matches!(event, Ok(e) if concerns_secrets(e, &self.locations))
    }
}

/// The folders a watcher for `locations` would watch now (for tests and `conn explain`).
pub fn watched_folders(locations: &[PathBuf]) -> Vec<(PathBuf, bool)> {
    targets(locations)
        .into_iter()
        .filter(|t| Path::new(&t.folder).is_dir())
        .map(|t| (t.folder, t.recursive))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watches_the_files_folder_only_and_secret_directories_recursively() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("app/.streamlit");
        std::fs::create_dir_all(&project).unwrap();
        let secret_dir = dir.path().join("k8s");
        std::fs::create_dir_all(secret_dir.join("db")).unwrap();
        let missing = dir.path().join("home/.streamlit/secrets.toml");
        let folders = watched_folders(&[missing, project.join("secrets.toml"), secret_dir.clone()]);
        assert_eq!(folders, vec![(project, false), (secret_dir, true)]);
    }

    #[test]
    fn a_folder_created_later_is_watched_and_its_file_seen() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("late/.streamlit");
        let file = folder.join("secrets.toml");
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let watcher = SecretsWatcher::start(std::slice::from_ref(&file), move || {
            counted.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        std::thread::sleep(POLL * 2);
        assert_eq!(calls.load(Ordering::SeqCst), 0, "nothing to see yet");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(&file, "a = 1\n").unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while calls.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            calls.load(Ordering::SeqCst) >= 1,
            "the new folder was armed"
        );
        let seen = calls.load(Ordering::SeqCst);
        std::fs::write(&file, "a = 2\n").unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while calls.load(Ordering::SeqCst) == seen && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            calls.load(Ordering::SeqCst) > seen,
            "an edit after arming is seen"
        );
        drop(watcher);
    }

    #[test]
    fn events_elsewhere_in_the_folder_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secrets.toml");
        std::fs::write(&file, "a = 1\n").unwrap();
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let _watcher = SecretsWatcher::start(std::slice::from_ref(&file), move || {
            counted.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        std::fs::write(dir.path().join("other.txt"), "x").unwrap();
        std::thread::sleep(MAX_SETTLE + POLL);
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }
}
