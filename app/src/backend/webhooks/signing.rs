//! Standard Webhooks v1 signatures (<https://www.standardwebhooks.com/>), exactly as the reference
//! libraries compute and check them, so receivers can verify Wharf with those libraries.
//!
//! A delivery carries `webhook-id` (the same on every retry of one delivery), `webhook-timestamp`
//! (unix seconds of this attempt) and `webhook-signature`: `v1,<base64 HMAC-SHA256(key,
//! "<id>.<timestamp>.<body>")>`, one per active secret, space-separated, so that during a rotation
//! receivers holding either the old or the new secret accept the request.
//!
//! Invariants: a secret is `whsec_` + base64 of 24 to 64 bytes; the key bytes never appear in
//! `Debug` output or logs; verification compares in constant time.

use std::fmt;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

pub const SECRET_PREFIX: &str = "whsec_";
/// Bytes of a generated secret.
pub const GENERATED_SECRET_BYTES: usize = 32;
const MIN_SECRET_BYTES: usize = 24;
/// SHA-256's block; a longer key would be hashed first, so secrets stop here.
const SHA256_BLOCK_BYTES: usize = 64;
const MAX_SECRET_BYTES: usize = SHA256_BLOCK_BYTES;
/// How far a timestamp may be from the verifier's clock, as in the reference libraries.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// Secrets are read with or without base64 padding, as the reference libraries accept both.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    #[error("a signing secret starts with \"whsec_\"")]
    MissingPrefix,
    #[error("the signing secret after \"whsec_\" is not base64")]
    NotBase64,
    #[error("the signing secret is {0} bytes; it must be 24 to 64 bytes")]
    BadLength(usize),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("webhook-timestamp is not a number of seconds")]
    BadTimestamp,
    #[error("webhook-timestamp is more than five minutes away from now")]
    TimestampOutOfTolerance,
    #[error("no signature in webhook-signature matches")]
    NoMatchingSignature,
}

/// A webhook's signing key.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret {
    key: Vec<u8>,
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(****)")
    }
}

impl SigningSecret {
    /// A new random secret of [`GENERATED_SECRET_BYTES`] bytes from the OS generator.
    pub fn generate() -> SigningSecret {
        let mut key = vec![0u8; GENERATED_SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut key);
        SigningSecret { key }
    }

