//! The collection procedure for a registry Wharf does not manage, as the page shows it: made
//! read-only, collected (dry first), made writable again, then told to Wharf so the collectable
//! figure starts again from zero.

use crate::model::ProcedureStep;

/// Where the registry's config usually is: the official image's and Debian's package's path.
pub const USUAL_CONFIG: &str = "/etc/docker/registry/config.yml";

/// The steps for the registry at `registry_url` (as Wharf reaches it).
pub fn external_steps(registry_url: &str) -> Vec<ProcedureStep> {
    let step = |text: String, code: &str| ProcedureStep {
        text,
        code: code.to_string(),
    };
    vec![
        step(
            format!(
                "Make the registry at {registry_url} read-only (pulls go on, pushes and deletes are refused): add this to its configuration ({USUAL_CONFIG} in the official image) and restart it."
            ),
            "storage:\n  maintenance:\n    readonly:\n      enabled: true",
        ),
        step(
            "See what the collector would remove, in the registry's container or host (distribution 3 calls the program registry, Debian's 2.8 package docker-registry).".into(),
            &format!("registry garbage-collect --dry-run {USUAL_CONFIG}"),
        ),
        step(
            "Remove it. Never add --delete-untagged: distribution 2.8 then deletes the platform manifests of tagged multi-arch images.".into(),
            &format!("registry garbage-collect {USUAL_CONFIG}"),
        ),
        step(
            "Set readonly back to enabled: false (or remove the section) and restart the registry.".into(),
            "storage:\n  maintenance:\n    readonly:\n      enabled: false",
        ),
        step(
            "Press \"Mark as collected\" below: the collectable figure then starts again from zero.".into(),
            "",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_procedure_names_the_registry_and_never_deletes_untagged_manifests() {
        let steps = external_steps("http://registry.example:5000/");
        assert!(steps[0].text.contains("http://registry.example:5000/"));
        assert!(steps.iter().any(|s| s.code.contains("--dry-run")));
        assert!(steps.iter().all(|s| !s.code.contains("--delete-untagged")));
        assert!(steps.first().unwrap().code.contains("enabled: true"));
        assert!(steps.iter().rev().nth(1).unwrap().code.contains("enabled: false"));
    }
}
