//! The environment, as a value that can be the real process environment or a fixed set
//! of variables (so that tests never mutate the process environment).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Environment variables to resolve configuration from.
///
/// [`Env::process`] reads the real environment at each lookup;
/// [`Env::from_pairs`] is a fixed set, for tests and for embedding conn in a program
/// that keeps its configuration elsewhere. `Debug` lists variable names only.
#[derive(Clone, Default)]
pub struct Env {
    fixed: Option<Arc<BTreeMap<String, String>>>,
}

impl Env {
    /// The process environment, read at each lookup.
    pub fn process() -> Self {
        Env { fixed: None }
    }

    /// A fixed set of variables; nothing else is visible.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        Env {
            fixed: Some(Arc::new(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            )),
        }
    }

    /// The value of one variable, if it is set and valid Unicode.
    pub fn get(&self, name: &str) -> Option<String> {
        match &self.fixed {
            Some(vars) => vars.get(name).cloned(),
            None => std::env::var(name).ok(),
        }
    }

    /// Every variable whose name starts with `prefix`, sorted by name.
    pub fn with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        let mut found: Vec<(String, String)> = match &self.fixed {
            Some(vars) => vars
                .range(prefix.to_owned()..)
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            None => std::env::vars()
                .filter(|(k, _)| k.starts_with(prefix))
                .collect(),
        };
        found.sort();
        found
    }

    /// The user's home directory (`HOME`, or `USERPROFILE` on Windows).
    pub fn home_dir(&self) -> Option<std::path::PathBuf> {
        self.get("HOME")
            .or_else(|| self.get("USERPROFILE"))
            .filter(|h| !h.is_empty())
            .map(Into::into)
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.fixed {
            None => f.write_str("Env(process)"),
            Some(vars) => f.debug_tuple("Env").field(&vars.keys()).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_lookup_is_sorted_and_bounded() {
        let env = Env::from_pairs([("CONN_B", "2"), ("CONN_A", "1"), ("CONX", "3")]);
        assert_eq!(
            env.with_prefix("CONN_"),
            vec![("CONN_A".into(), "1".into()), ("CONN_B".into(), "2".into())]
        );
        assert!(!format!("{env:?}").contains('1'));
    }
}
