//! Repository names, tags and digests, parsed against the registry's grammar (CNCF
//! distribution's `reference` package, the OCI distribution spec) where they enter Wharf: a
//! server function, a token scope, a registry event. Registry URLs are built from these parts
//! only, so a name like `team-a/../secret/app` or a reference like `sha256:x/../latest` never
//! reaches one: it is refused with a message that says what is allowed.
//!
//! Hand-written rather than taken from `oci-spec`: its `Reference` parses whole image references
//! (registry host, Docker Hub's `library/` rewriting) and is server-only, while these types are
//! plain Rust that the browser build can use as well. A property test checks them against
//! `oci-spec`'s parsers.
//!
//! ```text
//! name       := component ('/' component)*            at most 255 characters
//! component  := [a-z0-9]+ (separator [a-z0-9]+)*
//! separator  := '.' | '_' | '__' | '-'+
//! tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//! digest     := algorithm ':' hex     sha256: 64, sha384: 96, sha512: 128 lower-case hex digits
//! reference  := tag | digest
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The registry's limit on a repository name.
pub const MAX_NAME_LEN: usize = 255;
/// The OCI limit on a tag.
pub const MAX_TAG_LEN: usize = 128;
/// At most this much of a refused text is repeated in the error.
const SHOWN: usize = 80;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error(
        "not a valid repository name: {0:?}. Use lower-case letters and digits, with '.', '_', '__' or '-' \
         between them, in parts joined by '/' (e.g. team-a/api), at most 255 characters"
    )]
    Repository(String),
    #[error(
        "not a valid tag: {0:?}. A tag is 1 to 128 letters, digits, '_', '.' or '-', and does not start \
         with '.' or '-'"
    )]
    Tag(String),
    #[error("not a valid digest: {0:?}. Write sha256: and 64 lower-case hex digits (or sha384, sha512)")]
    Digest(String),
}

/// The start of a refused text, for the error message (it may be long or hostile).
fn shown(text: &str) -> String {
    text.chars().take(SHOWN).collect()
}

/// A letter or digit of a name component (or a glob's `*`, when `wildcard`).
fn name_char(byte: u8, wildcard: bool) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit() || (wildcard && byte == b'*')
}

