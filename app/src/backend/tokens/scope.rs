use serde::{Deserialize, Serialize};

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
}
