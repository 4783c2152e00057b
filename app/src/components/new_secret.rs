//! A secret shown once (a robot's secret, a personal access token, a generated password): the
//! value with a copy button, the `docker login` line, and for robots the Kubernetes
//! imagePullSecret three ways, each to copy or download.

use leptos::prelude::*;

use crate::components::copy_button::CopyButton;
use crate::format::percent_encode;
use crate::model::{NewSecret, PullSecretView};

#[component]
pub fn NewSecretPanel(secret: NewSecret) -> impl IntoView {
    let pull_secret = secret.pull_secret.clone().map(|view| view! { <PullSecret view/> });
    view! {
        <div class="panel secret-once" role="status">
            <p>
                <strong>{format!("The secret for {} is shown once.", secret.login)}</strong>
                " Copy it now: Wharf keeps only a hash, so it cannot show it again."
            </p>
            <div class="copy-row">
                <code class="secret-value">{secret.secret.clone()}</code>
                <CopyButton text=secret.secret.clone() label="Copy secret"/>
            </div>
            <p class="muted small">"Log in with it (paste the secret at the password prompt):"</p>
            <div class="copy-row">
                <code>{secret.docker_login.clone()}</code>
                <CopyButton text=secret.docker_login.clone() label="Copy command"/>
            </div>
            {pull_secret}
        </div>
    }
}

#[component]
fn PullSecret(view: PullSecretView) -> impl IntoView {
    let block = |title: &'static str, text: String, file: String| {
        let href = format!("data:text/plain;charset=utf-8,{}", percent_encode(&text, true));
        view! {
            <div class="snippet">
                <div class="snippet-head">
                    <strong>{title}</strong>
                    <CopyButton text=text.clone()/>
                    <a class="button small" href=href download=file>"Download"</a>
                </div>
                <pre><code>{text}</code></pre>
            </div>
        }
    };
    view! {
        <h3>"Kubernetes imagePullSecret"</h3>
        <p class="muted small">
            "Create the Secret " <code>{view.secret_name.clone()}</code>
            " in the namespace of the pods that pull, either with kubectl or from the manifest, then reference it from the pod spec."
        </p>
        {block("kubectl", view.kubectl.clone(), format!("{}.sh", view.secret_name))}
        {block("Secret manifest", view.yaml.clone(), format!("{}.yaml", view.secret_name))}
        {block("Pod spec", view.pod_spec.clone(), "pod-spec-snippet.yaml".to_string())}
    }
}
