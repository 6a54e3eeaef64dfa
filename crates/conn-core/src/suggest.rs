//! "Did you mean" suggestions for misspelled names.

/// The candidate nearest to `input`, if one is near enough to be a likely typo.
///
/// Uses Jaro-Winkler similarity (good at transpositions and shared prefixes, as typos
/// have) with a threshold of 0.8, and prefers an exact case-insensitive match.
pub fn nearest<'a, S>(input: &str, candidates: impl IntoIterator<Item = &'a S>) -> Option<&'a str>
where
    S: AsRef<str> + ?Sized + 'a,
{
    let lowered = input.to_lowercase();
    let mut best: Option<(&'a str, f64)> = None;
    for candidate in candidates {
        let candidate = candidate.as_ref();
        if candidate == input {
            continue;
        }
        let score = if candidate.to_lowercase() == lowered {
            1.0
        } else {
            strsim::jaro_winkler(&lowered, &candidate.to_lowercase())
        };
        if score >= 0.8 && best.is_none_or(|(_, b)| score > b) {
            best = Some((candidate, score));
        }
    }
    best.map(|(candidate, _)| candidate)
}

/// Ends a sentence before another one: `; did you mean "x"? ` with a suggestion,
/// `. ` without.
pub(crate) fn sentence_end(suggestion: Option<&str>) -> String {
    match suggestion {
        Some(s) => format!("; did you mean \"{s}\"? "),
        None => ". ".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_and_ignores_strangers() {
        let names = ["password", "username", "host", "port", "database"];
        assert_eq!(nearest("pasword", &names), Some("password"));
        assert_eq!(nearest("HOST", &names), Some("host"));
        assert_eq!(nearest("databse", &names), Some("database"));
        assert_eq!(nearest("zzz", &names), None);
        assert_eq!(
            nearest("port", &names),
            None,
            "an exact match is not a suggestion"
        );
    }
}
