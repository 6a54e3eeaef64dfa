//! Key-pair tokens, checked against openssl's fingerprint and verified with the public
//! key.

use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

use super::KeyPair;

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn expected_fingerprint() -> String {
    format!("SHA256:{}", data("test_key.fingerprint").trim())
}

#[test]
fn every_key_form_gives_openssls_fingerprint() {
    let plain = KeyPair::from_pem(&data("test_key.p8"), None, "test").unwrap();
    assert_eq!(plain.fingerprint(), expected_fingerprint());
    let pkcs1 = KeyPair::from_pem(&data("test_key_pkcs1.pem"), None, "test").unwrap();
    assert_eq!(pkcs1.fingerprint(), expected_fingerprint());
    let encrypted = KeyPair::from_pem(
        &data("test_key_encrypted.p8"),
        Some("correct-horse"),
        "test",
    )
    .unwrap();
    assert_eq!(encrypted.fingerprint(), expected_fingerprint());
}

#[test]
fn the_token_is_signed_and_names_account_user_and_key() {
    let pair = KeyPair::from_pem(&data("test_key.p8"), None, "test").unwrap();
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let jwt = pair.jwt("XY12345", "ada", now).unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "RS256");
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["sub"], "XY12345.ADA");
    assert_eq!(
        claims["iss"],
        format!("XY12345.ADA.{}", expected_fingerprint())
    );
    assert_eq!(claims["iat"], 1_700_000_000);
    assert_eq!(claims["exp"], 1_700_000_120);

    // Verify the signature with the public key from the PEM (SubjectPublicKeyInfo DER:
    // ring wants the inner RSAPublicKey, which follows the 24-byte SPKI header of a
    // 2048-bit key).
    let public_pem = data("test_key.pub");
    let body: String = public_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    let rsa_public = &der[24..];
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    let signed = format!("{}.{}", parts[0], parts[1]);
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, rsa_public)
        .verify(signed.as_bytes(), &signature)
        .expect("the signature verifies with the public key");
}

#[test]
fn bad_keys_say_what_is_wrong_without_showing_the_key() {
    let encrypted = data("test_key_encrypted.p8");
    let err = KeyPair::from_pem(&encrypted, None, "/keys/k.p8")
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("/keys/k.p8") && err.contains("private_key_file_pwd"),
        "{err}"
    );
    let err = KeyPair::from_pem(&encrypted, Some("wrong"), "/keys/k.p8")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("passphrase") && err.contains("wrong"), "{err}");
    let err = KeyPair::from_pem("not a key", None, "in `private_key`")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("is not a PEM private key"), "{err}");
    let public = data("test_key.pub");
    let err = KeyPair::from_pem(&public, None, "k")
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("PUBLIC KEY") && err.contains("not a private key"),
        "{err}"
    );
    assert!(!err.contains("MII"), "key material in {err}");
}
