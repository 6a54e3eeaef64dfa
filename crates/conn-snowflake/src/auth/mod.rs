//! The login request's credentials, for each way of logging in.

mod keypair;

use std::time::SystemTime;

use conn_core::{Error, Result};
use serde_json::{Map, Value};

use crate::config::{KeySource, Login, Settings, TokenSource};

pub(crate) use keypair::KeyPair;

#[cfg(test)]
mod tests;

/// Adds the credentials of `settings` to a login request's `data`: `PASSWORD`, or
/// `AUTHENTICATOR` and `TOKEN`. Key and token files are read here, at each login, so
/// that a rotated token is picked up.
pub(crate) fn add_credentials(settings: &Settings, data: &mut Map<String, Value>) -> Result<()> {
    if let Some(authenticator) = settings.auth.authenticator() {
        data.insert("AUTHENTICATOR".into(), authenticator.into());
    }
    match &settings.auth {
        Login::Password(password) => {
            data.insert("PASSWORD".into(), password.expose().into());
        }
        Login::KeyPair { key, passphrase } => {
            let (pem, origin) = match key {
                KeySource::File(path) => {
                    (read(path, "private_key_file")?, path.display().to_string())
                }
                KeySource::Pem(pem) => (pem.expose().to_owned(), "in `private_key`".to_owned()),
            };
            let pair = KeyPair::from_pem(&pem, passphrase.as_ref().map(|p| p.expose()), &origin)?;
            tracing::debug!(
                fingerprint = pair.fingerprint(),
                "conn.snowflake: key-pair login"
            );
            let jwt = pair.jwt(&settings.account_name, &settings.user, SystemTime::now())?;
            data.insert("TOKEN".into(), jwt.into());
        }
        Login::OAuth(token) | Login::ProgrammaticAccessToken(token) => {
            let (token, origin) = match token {
                TokenSource::Value(token) => (token.expose().to_owned(), "`token`".to_owned()),
                TokenSource::File(path) => (
                    read(path, "token_file_path")?.trim().to_owned(),
                    format!("the token file {}", path.display()),
                ),
            };
            if token.is_empty() {
                return Err(Error::InvalidArgument(format!(
                    "snowflake login: {origin} is empty"
                )));
            }
            data.insert("TOKEN".into(), token.into());
        }
    }
    Ok(())
}

/// A credentials file's text; the error names the key and the file, not the content.
fn read(path: &std::path::Path, key: &str) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::InvalidArgument(format!("cannot read {key} {}: {e}", path.display())))
}