/// One `/`-separated part of a name: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`. With `wildcard`, `*`
/// counts as a letter (scope globs such as `team-a/api-*`).
pub fn is_component(part: &str, wildcard: bool) -> bool {
    let bytes = part.as_bytes();
    let mut i = 0;
    loop {
        let run = i;
        while i < bytes.len() && name_char(bytes[i], wildcard) {
            i += 1;
        }
        if i == run {
            return false;
        }
        if i == bytes.len() {
            return true;
        }
        match bytes[i] {
            b'.' => i += 1,
            b'_' => i += if bytes.get(i + 1) == Some(&b'_') { 2 } else { 1 },
            b'-' => {
                while bytes.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
    }
}

/// Components joined by single `/`s, none empty (a namespace, a name, or with `wildcard` a glob).
pub fn is_path(text: &str, wildcard: bool) -> bool {
    !text.is_empty() && text.len() <= MAX_NAME_LEN && text.split('/').all(|part| is_component(part, wildcard))
}

/// A repository name as the registry accepts it (`team-a/api`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RepositoryName(String);

impl RepositoryName {
    pub fn parse(text: &str) -> Result<RepositoryName, NameError> {
        if is_path(text, false) {
            Ok(RepositoryName(text.to_string()))
        } else {
            Err(NameError::Repository(shown(text)))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `/`-separated parts, each safe as one URL path segment.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

/// A tag (`v1.2`, `latest`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Tag(String);

impl Tag {
    pub fn parse(text: &str) -> Result<Tag, NameError> {
        let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
        let bytes = text.as_bytes();
        let valid = bytes.first().is_some_and(word)
            && bytes.len() <= MAX_TAG_LEN
            && bytes.iter().all(|b| word(b) || *b == b'.' || *b == b'-');
        if valid {
            Ok(Tag(text.to_string()))
        } else {
            Err(NameError::Tag(shown(text)))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A content digest (`sha256:` and 64 lower-case hex digits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl Digest {
    pub fn parse(text: &str) -> Result<Digest, NameError> {
        let hex_len = match text.split_once(':') {
            Some(("sha256", hex)) => Some((hex, 64)),
            Some(("sha384", hex)) => Some((hex, 96)),
            Some(("sha512", hex)) => Some((hex, 128)),
            _ => None,
        };
        match hex_len {
            Some((hex, len))
                if hex.len() == len && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
            {
                Ok(Digest(text.to_string()))
            }
            _ => Err(NameError::Digest(shown(text))),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `sha256`, `sha384` or `sha512`.
    pub fn algorithm(&self) -> &str {
        self.0
            .split_once(':')
            .map(|(algorithm, _)| algorithm)
            .unwrap_or_default()
    }

    /// The hex digits after the algorithm.
    pub fn hex(&self) -> &str {
        self.0.split_once(':').map(|(_, hex)| hex).unwrap_or_default()
    }
}

/// What a manifest is asked for by: a tag or a digest. A tag never holds a ':', so text with
/// one is read as a digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Reference {
    Tag(Tag),
    Digest(Digest),
}

impl Reference {
    pub fn parse(text: &str) -> Result<Reference, NameError> {
        if text.contains(':') {
            Digest::parse(text).map(Reference::Digest)
        } else {
            Tag::parse(text).map(Reference::Tag)
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Reference::Tag(tag) => tag.as_str(),
            Reference::Digest(digest) => digest.as_str(),
        }
    }

    pub fn digest(&self) -> Option<&Digest> {
        match self {
            Reference::Digest(digest) => Some(digest),
            Reference::Tag(_) => None,
        }
    }
}

impl From<Tag> for Reference {
    fn from(tag: Tag) -> Reference {
        Reference::Tag(tag)
    }
}

impl From<Digest> for Reference {
    fn from(digest: Digest) -> Reference {
        Reference::Digest(digest)
    }
}

/// `FromStr`, `TryFrom<String>`, `Display`, `AsRef<str>` and `Into<String>` from `parse` and
/// `as_str`, for each type.
macro_rules! text_type {
    ($($name:ident),*) => {$(
        impl FromStr for $name {
            type Err = NameError;
            fn from_str(text: &str) -> Result<$name, NameError> {
                $name::parse(text)
            }
        }
        impl TryFrom<String> for $name {
            type Error = NameError;
            fn try_from(text: String) -> Result<$name, NameError> {
                $name::parse(&text)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.as_str().to_string()
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}

text_type!(RepositoryName, Tag, Digest, Reference);

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

    #[test]
    fn repository_names_follow_the_distribution_grammar() {
        for good in ["a", "team-a/api", "a.b/c_d/e__f", "a--b", "x/y/z/0", "library/alpine"] {
            assert_eq!(RepositoryName::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "/",
            "a/",
            "/a",
            "a//b",
            "..",
            "a/../b",
            "team-a/../secret/app",
            "a/./b",
            "a..b",
            "a._b",
            "a___b",
            "a-_b",
            ".a",
            "a.",
            "-a",
            "a-",
            "_a",
            "A",
            "team-a/App",
            "a b",
            "a%2fb",
            "%2e%2e/x",
            "a\\b",
            "a:b",
            "a@b",
            "äpp",
            "a\0b",
            "a\nb",
        ] {
            let err = RepositoryName::parse(bad).unwrap_err();
            assert!(
                err.to_string().starts_with("not a valid repository name"),
                "{bad:?}: {err}"
            );
        }
        assert!(RepositoryName::parse(&"a".repeat(255)).is_ok());
        assert!(RepositoryName::parse(&"a".repeat(256)).is_err());
        let long = RepositoryName::parse(&"é".repeat(10_000)).unwrap_err().to_string();
        assert!(long.len() < 400, "the message repeats only the start: {long}");
    }

    #[test]
    fn references_are_tags_or_digests() {
        assert_eq!(
            Reference::parse("v1.2-rc_3").unwrap(),
            Reference::Tag(Tag::parse("v1.2-rc_3").unwrap())
        );
        assert_eq!(Reference::parse("_x").unwrap().as_str(), "_x");
        let digest = Reference::parse(SHA).unwrap();
        assert_eq!(digest.digest().map(Digest::algorithm), Some("sha256"));
        assert_eq!(digest.digest().map(|d| d.hex().len()), Some(64));
        assert!(Reference::parse(&format!("sha512:{}", "0".repeat(128))).is_ok());
        assert!(Reference::parse(&format!("sha384:{}", "f".repeat(96))).is_ok());
        assert!(Tag::parse(&"t".repeat(128)).is_ok());
        for bad in [
            "",
            "sha256:x/../latest",
            "sha256:x",
            &SHA.to_uppercase(),
            &format!("{SHA}0"),
            &format!("md5:{}", "0".repeat(32)),
            &format!("sha512:{}", "0".repeat(64)),
            "../latest",
            ".hidden",
            "-x",
            "a/b",
            "a b",
            "a%2f",
            "ü",
            &"t".repeat(129),
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Reference::parse("sha256:x/../latest")
            .unwrap_err()
            .to_string()
            .starts_with("not a valid digest"));
        assert!(Reference::parse("../latest")
            .unwrap_err()
            .to_string()
            .starts_with("not a valid tag"));
    }

    #[test]
    fn wildcards_count_as_letters_only_when_asked() {
        assert!(is_path("team-a/api-*", true));
        assert!(is_path("*/web", true));
        assert!(!is_path("team-a/api-*", false));
        assert!(!is_path("team-a/../*", true));
    }

    #[test]
    fn serde_checks_the_grammar() {
        let name: RepositoryName = serde_json::from_str("\"team-a/api\"").unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"team-a/api\"");
        assert!(serde_json::from_str::<RepositoryName>("\"team-a/../x\"").is_err());
        assert!(serde_json::from_str::<Reference>("\"sha256:x/../latest\"").is_err());
    }
}
