//! Kubernetes imagePullSecrets for a robot: the `kubectl` command, the Secret manifest with its
//! base64 `.dockerconfigjson`, and the pod spec lines that use it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::model::PullSecretView;

/// The Secret's name: the robot's, as a Kubernetes object name (no `_` or `.` there).
fn secret_name(login: &str) -> String {
    let cleaned: String = login
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{}-pull-secret", cleaned.trim_matches('-'))
}

/// The `.dockerconfigjson` a kubelet reads.
pub fn docker_config_json(registry_host: &str, login: &str, secret: &str) -> String {
    let auth = STANDARD.encode(format!("{login}:{secret}"));
    serde_json::json!({
        "auths": { registry_host: { "username": login, "password": secret, "auth": auth } }
    })
    .to_string()
}

pub fn pull_secret(registry_host: &str, login: &str, secret: &str) -> PullSecretView {
    let name = secret_name(login);
    let encoded = STANDARD.encode(docker_config_json(registry_host, login, secret));
    PullSecretView {
        kubectl: format!(
            "kubectl create secret docker-registry {name} --docker-server={registry_host} \
             --docker-username={login} --docker-password='{secret}'"
        ),
        yaml: format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\ntype: kubernetes.io/dockerconfigjson\n\
             data:\n  .dockerconfigjson: {encoded}\n"
        ),
        pod_spec: format!("spec:\n  imagePullSecrets:\n    - name: {name}\n"),
        secret_name: name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_decodes_to_a_docker_config() {
        let view = pull_secret("registry.example:5000", "robot-ci.1", "wharf_robot_abc-_x");
        assert_eq!(view.secret_name, "robot-ci-1-pull-secret");
        let encoded = view
            .yaml
            .lines()
            .find_map(|l| l.trim().strip_prefix(".dockerconfigjson: "))
            .unwrap();
        let config: serde_json::Value = serde_json::from_slice(&STANDARD.decode(encoded).unwrap()).unwrap();
        let entry = &config["auths"]["registry.example:5000"];
        assert_eq!(entry["username"], "robot-ci.1");
        assert_eq!(entry["password"], "wharf_robot_abc-_x");
        let auth = STANDARD.decode(entry["auth"].as_str().unwrap()).unwrap();
        assert_eq!(auth, b"robot-ci.1:wharf_robot_abc-_x");
        assert!(view.yaml.contains("type: kubernetes.io/dockerconfigjson"));
        assert!(view.kubectl.contains("--docker-server=registry.example:5000"));
        assert!(view.pod_spec.contains("- name: robot-ci-1-pull-secret"));
    }
}
