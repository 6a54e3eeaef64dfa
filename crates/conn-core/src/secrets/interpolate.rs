//! `${VAR}` and `${VAR:-default}` in secrets string values.
//!
//! `$${` writes a literal `${`. A reference to an unset variable without a default does
//! not fail the load: the value becomes [`Kind::Unresolved`] and fails only when read,
//! so a production-only password does not stop a local run that never uses it.

use crate::value::{Env, Kind};

/// Expands the references in `text`. Returns the unset variable's name when one has no
/// default.
pub(crate) fn interpolate(text: &str, env: &Env) -> Kind {
    if !text.contains('$') {
        return Kind::String(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(end) = tail.find('}') else {
                // An unterminated reference is literal text, as in a shell.
                out.push_str(after);
                rest = "";
                break;
            };
            let reference = &tail[..end];
            let (name, default) = match reference.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (reference, None),
            };
            match (env.get(name).filter(|v| !v.is_empty()), default) {
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => {
                    return Kind::Unresolved {
                        var: name.to_owned(),
                    };
                }
            }
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Kind::String(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(text: &str) -> Kind {
        interpolate(text, &Env::from_pairs([("USER", "ada"), ("EMPTY", "")]))
    }

    fn string(s: &str) -> Kind {
        Kind::String(s.into())
    }

    #[test]
    fn expands_set_variables_and_defaults() {
        assert!(expand("postgres://${USER}@h/db") == string("postgres://ada@h/db"));
        assert!(expand("${MISSING:-fallback}") == string("fallback"));
        assert!(expand("${EMPTY:-fallback}") == string("fallback"));
        assert!(expand("${USER:-x}") == string("ada"));
        assert!(expand("cost: $5, ${USER}") == string("cost: $5, ada"));
    }

    #[test]
    fn escapes_and_unterminated_are_literal() {
        assert!(expand("$${USER}") == string("${USER}"));
        assert!(expand("${USER") == string("${USER"));
        assert!(expand("plain") == string("plain"));
    }

    #[test]
    fn unset_without_default_is_unresolved() {
        assert!(expand("x${NOPE}y") == Kind::Unresolved { var: "NOPE".into() });
    }
}
