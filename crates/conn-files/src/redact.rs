//! Keeping secrets out of error text: the connection's redactor, plus the values of
//! secret-looking URL query parameters (`?X-Amz-Signature=...`, `&sig=...`,
//! `?token=...`) wherever a URL shows up, given in the configuration or in a path.

use conn_core::{Error, Redactor};

/// Query parameter names whose values are secrets, matched case-insensitively as
/// substrings (so `X-Amz-Signature`, `X-Amz-Credential`, `access_token` all match).
const SECRET_PARAM_PARTS: &[&str] = &[
    "sig",
    "token",
    "key",
    "secret",
    "password",
    "credential",
    "auth",
    "code",
];

fn is_secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_PARAM_PARTS.iter().any(|part| name.contains(part))
}

/// The values of secret-looking query parameters in `text` (for the redactor).
pub(crate) fn query_secrets(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    scan(text, |value| found.push(value.to_owned()));
    found
}

/// `text` with the value of every secret-looking query parameter replaced by `***`.
pub(crate) fn scrub_query(text: &str) -> String {
    let mut secrets = Vec::new();
    scan(text, |value| secrets.push(value.to_owned()));
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_owned();
    for secret in secrets {
        out = out.replace(&secret, "***");
    }
    out
}

/// Calls `found` with the value of each `name=value` after a `?` or `&` (plain or
/// percent-encoded) whose name looks secret.
fn scan(text: &str, mut found: impl FnMut(&str)) {
    let separators: &[&str] = &["?", "&", "%3F", "%3f", "%26"];
    let equals: &[&str] = &["=", "%3D", "%3d"];
    let mut index = 0;
    while index < text.len() {
        let Some((at, sep)) = separators
            .iter()
            .filter_map(|s| text[index..].find(s).map(|i| (index + i, s.len())))
            .min_by_key(|(i, _)| *i)
        else {
            break;
        };
        let start = at + sep;
        let rest = &text[start..];
        let name_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(rest.len());
        let name = &rest[..name_end];
        let after_name = &rest[name_end..];
        if let Some(eq) = equals.iter().find(|e| after_name.starts_with(**e))
            && !name.is_empty()
            && is_secret_param(name)
        {
            let value_start = start + name_end + eq.len();
            let value = &text[value_start..];
            let end = value
                .find(|c: char| {
                    c.is_whitespace() || matches!(c, '&' | '#' | '"' | '\'' | ')' | '>' | ',')
                })
                .unwrap_or(value.len());
            let value = &value[..end];
            // A percent-encoded `&` ends the value too.
            let value = value.split("%26").next().unwrap_or(value);
            if !value.is_empty() {
                found(value);
            }
            index = value_start;
        } else {
            index = start;
        }
    }
}

/// `err` with the redactor's secrets and secret query values removed from its text.
pub(crate) fn error(redactor: &Redactor, err: Error) -> Error {
    let clean = |text: String| scrub_query(&redactor.redact(&text));
    match err {
        Error::Driver {
            context,
            message,
            class,
            code,
        } => {
            let mut out = Error::driver(clean(context), class, clean(message));
            if let Some(code) = code {
                out = out.with_code(code);
            }
            out
        }
        Error::Io { context, message } => Error::Io {
            context: clean(context),
            message: clean(message),
        },
        Error::Data(message) => Error::Data(clean(message)),
        Error::InvalidArgument(message) => Error::InvalidArgument(clean(message)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_query_values_are_found_and_scrubbed() {
        let url = "https://h/x.csv?X-Amz-Signature=abc123&X-Amz-Date=20240101&sig=Zz%2Fq";
        assert_eq!(query_secrets(url), vec!["abc123", "Zz%2Fq"]);
        assert_eq!(
            scrub_query(&format!("GET {url} failed")),
            "GET https://h/x.csv?X-Amz-Signature=***&X-Amz-Date=20240101&sig=*** failed"
        );
        assert_eq!(
            scrub_query("location x.csv%3Ftoken%3DS3cr3t%26page%3D2 not found"),
            "location x.csv%3Ftoken%3D***%26page%3D2 not found"
        );
        assert_eq!(scrub_query("a=b?page=2"), "a=b?page=2");
    }
}
