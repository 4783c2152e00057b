//! Who may sign in through the provider, beyond the provider's own yes: an optional list of
//! provider groups and one of e-mail domains, checked at every single sign-on (not only the
//! first), so leaving the group or the company closes the console too. An empty list allows
//! everyone; with both lists set, a user must pass both.

use super::flow::Identity;
use super::settings::SsoSettings;

/// At most this many entries per list, each at most `MAX_ENTRY` characters.
pub const MAX_ENTRIES: usize = 100;
pub const MAX_ENTRY: usize = 256;

/// Why the allow-list refuses a sign-in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{username} is in none of the provider groups allowed to sign in to Wharf; ask an administrator")]
    Group { username: String },
    #[error("{username}'s e-mail address is not in a domain allowed to sign in to Wharf; ask an administrator")]
    Domain { username: String },
    #[error("the provider sent no verified e-mail address for {username}, and Wharf allows sign-in by e-mail domain; ask an administrator")]
    NoEmail { username: String },
}

/// The entries of a stored or typed list: one a line (commas separate too), trimmed, no empties.
pub fn entries(text: &str) -> Vec<String> {
    text.split(['\n', ','])
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(str::to_string)
        .collect()
}

/// A domain as typed (`@corp.example`, `Corp.Example`) in the form it is compared.
pub fn normalized_domain(domain: &str) -> String {
    domain.trim().trim_start_matches('@').to_lowercase()
}

/// The refusal for `identity`, or `None` when the settings allow it.
pub fn refusal(settings: &SsoSettings, identity: &Identity) -> Option<Refusal> {
    let username = identity.username.clone();
    let groups = entries(&settings.allowed_groups);
    if !groups.is_empty() && !identity.groups.iter().any(|group| groups.contains(group)) {
        return Some(Refusal::Group { username });
    }
    let domains: Vec<String> = entries(&settings.allowed_domains)
        .iter()
        .map(|d| normalized_domain(d))
        .collect();
    if domains.is_empty() {
        return None;
    }
    let Some(email) = identity.email.as_deref() else {
        return Some(Refusal::NoEmail { username });
    };
    let domain = email.rsplit_once('@').map(|(_, domain)| domain.to_lowercase());
    match domain {
        Some(domain) if domains.contains(&domain) => None,
        _ => Some(Refusal::Domain { username }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(groups: &[&str], email: Option<&str>) -> Identity {
        Identity {
            subject: "iss|1".into(),
            username: "ann".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            email: email.map(str::to_string),
        }
    }

    fn settings(groups: &str, domains: &str) -> SsoSettings {
        SsoSettings {
            allowed_groups: groups.into(),
            allowed_domains: domains.into(),
            ..Default::default()
        }
    }

    #[test]
    fn empty_lists_allow_everyone() {
        assert_eq!(refusal(&settings("", " \n "), &identity(&[], None)), None);
    }

    #[test]
    fn groups_need_one_match() {
        let by_group = settings("wharf-users\n platform ", "");
        assert_eq!(refusal(&by_group, &identity(&["other", "platform"], None)), None);
        assert!(matches!(
            refusal(&by_group, &identity(&["Platform", "wharf"], None)),
            Some(Refusal::Group { .. })
        ));
    }

    #[test]
    fn domains_match_the_whole_domain() {
        let by_domain = settings("", "@Corp.Example, partner.example");
        assert_eq!(refusal(&by_domain, &identity(&[], Some("ann@corp.example"))), None);
        assert_eq!(refusal(&by_domain, &identity(&[], Some("ann@partner.example"))), None);
        for email in [
            "ann@evilcorp.example",
            "ann@corp.example.evil",
            "ann@sub.corp.example",
            "corp.example",
        ] {
            assert!(
                matches!(
                    refusal(&by_domain, &identity(&[], Some(email))),
                    Some(Refusal::Domain { .. })
                ),
                "{email}"
            );
        }
        assert!(matches!(
            refusal(&by_domain, &identity(&[], None)),
            Some(Refusal::NoEmail { .. })
        ));
    }

    #[test]
    fn both_lists_must_pass() {
        let both = settings("devs", "corp.example");
        assert_eq!(refusal(&both, &identity(&["devs"], Some("ann@corp.example"))), None);
        assert!(refusal(&both, &identity(&["devs"], Some("ann@other.example"))).is_some());
        assert!(refusal(&both, &identity(&["ops"], Some("ann@corp.example"))).is_some());
    }
}
