//! Kubernetes-style secrets directories, read the way Streamlit reads them.
//!
//! Every entry of the directory must be a folder. A folder holding exactly one file
//! becomes `name = "<content>"`; any other folder becomes a table of its files
//! (`name = { file = "<content>", ... }`). Contents are trimmed; nested folders are
//! ignored.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use super::SecretsError;
use crate::value::{Kind, Map, Source, Value};

/// Reads `dir`. Returns the secrets and whether at least one file was read.
pub(crate) fn read(dir: &Path) -> Result<(Map, bool), SecretsError> {
    let io = |err: std::io::Error| SecretsError::Io {
        path: dir.to_path_buf(),
        message: err.to_string(),
    };
    let mut secrets = Map::new();
    let mut found_any = false;
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        if !path.is_dir() {
            return Err(SecretsError::NotAFolder { path });
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let files = read_files(&path)?;
        found_any |= !files.is_empty();
        let value = match <[_; 1]>::try_from(files) {
            Ok([(_, value)]) => value,
            Err(files) => Value::new(
                Kind::Table(files.into_iter().collect()),
                Source::SecretDir {
                    path: Arc::from(path.as_path()),
                },
            ),
        };
        secrets.insert(name, value);
    }
    Ok((secrets, found_any))
}

fn read_files(folder: &Path) -> Result<Vec<(String, Value)>, SecretsError> {
    let io = |path: &Path, err: std::io::Error| SecretsError::Io {
        path: path.to_path_buf(),
        message: err.to_string(),
    };
    let mut files = Vec::new();
    for entry in fs::read_dir(folder).map_err(|e| io(folder, e))? {
        let path = entry.map_err(|e| io(folder, e))?.path();
        if !path.is_file() {
            continue;
        }
        let content = fs::read_to_string(&path).map_err(|e| io(&path, e))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let source = Source::SecretDir {
            path: Arc::from(path.as_path()),
        };
        files.push((
            name,
            Value::new(Kind::String(content.trim().to_owned()), source),
        ));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_file_folders_collapse_and_others_become_tables() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("api_key")).unwrap();
        fs::write(dir.path().join("api_key/value"), "  s3cr3t\n").unwrap();
        fs::create_dir(dir.path().join("db")).unwrap();
        fs::write(dir.path().join("db/user"), "ada").unwrap();
        fs::write(dir.path().join("db/password"), "pw\n").unwrap();
        fs::create_dir(dir.path().join("empty")).unwrap();

        let (secrets, found) = read(dir.path()).unwrap();
        assert!(found);
        assert_eq!(secrets["api_key"].as_str(), Some("s3cr3t"));
        assert_eq!(
            secrets["db"].get_path("password").and_then(Value::as_str),
            Some("pw")
        );
        assert!(secrets["empty"].as_table().unwrap().is_empty());
    }

    #[test]
    fn a_plain_file_in_the_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("stray"), "x").unwrap();
        let err = read(dir.path()).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}/stray is not a folder. To use directory based secrets, mount every \
                 secret in a subfolder under the secret directory",
                dir.path().display()
            )
        );
    }
}
