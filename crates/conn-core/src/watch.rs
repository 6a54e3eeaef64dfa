//! Watching secrets files: when one changes, a callback runs (the factory reloads its
//! secrets and resets the connections whose section changed).
//!
//! A change is a change of a location's *fingerprint*: for a file, the size,
//! modification time and inode of what its path resolves to (symlinks followed, so a
//! Kubernetes secret volume swapping its `..data` link is seen); for a secrets
//! directory, the same for every file in it. Fingerprints are compared after file
//! events, and every [`POLL`] whatever happens, so that:
//!
//! * the folders watched are exactly those that hold the secrets files, never a home
//!   folder or `/` (a file there is polled instead), and a secrets *directory* is
//!   watched recursively;
//! * a location that does not exist yet (no `~/.streamlit/` at start-up, a secrets
//!   directory mounted later) is seen when it appears, and a watched folder that is
//!   removed and created again is watched again;
//! * a burst of events (an editor's save) is folded into one reload after [`SETTLE`]
//!   of quiet, but never later than [`MAX_SETTLE`] after the first event;
//! * relative locations are made absolute when the watcher starts;
//! * it stops when the [`SecretsWatcher`] is dropped.
//!
//! It depends on nothing but the locations and the callback, so that the factory uses
//! it without it knowing the factory.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
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
/// How often the locations are compared whatever the events (and how quickly a drop
/// is noticed).
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

impl SecretsWatcher {
    /// Watches `locations` (secrets files and secrets directories) and calls
    /// `on_change` after each settled change to them, on a thread of its own, until the
    /// returned watcher is dropped.
    pub fn start(locations: &[PathBuf], on_change: impl Fn() + Send + 'static) -> Result<Self> {
        let cwd = std::env::current_dir().unwrap_or_default();
        let locations: Vec<PathBuf> = locations.iter().map(|l| cwd.join(l)).collect();
        let (events, received) = mpsc::channel();
        let watcher = notify::recommended_watcher(move |event| {
            let _ = events.send(event);
        })
        .map_err(|err| Error::Io {
            context: "watching secrets files".into(),
            message: err.to_string(),
        })?;
        let mut state = Loop {
            watcher,
            fingerprints: locations.iter().map(|l| fingerprint(l)).collect(),
            watching: BTreeMap::new(),
            home: std::env::var_os("HOME").map(PathBuf::from),
            locations,
        };
        state.arm();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("conn-secrets-watcher".into())
            .spawn(move || state.run(&received, &stopped, &on_change))
            .map_err(|err| Error::Io {
                context: "starting the secrets watcher".into(),
                message: err.to_string(),
            })?;
        Ok(SecretsWatcher { stop })
    }
}

/// What a location looks like now; `None` when it does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint(Vec<(PathBuf, u64, i64, i64, u64)>);

/// The fingerprint of a file (what its path resolves to) or of every file in a
/// directory.
fn fingerprint(location: &Path) -> Option<Fingerprint> {
    let meta = std::fs::metadata(location).ok()?;
    let mut parts = Vec::new();
    if meta.is_dir() {
        collect(location, &mut parts);
        parts.sort();
    } else {
        parts.push(part(location.to_path_buf(), &meta));
    }
    Some(Fingerprint(parts))
}

fn part(path: PathBuf, meta: &std::fs::Metadata) -> (PathBuf, u64, i64, i64, u64) {
    (
        path,
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ino(),
    )
}

fn collect(dir: &Path, parts: &mut Vec<(PathBuf, u64, i64, i64, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => collect(&path, parts),
            Ok(meta) => parts.push(part(path, &meta)),
            Err(_) => {}
        }
    }
}

