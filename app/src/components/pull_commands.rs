use leptos::prelude::*;

use super::copy_button::CopyButton;

/// Commands that fetch an image: `docker`, `podman`, `skopeo` and a Kubernetes Deployment, by
/// tag and pinned by digest, each with a copy button.
#[component]
pub fn PullCommands(host: String, repository: String, tag: Option<String>, digest: Option<String>) -> impl IntoView {
    let by_tag = tag.as_ref().map(|t| format!("{host}/{repository}:{t}"));
    let by_digest = digest.as_ref().map(|d| format!("{host}/{repository}@{d}"));
    let app_name = repository.rsplit('/').next().unwrap_or("app").to_string();
    let local_name = repository.replace('/', "-");
    let mut commands: Vec<(String, String)> = Vec::new();
    for (suffix, reference) in [("", &by_tag), (" (pinned)", &by_digest)] {
        let Some(reference) = reference else { continue };
        commands.push((format!("docker{suffix}"), format!("docker pull {reference}")));
        commands.push((format!("podman{suffix}"), format!("podman pull {reference}")));
        commands.push((
            format!("skopeo{suffix}"),
            format!("skopeo copy docker://{reference} oci:{local_name}"),
        ));
    }
    let deployment_image = by_digest.clone().or(by_tag.clone()).unwrap_or_default();
    let deployment = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {app_name}\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: {app_name}\n  template:\n    metadata:\n      labels:\n        app: {app_name}\n    spec:\n      imagePullSecrets:\n        - name: wharf-pull\n      containers:\n        - name: {app_name}\n          image: {deployment_image}\n"
    );
    view! {
        <section class="pull-commands" aria-label="Pull commands">
            <h2>"Pull"</h2>
            <table class="commands-table">
                <tbody>
                    {commands
                        .into_iter()
                        .map(|(tool, command)| {
                            view! {
                                <tr>
                                    <th scope="row">{tool}</th>
                                    <td><code>{command.clone()}</code></td>
                                    <td><CopyButton text=command/></td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
            <details>
                <summary>"Kubernetes Deployment"</summary>
                <p class="hint">
                    "The secret "<code>"wharf-pull"</code>" holds registry credentials (a robot account's imagePullSecret)."
                </p>
                <pre class="yaml">{deployment.clone()}</pre>
                <CopyButton text=deployment label="Copy YAML"/>
            </details>
        </section>
    }
}
