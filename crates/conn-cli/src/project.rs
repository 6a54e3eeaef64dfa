//! The project a command works on: a [`ConnectionFactory`] that reads the same secrets
//! files, environment and `.streamlit/config.toml` as the app would, from `--project`
//! (or the current directory) and `--secrets`.

use std::path::{Path, PathBuf};

use conn::{ConnectionFactory, ConnectionRequest, Source};

use crate::cli::ProjectArgs;
use crate::error::{CliError, CliResult};

/// A factory for the project, and the folder paths are shown relative to.
#[derive(Debug)]
pub struct Project {
    /// Resolves and builds connections as the app does.
    pub factory: ConnectionFactory,
    /// The project folder (the current directory after `--project`).
    pub dir: PathBuf,
    /// `--type`: the type given as the app gives it in code.
    pub type_name: Option<String>,
}

/// Where a connection is defined.
#[derive(Debug, Clone)]
pub struct Defined {
    /// The connection name.
    pub name: String,
    /// Its secrets section, or the first `CONN_<NAME>__*` variable.
    pub at: Source,
}

impl Project {
    /// Opens the project. `--secrets` paths are taken relative to the directory the
    /// command was started in; then the process moves into `--project DIR`, so that
    /// relative paths in secrets resolve as they do for an app started there.
    pub fn open(args: &ProjectArgs) -> CliResult<Project> {
        let started = std::env::current_dir()
            .map_err(|e| CliError::config(format!("cannot read the current directory: {e}")))?;
        let secrets: Vec<PathBuf> = args.secrets.iter().map(|p| started.join(p)).collect();
        let dir = match &args.project {
            Some(dir) => {
                let dir = started.join(dir);
                std::env::set_current_dir(&dir)
                    .map_err(|e| CliError::config(format!("--project {}: {e}", dir.display())))?;
                dir
            }
            None => started,
        };
        let mut builder = ConnectionFactory::builder().project_dir(&dir);
        if !secrets.is_empty() {
            builder = builder.secrets_files(secrets);
        }
        Ok(Project {
            factory: builder.build(),
            dir,
            type_name: args.type_name.clone(),
        })
    }

    /// A request for the connection `name`, with the `--type` given.
    pub fn request(&self, name: &str) -> ConnectionRequest<'_> {
        let request = self.factory.connection(name);
        match &self.type_name {
            Some(type_name) => request.type_name(type_name),
            None => request,
        }
    }

    /// Every connection defined in secrets (`[connections.<name>]`) or the environment
    /// (`CONN_<NAME>__<KEY>`, the name lower-cased), sorted by name. Fails when the
    /// secrets cannot be read.
    pub fn defined(&self) -> CliResult<Vec<Defined>> {
        let secrets = self.factory.secrets()?;
        let mut found: Vec<Defined> = secrets
            .connection_names()
            .into_iter()
            .filter_map(|name| {
                let at = secrets.connection_section(name)?.source().clone();
                Some(Defined {
                    name: name.to_owned(),
                    at,
                })
            })
            .collect();
        for (var, _) in self.factory.env().with_prefix("CONN_") {
            let Some((name, key)) = var["CONN_".len()..].split_once("__") else {
                continue;
            };
            // The library reads `CONN_<NAME>__` with the name upper-cased: a variable
            // with lower-case letters in its name part belongs to no connection.
            let valid = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_';
            if name.is_empty() || key.is_empty() || !name.chars().all(valid) {
                continue;
            }
            // A section (or an earlier variable) with the same prefix is the same
            // connection.
            let prefix = format!("CONN_{name}__");
            if found
                .iter()
                .any(|d| conn_core::plugin::env_prefix(&d.name) == prefix)
            {
                continue;
            }
            let name = name.to_ascii_lowercase();
            found.push(Defined {
                name,
                at: Source::env(&var),
            });
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    /// Where secrets were looked for and which of those exist, for messages.
    pub fn searched(&self) -> String {
        let secrets = self.factory.secrets_locations().as_slice();
        let loaded: Vec<&PathBuf> = secrets.iter().filter(|p| p.exists()).collect();
        let join = |paths: &mut dyn Iterator<Item = &PathBuf>| {
            paths.map(|p| self.path(p)).collect::<Vec<_>>().join(", ")
        };
        if loaded.is_empty() {
            format!(
                "no secrets file found; searched: {}",
                join(&mut secrets.iter())
            )
        } else {
            format!("secrets read from: {}", join(&mut loaded.into_iter()))
        }
    }

    /// A path relative to the project folder when it is inside it.
    pub fn path(&self, path: &Path) -> String {
        match path.strip_prefix(&self.dir) {
            Ok(relative) if !relative.as_os_str().is_empty() => relative.display().to_string(),
            _ => path.display().to_string(),
        }
    }

    /// A value's source for display: files relative to the project folder, as
    /// `file:line:column`.
    pub fn source(&self, source: &Source) -> String {
        match source {
            Source::File { path, line, column } => {
                format!("{}:{line}:{column}", self.path(path))
            }
            Source::SecretDir { path } => format!("secrets directory file {}", self.path(path)),
            other => other.to_string(),
        }
    }
}