/// The folder to watch for `location`, and how: a secrets directory itself,
/// recursively; a file's folder, not recursively — unless that folder is a home
/// folder or `/`, or does not exist yet (then the location is only polled).
fn target(location: &Path, home: Option<&Path>) -> Option<(PathBuf, RecursiveMode)> {
    if location.is_dir() {
        return Some((location.to_path_buf(), RecursiveMode::Recursive));
    }
    let folder = location.parent()?;
    let forbidden = folder.parent().is_none() || Some(folder) == home;
    (folder.is_dir() && !forbidden && is_file_location(location))
        .then(|| (folder.to_path_buf(), RecursiveMode::NonRecursive))
}

/// A location that names a file (a `.toml` file); anything else that does not exist
/// yet is a secrets directory to be.
fn is_file_location(location: &Path) -> bool {
    location.extension().is_some_and(|e| e == "toml") || location.is_file()
}

struct Loop {
    watcher: RecommendedWatcher,
    locations: Vec<PathBuf>,
    fingerprints: Vec<Option<Fingerprint>>,
    watching: BTreeMap<PathBuf, RecursiveMode>,
    home: Option<PathBuf>,
}

impl Loop {
    /// Watches what should be watched now, and stops watching folders that are gone
    /// (so that a folder created again is watched again).
    fn arm(&mut self) {
        let gone: Vec<PathBuf> = self
            .watching
            .keys()
            .filter(|folder| !folder.is_dir())
            .cloned()
            .collect();
        for folder in gone {
            let _ = self.watcher.unwatch(&folder);
            self.watching.remove(&folder);
        }
        for location in &self.locations {
            let Some((folder, mode)) = target(location, self.home.as_deref()) else {
                continue;
            };
            if self.watching.get(&folder) == Some(&mode) {
                continue;
            }
            if self.watching.remove(&folder).is_some() {
                let _ = self.watcher.unwatch(&folder);
            }
            match self.watcher.watch(&folder, mode) {
                Ok(()) => {
                    tracing::debug!(folder = %folder.display(), "conn.secrets.watch");
                    self.watching.insert(folder, mode);
                }
                Err(err) => tracing::warn!(
                    folder = %folder.display(),
                    error = %err,
                    "conn.secrets.watch: cannot watch this folder; polling it"
                ),
            }
        }
    }

    /// Whether any location's fingerprint changed since the last look (and remembers
    /// the new ones).
    fn changed(&mut self) -> bool {
        let now: Vec<Option<Fingerprint>> = self.locations.iter().map(|l| fingerprint(l)).collect();
        let changed = now != self.fingerprints;
        self.fingerprints = now;
        changed
    }

    fn run(
        &mut self,
        received: &mpsc::Receiver<notify::Result<notify::Event>>,
        stop: &AtomicBool,
        on_change: &dyn Fn(),
    ) {
        while !stop.load(Ordering::Relaxed) {
            match received.recv_timeout(POLL) {
                Ok(_) => {
                    // Let the burst settle, for at most MAX_SETTLE.
                    let started = Instant::now();
                    while started.elapsed() < MAX_SETTLE && received.recv_timeout(SETTLE).is_ok() {}
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            self.arm();
            if self.changed() && !stop.load(Ordering::Relaxed) {
                on_change();
            }
        }
    }
}

/// The folders a watcher for `locations` would watch now, and whether recursively
/// (for tests and `conn explain`).
pub fn watched_folders(locations: &[PathBuf]) -> Vec<(PathBuf, bool)> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let mut folders: Vec<(PathBuf, bool)> = locations
        .iter()
        .filter_map(|l| target(l, home.as_deref()))
        .map(|(folder, mode)| (folder, mode == RecursiveMode::Recursive))
        .collect();
    folders.sort();
    folders.dedup();
    folders
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
    fn a_home_folder_or_root_is_never_watched() {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap();
        let folders = watched_folders(&[home.join("secrets.toml"), PathBuf::from("/secrets.toml")]);
        assert!(folders.is_empty(), "{folders:?}");
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
        // The watcher was armed all along: a change of the file itself is seen.
        std::fs::write(&file, "a = 2\n").unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while calls.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
