//! The `scope` parameter of a token request (distribution's `spec/auth/scope.md`):
//! `repository:team/app:pull,push`. A repository scope's name is checked against the
//! repository-name grammar here, where it enters, so a grant is never signed for a name such as
//! `team-a/../secret/app`.

use serde::{Deserialize, Serialize};

use crate::names::{is_path, RepositoryName};

/// One entry of a token's `access` claim (and one parsed `scope` parameter).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceAccess {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub name: String,
    pub actions: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScopeError {
    #[error("invalid scope {0:?}: expected type:name:actions, e.g. repository:team/app:pull,push")]
    Malformed(String),
    #[error("invalid scope {scope:?}: {reason}")]
    Name { scope: String, reason: String },
}

/// Parses `repository:team/app:pull,push`. The name may itself contain ':' (a registry host with
/// a port), so the type ends at the first ':' and the actions start after the last one.
pub fn parse_scope(scope: &str) -> Result<ResourceAccess, ScopeError> {
    let malformed = || ScopeError::Malformed(scope.to_string());
    let (resource_type, rest) = scope.split_once(':').ok_or_else(malformed)?;
    let (name, actions) = rest.rsplit_once(':').ok_or_else(malformed)?;
    if resource_type.is_empty() || name.is_empty() || !name.chars().all(|c| c.is_ascii_graphic()) {
        return Err(malformed());
    }
    let repository = resource_type == "repository" || resource_type.starts_with("repository(");
    if repository && !valid_repository_name(name) {
        return Err(ScopeError::Name {
            scope: scope.chars().take(80).collect(),
            reason: RepositoryName::parse(name)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default(),
        });
    }
    let mut actions: Vec<String> = actions
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect();
    actions.dedup();
    Ok(ResourceAccess {
        resource_type: resource_type.to_string(),
        name: name.to_string(),
        actions,
    })
}

/// A repository scope's name: a repository name, optionally after a registry host, which the
/// scope grammar allows (`localhost:5000/team/app`). As in distribution's reference parsing, a
/// first part is a host only when it has a `.` or a `:` or is `localhost`.
fn valid_repository_name(name: &str) -> bool {
    is_path(name, false)
        || name
            .split_once('/')
            .is_some_and(|(host, path)| valid_host(host) && is_path(path, false))
}

/// `hostcomponent ('.' hostcomponent)* (':' port)?`, a host component being letters, digits and
/// inner `-`.
fn valid_host(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    let port_ok = port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    let label_ok = |label: &str| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let looks_like_host = host.contains(['.', ':']) || host == "localhost";
    looks_like_host && port_ok && name.split('.').all(label_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_repository_scopes() {
        let parsed = parse_scope("repository:team/app:pull,push").unwrap();
        assert_eq!(parsed.resource_type, "repository");
        assert_eq!(parsed.name, "team/app");
        assert_eq!(parsed.actions, vec!["pull", "push"]);
        let catalog = parse_scope("registry:catalog:*").unwrap();
        assert_eq!(catalog.actions, vec!["*"]);
        let host = parse_scope("repository:localhost:5000/app:pull").unwrap();
        assert_eq!(host.name, "localhost:5000/app");
    }

    #[test]
    fn rejects_malformed_scopes() {
        for bad in [
            "",
            "repository",
            "repository:",
            ":a:pull",
            "repository::pull",
            "repository:a b:pull",
        ] {
            assert!(parse_scope(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn repository_scopes_name_repositories() {
        for good in [
            "repository:a:pull",
            "repository:team-a/api:pull,push",
            "repository(plugin):team/x:pull",
            "repository:localhost:5000/team/app:pull",
            "repository:registry.example.com/app:*",
        ] {
            assert!(parse_scope(good).is_ok(), "{good:?}");
        }
        for bad in [
            "repository:team-a/../secret/app:pull",
            "repository:team-a/%2e%2e/secret/app:pull",
            "repository:team-a//app:pull",
            "repository:Team-a/app:pull",
            "repository:team-a/app/:pull",
            "repository:/team-a/app:pull",
            "repository:localhost:5000/../app:pull",
            "repository:-host/app:pull",
            "repository:host:99999999/app:pull",
        ] {
            let err = parse_scope(bad).unwrap_err().to_string();
            assert!(err.contains("not a valid repository name"), "{bad:?}: {err}");
        }
        assert!(parse_scope("registry:catalog:*").is_ok());
    }
}
