//! Property tests of the name grammar: hostile pieces (`..`, `%2e%2e`, `//`, upper case,
//! unicode, separators at the edges, over-long names) never parse, and whatever parses agrees
//! with `oci-spec`'s parsers of the same grammar.

use proptest::prelude::*;

use super::*;

/// Text built from the pieces a traversal or a confused client would use.
fn hostile_name() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[a-z0-9]{1,4}",
        1 => Just(".".to_string()),
        1 => Just("..".to_string()),
        1 => Just("_".to_string()),
        1 => Just("__".to_string()),
        1 => Just("___".to_string()),
        1 => Just("-".to_string()),
        1 => Just("--".to_string()),
        2 => Just("/".to_string()),
        1 => Just("//".to_string()),
        1 => Just("%2e%2e".to_string()),
        1 => Just("%2f".to_string()),
        1 => "[A-Z]",
        1 => Just("é".to_string()),
        1 => Just("\u{2215}".to_string()),
        1 => Just(":".to_string()),
        1 => Just("@".to_string()),
        1 => Just("\\".to_string()),
        1 => Just(" ".to_string()),
        1 => Just("\0".to_string()),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

/// A name the grammar allows, built from its definition.
fn valid_name() -> impl Strategy<Value = String> {
    let separator = prop_oneof![Just("."), Just("_"), Just("__"), Just("-"), Just("---")];
    let component = (
        "[a-z0-9]{1,6}",
        prop::collection::vec((separator, "[a-z0-9]{1,6}"), 0..3),
    )
        .prop_map(|(first, rest)| {
            rest.into_iter()
                .fold(first, |text, (separator, run)| text + separator + &run)
        });
    prop::collection::vec(component, 1..5).prop_map(|parts| parts.join("/"))
}

/// The `oci-spec` verdict on a repository name: its reference parser, with a registry host in
/// front so that the whole text is the repository path.
fn oci_spec_accepts_name(name: &str) -> bool {
    oci_spec::distribution::Reference::try_from(format!("example.com/{name}:t").as_str())
        .is_ok_and(|reference| reference.registry() == "example.com" && reference.repository() == name)
}

fn hostile_reference() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_.-]{0,140}",
        "(sha256|sha384|sha512|md5|SHA256):[0-9a-fA-F]{0,130}",
        "sha256:[0-9a-f]{64}",
        "sha512:[0-9a-f]{128}",
        "(sha256:)?[a-z0-9]{0,4}(/\\.\\./|%2e%2e|//|/)[a-z]{0,8}",
        "\\PC{0,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn hostile_names_never_parse_to_anything_unsafe(text in hostile_name()) {
        if let Ok(name) = RepositoryName::parse(&text) {
            prop_assert_eq!(name.as_str(), text.as_str());
            prop_assert!(text.is_ascii() && text.len() <= MAX_NAME_LEN);
            prop_assert!(!text.contains('%') && !text.contains("//") && !text.contains(".."));
            prop_assert!(!text.starts_with('/') && !text.ends_with('/'));
            prop_assert!(!text.bytes().any(|b| b.is_ascii_uppercase()));
            prop_assert!(name.components().all(|part| !part.is_empty() && part != "." && part != ".."));
        }
        if text.split('/').any(|part| part == ".." || part == ".") || text.contains("//") || text.contains('%') {
            prop_assert!(RepositoryName::parse(&text).is_err());
        }
    }

    #[test]
    fn names_agree_with_oci_spec(text in hostile_name()) {
        prop_assert_eq!(RepositoryName::parse(&text).is_ok(), oci_spec_accepts_name(&text), "{:?}", text);
    }

    #[test]
    fn valid_names_parse_and_any_hostile_piece_breaks_them(
        name in valid_name(),
        piece in prop_oneof![
            Just("/.."), Just("/../"), Just("//"), Just("/"), Just("%2e%2e"), Just("A"), Just("é"), Just(".."),
            Just("-"), Just("."), Just(" "),
        ],
        at_end in any::<bool>(),
    ) {
        prop_assert_eq!(RepositoryName::parse(&name).map(String::from), Ok(name.clone()));
        prop_assert!(oci_spec_accepts_name(&name));
        let broken = if at_end { format!("{name}{piece}") } else { format!("{piece}{name}") };
        prop_assert!(RepositoryName::parse(&broken).is_err(), "{:?}", broken);
    }

    #[test]
    fn over_long_names_are_refused(parts in prop::collection::vec("[a-z0-9]{20,40}", 8..20)) {
        let name = parts.join("/");
        prop_assert_eq!(RepositoryName::parse(&name).is_ok(), name.len() <= MAX_NAME_LEN);
    }

    #[test]
    fn references_are_safe_path_segments(text in hostile_reference()) {
        if let Ok(reference) = Reference::parse(&text) {
            prop_assert_eq!(reference.as_str(), text.as_str());
            prop_assert!(text.is_ascii() && !text.contains('/') && !text.contains('%'));
            prop_assert!(!text.starts_with('.') && !text.starts_with('-'));
        }
    }

    #[test]
    fn tags_agree_with_oci_spec(text in "[A-Za-z0-9_.:/@-]{0,140}") {
        let theirs = oci_spec::distribution::Reference::try_from(format!("example.com/app:{text}").as_str())
            .is_ok_and(|reference| reference.tag() == Some(text.as_str()));
        prop_assert_eq!(Tag::parse(&text).is_ok(), theirs, "{:?}", text);
    }

    #[test]
    fn digests_agree_with_oci_spec(text in hostile_reference()) {
        let known_algorithm = ["sha256:", "sha384:", "sha512:"].iter().any(|a| text.starts_with(a));
        if known_algorithm {
            let theirs = oci_spec::image::Digest::try_from(text.as_str()).is_ok();
            prop_assert_eq!(Digest::parse(&text).is_ok(), theirs, "{:?}", text);
        } else {
            prop_assert!(Digest::parse(&text).is_err());
        }
    }
}
