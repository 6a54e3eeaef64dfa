//! Watching secrets files: when one changes and parses, connections whose own section
//! changed are reset and rebuilt on next use; the others are untouched.
//!
//! Better than Streamlit's watcher in three ways: it watches the *folders* of the
//! secrets locations, so a file created after start-up or deleted and re-created is
//! still seen; a change that does not parse keeps the last good secrets and reports
//! the parse error through `tracing` (Streamlit drops its secrets until the next
//! access); and it stops cleanly when the [`SecretsWatcher`] is dropped.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use crate::error::{Error, Result};
use crate::factory::ConnectionFactory;

/// How long to wait for a burst of file events (an editor's save) to settle.
const SETTLE: Duration = Duration::from_millis(100);

/// A running secrets watcher. Dropping it stops watching.
#[derive(Debug)]
pub struct SecretsWatcher {
    _watcher: RecommendedWatcher,
    _thread: std::thread::JoinHandle<()>,
}

impl SecretsWatcher {
    /// Watches `factory`'s secrets locations until the returned watcher is dropped.
    pub fn start(factory: Arc<ConnectionFactory>) -> Result<Self> {
        let locations: Vec<PathBuf> = factory.secrets_locations().as_slice().to_vec();
        let (events, received) = mpsc::channel();
        let mut watcher = notify::recommended_watcher(move |event| {
            let _ = events.send(event);
        })
        .map_err(|err| watch_error(&err))?;
        for folder in folders_to_watch(&locations) {
            watcher
                .watch(&folder, RecursiveMode::Recursive)
                .map_err(|err| watch_error(&err))?;
        }
        let thread = std::thread::Builder::new()
            .name("conn-secrets-watcher".into())
            .spawn(move || watch_loop(&factory, &locations, &received))
            .map_err(|err| Error::Io {
                context: "starting the secrets watcher".into(),
                message: err.to_string(),
            })?;
        Ok(SecretsWatcher {
            _watcher: watcher,
            _thread: thread,
        })
    }
}

fn watch_error(err: &notify::Error) -> Error {
    Error::Io {
        context: "watching secrets files".into(),
        message: err.to_string(),
    }
}

/// The nearest existing folder of every location (a `.streamlit/` folder that does not
/// exist yet is watched through its parent).
fn folders_to_watch(locations: &[PathBuf]) -> BTreeSet<PathBuf> {
    locations
        .iter()
        .filter_map(|location| {
            let start = if location.is_dir() {
                Some(location.as_path())
            } else {
                location.parent()
            };
            start.and_then(|p| p.ancestors().find(|a| a.is_dir()).map(Path::to_path_buf))
        })
        .collect()
}

fn concerns_secrets(event: &notify::Event, locations: &[PathBuf]) -> bool {
    matches!(
        event.kind,
        notify::EventKind::Create(_) | notify::EventKind::Modify(_) | notify::EventKind::Remove(_)
    ) && event
        .paths
        .iter()
        .any(|path| locations.iter().any(|l| path == l || path.starts_with(l)))
}

fn watch_loop(
    factory: &ConnectionFactory,
    locations: &[PathBuf],
    received: &mpsc::Receiver<notify::Result<notify::Event>>,
) {
    // Ends when the watcher (the sender) is dropped.
    while let Ok(event) = received.recv() {
        let mut relevant = matches!(&event, Ok(e) if concerns_secrets(e, locations));
        // Let the burst settle, folding later events in.
        while let Ok(more) = received.recv_timeout(SETTLE) {
            relevant |= matches!(&more, Ok(e) if concerns_secrets(e, locations));
        }
        if !relevant {
            continue;
        }
        match factory.reload_secrets() {
            Ok(reset) if reset.is_empty() => {
                tracing::debug!("conn.secrets.reload: no connection section changed");
            }
            Ok(reset) => {
                tracing::info!(connections = ?reset, "conn.secrets.reload: reset changed connections");
            }
            Err(err) => {
                tracing::error!(error = %err, "conn.secrets.reload failed; keeping the last good secrets");
            }
        }
    }
}
