//! `/r/<repository>`, `/r/<repository>:<tag>` and `/r/<repository>@<digest>`: the address of a
//! repository or one of its manifests, written like a Docker image reference.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::manifest::ManifestPage;
use super::not_found::NotFound;
use super::repository::RepositoryPage;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Repository(String),
    /// (repository, tag or digest)
    Manifest(String, String),
}

/// Splits the path after `/r/`; `None` when it cannot be a repository name.
pub fn parse_reference(path: &str) -> Option<Reference> {
    let path = path.trim_matches('/');
    if path.is_empty() || path.len() > 512 {
        return None;
    }
    let (repository, reference) = if let Some((repo, digest)) = path.split_once('@') {
        (repo, Some(digest))
    } else {
        match path.rsplit_once('/') {
            Some((_, last)) if last.contains(':') => {
                let (tag_at, _) = path.rmatch_indices(':').next()?;
                (&path[..tag_at], Some(&path[tag_at + 1..]))
            }
            None if path.contains(':') => path.split_once(':').map(|(r, t)| (r, Some(t)))?,
            _ => (path, None),
        }
    };
    let valid_name = !repository.is_empty()
        && repository.split('/').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        });
    if !valid_name {
        return None;
    }
    match reference {
        None => Some(Reference::Repository(repository.to_string())),
        Some(r) if !r.is_empty() && r.len() <= 200 && !r.contains('/') => {
            Some(Reference::Manifest(repository.to_string(), r.to_string()))
        }
        Some(_) => None,
    }
}

pub use crate::urls::manifest as manifest_href;

#[component]
pub fn ReferencePage() -> impl IntoView {
    let params = use_params_map();
    let reference = Memo::new(move |_| parse_reference(&params.read().get("path").unwrap_or_default()));
    move || match reference.get() {
        Some(Reference::Repository(name)) => view! { <RepositoryPage name/> }.into_any(),
        Some(Reference::Manifest(repository, reference)) => view! { <ManifestPage repository reference/> }.into_any(),
        None => view! { <NotFound/> }.into_any(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        assert_eq!(
            parse_reference("team/app"),
            Some(Reference::Repository("team/app".into()))
        );
        assert_eq!(
            parse_reference("team/app:1.0"),
            Some(Reference::Manifest("team/app".into(), "1.0".into()))
        );
        assert_eq!(
            parse_reference("alpine:latest"),
            Some(Reference::Manifest("alpine".into(), "latest".into()))
        );
        assert_eq!(
            parse_reference("a/b@sha256:abc"),
            Some(Reference::Manifest("a/b".into(), "sha256:abc".into()))
        );
        assert_eq!(parse_reference(""), None);
        assert_eq!(parse_reference("Team/App"), None);
        assert_eq!(parse_reference("a//b"), None);
        assert_eq!(parse_reference("a/<script>"), None);
    }
}
