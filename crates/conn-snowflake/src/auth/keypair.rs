//! Key-pair authentication: an RS256 JWT signed with the user's private key, whose
//! issuer names the public key by its SHA-256 fingerprint, as Snowflake expects:
//! `iss = ACCOUNT.USER.SHA256:<base64 of sha256(SubjectPublicKeyInfo DER)>`,
//! `sub = ACCOUNT.USER`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use conn_core::{Error, Result};
use pkcs8::der::Encode as _;
use pkcs8::der::asn1::{AnyRef, BitStringRef};
use pkcs8::spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};
use ring::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use sha2::{Digest as _, Sha256};

/// How long a login JWT is valid (the Python connector's default lifetime).
const LIFETIME: Duration = Duration::from_secs(120);

/// The OID of rsaEncryption (PKCS #1).
const RSA_ENCRYPTION: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// A private RSA key and its public key's fingerprint.
pub(crate) struct KeyPair {
    key: RsaKeyPair,
    fingerprint: String,
}

impl KeyPair {
    /// Reads a PEM private key: PKCS#8 (`PRIVATE KEY`), encrypted PKCS#8 (`ENCRYPTED
    /// PRIVATE KEY`, with `passphrase`) or PKCS#1 (`RSA PRIVATE KEY`). `origin` names the
    /// key in errors (its file, or the key holding it); no error shows key material.
    pub fn from_pem(pem: &str, passphrase: Option<&str>, origin: &str) -> Result<KeyPair> {
        let bad = |what: String| Error::InvalidArgument(format!("private key {origin}: {what}"));
        let (label, document) = pkcs8::Document::from_pem(pem.trim()).map_err(|e| {
            bad(format!(
                "is not a PEM private key ({e}); expected -----BEGIN PRIVATE KEY----- or \
                 -----BEGIN ENCRYPTED PRIVATE KEY-----"
            ))
        })?;
        let key = match label {
            "PRIVATE KEY" => {
                if passphrase.is_some() {
                    tracing::debug!(
                        "private key {origin} is not encrypted; its passphrase is unused"
                    );
                }
                RsaKeyPair::from_pkcs8(document.as_bytes())
            }
            "ENCRYPTED PRIVATE KEY" => {
                let passphrase = passphrase.ok_or_else(|| {
                    bad("is encrypted; set private_key_file_pwd to its passphrase".into())
                })?;
                let encrypted = pkcs8::EncryptedPrivateKeyInfo::try_from(document.as_bytes())
                    .map_err(|e| bad(format!("is not an encrypted PKCS#8 key ({e})")))?;
                let decrypted = encrypted.decrypt(passphrase).map_err(|_| {
                    bad(
                        "cannot be decrypted: the passphrase (private_key_file_pwd) is wrong, \
                         or the key's cipher is not supported"
                            .into(),
                    )
                })?;
                RsaKeyPair::from_pkcs8(decrypted.as_bytes())
            }
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(document.as_bytes()),
            other => {
                return Err(bad(format!(
                    "is a PEM \"{other}\", not a private key; expected -----BEGIN PRIVATE KEY-----"
                )));
            }
        }
        .map_err(|e| {
            bad(format!(
                "is not a usable RSA key ({e}); Snowflake key pairs are RSA, 2048 bits or more"
            ))
        })?;
        let fingerprint = fingerprint(&key).map_err(bad)?;
        Ok(KeyPair { key, fingerprint })
    }

    /// `SHA256:<base64>`: how Snowflake names the public key (`RSA_PUBLIC_KEY_FP`).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// A login token for `account_name` (upper case, no region) and `user`, valid from
    /// `now` for two minutes.
    pub fn jwt(&self, account_name: &str, user: &str, now: SystemTime) -> Result<String> {
        let subject = format!("{account_name}.{}", user.to_ascii_uppercase());
        let issued = now
            .duration_since(UNIX_EPOCH)
            .map_err(|_| Error::InvalidArgument("the system clock is before 1970".into()))?
            .as_secs();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = serde_json::json!({
            "iss": format!("{subject}.{}", self.fingerprint),
            "sub": subject,
            "iat": issued,
            "exp": issued + LIFETIME.as_secs(),
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{claims}");
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                signed.as_bytes(),
                &mut signature,
            )
            .map_err(|_| Error::InvalidArgument("signing the login token failed".into()))?;
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// The SHA-256 fingerprint of the key's SubjectPublicKeyInfo.
fn fingerprint(key: &RsaKeyPair) -> Result<String, String> {
    let pkcs1 = key.public_key().as_ref();
    let info = SubjectPublicKeyInfoRef {
        algorithm: AlgorithmIdentifierRef {
            oid: RSA_ENCRYPTION,
            parameters: Some(AnyRef::NULL),
        },
        subject_public_key: BitStringRef::from_bytes(pkcs1).map_err(|e| e.to_string())?,
    };
    let der = info.to_der().map_err(|e| e.to_string())?;
    Ok(format!("SHA256:{}", STANDARD.encode(Sha256::digest(&der))))
}