    /// Reads `whsec_<base64>`.
    pub fn parse(text: &str) -> Result<SigningSecret, SigningError> {
        let encoded = text
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SigningError::MissingPrefix)?;
        let key = LENIENT_BASE64.decode(encoded).map_err(|_| SigningError::NotBase64)?;
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&key.len()) {
            return Err(SigningError::BadLength(key.len()));
        }
        Ok(SigningSecret { key })
    }

    /// The `whsec_…` text, to show once and to store. Handle it like a password.
    pub fn reveal(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    fn mac(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
        // HMAC pads a key shorter than the hash's 64-byte block with zeros (RFC 2104), so padding
        // it here gives the same MAC through the constructor that cannot fail; keys are at most
        // 64 bytes (checked when parsed).
        let mut block = [0u8; SHA256_BLOCK_BYTES];
        block[..self.key.len()].copy_from_slice(&self.key);
        let mut mac = <HmacSha256 as KeyInit>::new(&block.into());
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

/// A fresh `webhook-id` for a delivery: `msg_` and a time-ordered UUID's hex.
pub fn new_message_id() -> String {
    // Time-ordered (UUID v7, ordered within the process): deliveries queued in the same
    // millisecond keep the order they were queued in, since the queue sorts by (created_at, id).
    format!("msg_{}", uuid::Uuid::now_v7().simple())
}

/// `v1,<base64 signature>` of one secret.
pub fn sign(secret: &SigningSecret, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let signature = secret.mac(msg_id, timestamp, body).finalize().into_bytes();
    format!("v1,{}", STANDARD.encode(signature))
}

/// The `webhook-signature` value: one signature per secret, space-separated.
pub fn signature_header(secrets: &[&SigningSecret], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|secret| sign(secret, msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The three Standard Webhooks headers; without secrets, only id and timestamp.
pub fn headers(secrets: &[&SigningSecret], msg_id: &str, timestamp: i64, body: &[u8]) -> Vec<(String, String)> {
    let mut headers = vec![
        (HEADER_ID.to_string(), msg_id.to_string()),
        (HEADER_TIMESTAMP.to_string(), timestamp.to_string()),
    ];
    if !secrets.is_empty() {
        headers.push((
            HEADER_SIGNATURE.to_string(),
            signature_header(secrets, msg_id, timestamp, body),
        ));
    }
    headers
}

/// Checks a request as a receiver would: the timestamp within [`TOLERANCE_SECONDS`] of `now`
/// (unix seconds) and one `v1` signature matching.
pub fn verify(
    secret: &SigningSecret,
    msg_id: &str,
    timestamp_header: &str,
    signature_header: &str,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    let timestamp: i64 = timestamp_header.trim().parse().map_err(|_| VerifyError::BadTimestamp)?;
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(VerifyError::TimestampOutOfTolerance);
    }
    let mac = secret.mac(msg_id, timestamp, body);
    let matches = signature_header.split_whitespace().any(|candidate| {
        let Some(("v1", encoded)) = candidate.split_once(',') else {
            return false;
        };
        match STANDARD.decode(encoded) {
            Ok(signature) => mac.clone().verify_slice(&signature).is_ok(),
            Err(_) => false,
        }
    });
    if matches {
        Ok(())
    } else {
        Err(VerifyError::NoMatchingSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector published with the Standard Webhooks reference libraries.
    const KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn secret() -> SigningSecret {
        SigningSecret::parse(KEY).expect("valid secret")
    }

    #[test]
    fn signs_the_published_example() {
        assert_eq!(sign(&secret(), MSG_ID, TIMESTAMP, BODY), SIGNATURE);
    }

    #[test]
    fn headers_carry_id_timestamp_and_signature() {
        let secret = secret();
        assert_eq!(
            headers(&[&secret], MSG_ID, TIMESTAMP, BODY),
            [
                ("webhook-id".to_string(), MSG_ID.to_string()),
                ("webhook-timestamp".to_string(), "1614265330".to_string()),
                ("webhook-signature".to_string(), SIGNATURE.to_string()),
            ]
        );
        assert_eq!(headers(&[], MSG_ID, TIMESTAMP, BODY).len(), 2);
    }

    #[test]
    fn rotation_sends_both_signatures_and_either_secret_verifies() {
        let old = secret();
        let new = SigningSecret::generate();
        let header = signature_header(&[&old, &new], MSG_ID, TIMESTAMP, BODY);
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], SIGNATURE);
        for secret in [&old, &new] {
            assert_eq!(verify(secret, MSG_ID, "1614265330", &header, BODY, TIMESTAMP), Ok(()));
        }
        let stranger = SigningSecret::generate();
        assert_eq!(
            verify(&stranger, MSG_ID, "1614265330", &header, BODY, TIMESTAMP),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn verify_rejects_tampering_and_stale_timestamps() {
        let secret = secret();
        let ok = |id: &str, ts: &str, sig: &str, body: &[u8], now: i64| verify(&secret, id, ts, sig, body, now);
        assert_eq!(ok(MSG_ID, "1614265330", SIGNATURE, BODY, TIMESTAMP + 300), Ok(()));
        assert_eq!(
            ok(MSG_ID, "1614265330", SIGNATURE, BODY, TIMESTAMP + 301),
            Err(VerifyError::TimestampOutOfTolerance)
        );
        assert_eq!(
            ok(MSG_ID, "1614265330", SIGNATURE, BODY, TIMESTAMP - 301),
            Err(VerifyError::TimestampOutOfTolerance)
        );
        assert_eq!(
            ok(MSG_ID, "soon", SIGNATURE, BODY, TIMESTAMP),
            Err(VerifyError::BadTimestamp)
        );
        assert_eq!(
            ok(MSG_ID, "1614265330", SIGNATURE, br#"{"test": 2432232315}"#, TIMESTAMP),
            Err(VerifyError::NoMatchingSignature)
        );
        assert_eq!(
            ok("msg_other", "1614265330", SIGNATURE, BODY, TIMESTAMP),
            Err(VerifyError::NoMatchingSignature)
        );
        let v2 = SIGNATURE.replacen("v1,", "v2,", 1);
        assert_eq!(
            ok(MSG_ID, "1614265330", &v2, BODY, TIMESTAMP),
            Err(VerifyError::NoMatchingSignature)
        );
        assert_eq!(
            ok(MSG_ID, "1614265330", "v1,not-base64!", BODY, TIMESTAMP),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn generated_secrets_round_trip_and_are_distinct() {
        let secret = SigningSecret::generate();
        let text = secret.reveal();
        assert!(text.starts_with("whsec_"));
        assert_eq!(SigningSecret::parse(&text), Ok(secret.clone()));
        assert_ne!(SigningSecret::generate(), secret);
        assert_eq!(SigningSecret::parse(KEY).map(|s| s.reveal()).as_deref(), Ok(KEY));
    }

    #[test]
    fn parse_rejects_bad_secrets() {
        assert_eq!(
            SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(SigningError::MissingPrefix)
        );
        assert_eq!(SigningSecret::parse("whsec_not base64!"), Err(SigningError::NotBase64));
        assert_eq!(SigningSecret::parse("whsec_c2hvcnQ="), Err(SigningError::BadLength(5)));
        let too_long = format!("whsec_{}", STANDARD.encode([7u8; 65]));
        assert_eq!(SigningSecret::parse(&too_long), Err(SigningError::BadLength(65)));
        let padded = format!("whsec_{}", STANDARD.encode([7u8; 32]));
        let unpadded = padded.trim_end_matches('=').to_string();
        assert_eq!(SigningSecret::parse(&padded), SigningSecret::parse(&unpadded));
    }

    #[test]
    fn padded_key_gives_the_plain_hmac() {
        for len in [MIN_SECRET_BYTES, GENERATED_SECRET_BYTES, MAX_SECRET_BYTES] {
            let key: Vec<u8> = (0..len).map(|i| i as u8 ^ 0x5a).collect();
            let secret = SigningSecret { key: key.clone() };
            let mut plain = <HmacSha256 as Mac>::new_from_slice(&key).expect("any key length");
            plain.update(b"id.1.body");
            assert_eq!(
                secret.mac("id", 1, b"body").finalize().into_bytes(),
                plain.finalize().into_bytes()
            );
        }
    }

    #[test]
    fn debug_never_shows_the_key() {
        let secret = secret();
        assert_eq!(format!("{secret:?}"), "SigningSecret(****)");
    }

    #[test]
    fn message_ids_are_prefixed_and_unique() {
        let a = new_message_id();
        assert!(a.starts_with("msg_") && a.len() == 36, "{a}");
        assert_ne!(a, new_message_id());
    }
}
