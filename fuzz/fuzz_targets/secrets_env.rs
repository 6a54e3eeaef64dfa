//! Configuration from outside files: the `CONN_<NAME>__<KEY>` environment layer and
//! Kubernetes-style secrets directories.
//!
//! Environment layer asserts: the prefix is `CONN_` + the name upper-cased with every
//! other character `_`, + `__`; every value in the layer comes from a variable with the
//! prefix; a variable whose path has an empty part is ignored; a plain value (not `[`
//! or `{`) whose path no other variable shares is in the layer unchanged, at its
//! lower-cased path, with its variable as source.
//!
//! Secrets directory asserts: a file among the folders is an error naming it; a folder
//! with one file is that file's trimmed text; another folder is a table of its files'
//! trimmed texts; a file that is not UTF-8 is an error naming it; never a panic.
#![no_main]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[allow(unused_imports)]
use arbitrary as _;
use conn_core::plugin::{env_layer, env_prefix};
use conn_core::{Env, Kind, Map, Secrets, SecretsLocations, Source, Value};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Input {
    Env {
        name: String,
        /// Variables after the prefix, and their values.
        vars: Vec<(String, String)>,
        /// Other variables, taken as they are.
        others: Vec<(String, String)>,
    },
    Dir {
        folders: Vec<(String, Vec<(String, Vec<u8>)>)>,
        stray_file: Option<String>,
    },
}

fn lookup<'a>(map: &'a Map, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let value = map.get(first)?;
    if rest.is_empty() {
        return Some(value);
    }
    match value.kind() {
        Kind::Table(inner) => lookup(inner, rest),
        _ => None,
    }
}

fn sources(map: &Map, out: &mut Vec<Source>) {
    for value in map.values() {
        out.push(value.source().clone());
        if let Kind::Table(inner) = value.kind() {
            sources(inner, out);
        }
    }
}

fn check_env(name: &str, vars: &[(String, String)], others: &[(String, String)]) {
    let prefix = env_prefix(name);
    let expected: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    assert_eq!(prefix, format!("CONN_{expected}__"));
    let mut pairs: BTreeMap<String, String> = others.iter().cloned().collect();
    for (suffix, value) in vars {
        pairs.insert(format!("{prefix}{suffix}"), value.clone());
    }
    let env = Env::from_pairs(pairs.clone());
    let layer = env_layer(name, &env);

    let mut found = Vec::new();
    sources(&layer, &mut found);
    for source in &found {
        match source {
            Source::Env { var } => {
                assert!(var.starts_with(&prefix), "{var} lacks {prefix}");
                let path = &var[prefix.len()..];
                assert!(
                    path.split("__").all(|p| !p.is_empty()),
                    "{var} has an empty part but was used"
                );
            }
            other => panic!("an environment value has source {other:?}"),
        }
    }
    // Paths of the variables the layer takes.
    let taken: Vec<(&String, Vec<String>, &String)> = pairs
        .iter()
        .filter_map(|(var, value)| {
            let path: Vec<String> = var
                .strip_prefix(&prefix)?
                .split("__")
                .map(str::to_lowercase)
                .collect();
            (!path.iter().any(String::is_empty)).then_some((var, path, value))
        })
        .collect();
    for (var, path, value) in &taken {
        let shared = taken
            .iter()
            .any(|(other, p, _)| other != var && (p.starts_with(path) || path.starts_with(p)));
        if shared || value.trim_start().starts_with(['[', '{']) {
            continue;
        }
        let got = lookup(&layer, path).unwrap_or_else(|| panic!("{var} is not in the layer"));
        assert!(
            *got.kind() == Kind::String((*value).clone()),
            "{var} changed"
        );
        assert!(
            *got.source() == Source::env(var),
            "{var} has another source"
        );
    }
}

/// A file or folder name from fuzz text: non-empty, one path component.
fn file_name(raw: &str) -> Option<String> {
    let name: String = raw
        .chars()
        .filter(|c| *c != '/' && *c != '\0')
        .take(40)
        .collect();
    (!name.is_empty() && name != "." && name != "..").then_some(name)
}

fn check_dir(folders: &[(String, Vec<(String, Vec<u8>)>)], stray: Option<&String>) {
    let dir = std::env::temp_dir().join(format!("conn-fuzz-secrets-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut expected: BTreeMap<String, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
    for (folder, files) in folders.iter().take(6) {
        let Some(folder) = file_name(folder) else {
            continue;
        };
        if std::fs::create_dir(dir.join(&folder)).is_err() {
            continue;
        }
        let entry = expected.entry(folder.clone()).or_default();
        for (file, content) in files.iter().take(4) {
            let Some(file) = file_name(file) else {
                continue;
            };
            if entry.contains_key(&file) {
                continue;
            }
            std::fs::write(dir.join(&folder).join(&file), content).unwrap();
            entry.insert(file, content.clone());
        }
    }
    let stray: Option<PathBuf> = stray.and_then(|s| file_name(s)).and_then(|s| {
        let path = dir.join(s);
        (!path.exists()).then(|| {
            std::fs::write(&path, b"x").unwrap();
            path
        })
    });
    let result = Secrets::load_from(&SecretsLocations::paths([&dir]), None);
    check_dir_result(&dir, &expected, stray.as_deref(), result);
    let _ = std::fs::remove_dir_all(&dir);
}

fn check_dir_result(
    dir: &Path,
    expected: &BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    stray: Option<&Path>,
    result: Result<Secrets, conn_core::SecretsError>,
) {
    let bad_utf8: Vec<PathBuf> = expected
        .iter()
        .flat_map(|(folder, files)| {
            files
                .iter()
                .filter(|(_, c)| std::str::from_utf8(c).is_err())
                .map(move |(f, _)| dir.join(folder).join(f))
        })
        .collect();
    let secrets = match result {
        Err(err) => {
            let message = err.to_string();
            let named = stray
                .iter()
                .map(|p| p.to_path_buf())
                .chain(bad_utf8.iter().cloned());
            assert!(
                named
                    .into_iter()
                    .any(|p| message.contains(&p.display().to_string())),
                "the error names no offending file: {message}"
            );
            return;
        }
        Ok(secrets) => secrets,
    };
    assert!(stray.is_none(), "a file among the folders was accepted");
    assert!(bad_utf8.is_empty(), "a file that is not UTF-8 was accepted");
    let root = secrets.root();
    assert!(
        root.keys().eq(expected.keys()),
        "the keys are not the folders"
    );
    for (folder, files) in expected {
        let value = &root[folder];
        let text = |c: &Vec<u8>| String::from_utf8(c.clone()).unwrap().trim().to_owned();
        if files.len() == 1 {
            let (file, content) = files.iter().next().unwrap();
            assert!(
                *value.kind() == Kind::String(text(content)),
                "{folder}/{file} changed"
            );
            assert!(
                *value.source()
                    == Source::SecretDir {
                        path: dir.join(folder).join(file).into()
                    }
            );
        } else {
            let Kind::Table(table) = value.kind() else {
                panic!("{folder} is not a table")
            };
            assert!(
                table.keys().eq(files.keys()),
                "{folder}'s keys are not its files"
            );
            for (file, content) in files {
                assert!(
                    *table[file].kind() == Kind::String(text(content)),
                    "{folder}/{file} changed"
                );
            }
        }
    }
}

fuzz_target!(|input: Input| {
    match input {
        Input::Env { name, vars, others } => check_env(&name, &vars, &others),
        Input::Dir {
            folders,
            stray_file,
        } => check_dir(&folders, stray_file.as_ref()),
    }
});
