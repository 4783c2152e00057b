use data_encoding::BASE32_NOPAD;
use sha2::{Digest, Sha256};

/// The libtrust key id of a public key: SHA-256 over the DER SubjectPublicKeyInfo, first 30
/// bytes, base32 without padding, in 12 groups of 4 joined by ':'.
pub fn libtrust_key_id(spki_der: &[u8]) -> String {
    let digest = Sha256::digest(spki_der);
    let encoded = BASE32_NOPAD.encode(&digest[..30]);
    encoded
        .as_bytes()
        .chunks(4)
        .map(|chunk| std::str::from_utf8(chunk).expect("base32 is ASCII"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_has_twelve_groups_of_four() {
        let kid = libtrust_key_id(b"any bytes");
        let groups: Vec<&str> = kid.split(':').collect();
        assert_eq!(groups.len(), 12);
        assert!(groups.iter().all(|g| g.len() == 4));
        assert!(kid
            .chars()
            .all(|c| c == ':' || c.is_ascii_uppercase() || ('2'..='7').contains(&c)));
    }

    #[test]
    fn key_id_is_base32_of_the_truncated_sha256() {
        // sha256("") = e3b0c442 98fc1c14 ...; base32 of e3 b0 c4 42 98 starts with "4OYMIQUY".
        assert!(libtrust_key_id(b"").starts_with("4OYM:IQUY:"));
    }
}
