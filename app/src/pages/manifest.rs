//! One manifest: for an index its platforms, for an image its config, history and layers (like
//! `docker inspect` and `docker history`), annotations, and the raw JSON with digests as links.

use leptos::prelude::*;
use leptos_meta::Title;

use super::catalog::repository_href;
use super::not_found::NotFound;
use super::reference::manifest_href;
use crate::api::repository::manifest;
use crate::components::copy_button::CopyButton;
use crate::components::error_panel::ErrorPanel;
use crate::components::pull_commands::PullCommands;
use crate::components::sync_banner::StaleBanner;
use crate::components::time::{CreatedAt, LastPull};
use crate::format::{human_size, short_digest};
use crate::model::{AppError, ImageConfigView, ImageDetail, Label, ManifestView, PlatformRow};

#[component]
pub fn ManifestPage(repository: String, reference: String) -> impl IntoView {
    let source = (repository.clone(), reference.clone());
    let data = Resource::new(
        move || source.clone(),
        |(repository, reference)| manifest(repository, reference),
    );
    let repo_href = repository_href(&repository);
    let title = format!("{repository}@{}", short_digest(&reference));
    view! {
        <Title text=title/>
        <nav class="breadcrumbs" aria-label="Breadcrumbs">
            <a href="/">"Catalog"</a>
            " / "
            <a href=repo_href>{repository.clone()}</a>
            " / "
            <span>{short_digest(&reference)}</span>
        </nav>
        <Transition fallback=|| view! { <p class="loading">"Loading the manifest…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view_data) => view! { <ManifestBody view_data/> }.into_any(),
                    Err(AppError::NotFound(_)) => view! { <NotFound/> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ManifestBody(view_data: ManifestView) -> impl IntoView {
    let ManifestView {
        repository,
        registry_host,
        digest,
        media_type,
        manifest_size,
        kind,
        tags,
        platforms,
        image,
        annotations,
        subject,
        attachments,
        raw,
        warnings,
        sync,
        pulls,
        generated_at_ms,
    } = view_data;
    let heading = match kind.as_str() {
        "index" => "Multi-platform image",
        "image" => "Image",
        _ => "Manifest",
    };
    let config_digest = image
        .as_ref()
        .and_then(|i| i.config.as_ref())
        .map(|c| c.config_digest.clone());
    let manifest_digests: Vec<String> = platforms
        .iter()
        .map(|p| p.digest.clone())
        .chain(subject.clone())
        .collect();
    let facts = view! {
        {warnings
            .into_iter()
            .map(|w| view! { <div class="banner banner-warning" role="status">{w}</div> })
            .collect_view()}
        <dl class="facts panel">
            <dt>"Digest"</dt>
            <dd><code>{digest.clone()}</code> <CopyButton text=digest.clone()/></dd>
            <dt>"Media type"</dt>
            <dd><code>{media_type}</code></dd>
            <dt>"Manifest size"</dt>
            <dd>{human_size(manifest_size)}</dd>
            <dt>"Tags"</dt>
            <dd>
                {if tags.is_empty() {
                    view! { <span class="muted">"none"</span> }.into_any()
                } else {
                    tags.iter().map(|t| view! { <span class="tag">{t.clone()}</span> }).collect_view().into_any()
                }}
            </dd>
            <dt>"Last pulled"</dt>
            <dd><LastPull pulls now_ms=generated_at_ms/></dd>
            {subject.clone().map(|s| view! {
                <dt>"Refers to"</dt>
                <dd><a href=manifest_href(&repository, &s)><code>{s.clone()}</code></a></dd>
            })}
            {(!attachments.is_empty()).then(|| view! {
                <dt>"Attached"</dt>
                <dd>
                    {attachments.iter().map(|a| view! {
                        <a class=format!("badge badge-{}", a.kind) href=manifest_href(&repository, &a.digest) title=a.tag.clone()>{a.kind.clone()}</a>
                    }).collect_view()}
                </dd>
            })}
        </dl>
    }
    .into_any();
    view! {
        <StaleBanner status=sync/>
        <h1>{heading} " " <code class="digest-title">{short_digest(&digest)}</code></h1>
        {facts}
        {(kind == "index").then(|| view! { <Platforms repository=repository.clone() platforms=platforms.clone()/> })}
        {image.map(|image| view! { <ImageSections image/> }.into_any())}
        <Annotations annotations/>
        <PullCommands host=registry_host repository=repository.clone() tag=tags.first().cloned() digest=Some(digest.clone())/>
        <section>
            <h2>"Raw manifest"</h2>
            <RawJson raw repository manifest_digests config_digest/>
        </section>
    }
}

#[component]
fn Platforms(repository: String, platforms: Vec<PlatformRow>) -> impl IntoView {
    view! {
        <section>
            <h2>"Platforms"</h2>
            <table class="data platforms">
                <thead>
                    <tr>
                        <th scope="col">"Platform"</th>
                        <th scope="col">"Digest"</th>
                        <th scope="col" class="num">"Size"</th>
                    </tr>
                </thead>
                <tbody>
                    {platforms
                        .into_iter()
                        .map(|p| {
                            view! {
                                <tr>
                                    <td>{p.label()}</td>
                                    <td><a href=manifest_href(&repository, &p.digest)><code>{short_digest(&p.digest)}</code></a></td>
                                    <td class="num">{human_size(p.size)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn ImageSections(image: ImageDetail) -> impl IntoView {
    let ImageDetail {
        config,
        history,
        layers,
        total_size,
    } = image;
    view! {
        {config.map(|config| view! { <ConfigSection config/> })}
        <section>
            <h2>"History"</h2>
            {if history.is_empty() {
                view! { <p class="muted">"The image config has no history."</p> }.into_any()
            } else {
                view! {
                    <table class="data history">
                        <thead>
                            <tr>
                                <th scope="col">"Created"</th>
                                <th scope="col">"Created by"</th>
                                <th scope="col" class="num">"Size"</th>
                                <th scope="col">"Layer"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {history
                                .into_iter()
                                .map(|step| {
                                    view! {
                                        <tr class:empty-layer=step.empty_layer>
                                            <td><CreatedAt created=step.created/></td>
                                            <td><code class="created-by">{step.created_by}</code>{step.comment.map(|c| view! { <div class="muted">{c}</div> })}</td>
                                            <td class="num">{match step.layer_size { Some(s) => human_size(s), None => "0 B".to_string() }}</td>
                                            <td>{step.layer_digest.map(|d| view! { <a href=format!("#layer-{}", anchor(&d))><code>{short_digest(&d)}</code></a> })}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                }
                .into_any()
            }}
        </section>
        <section>
            <h2>"Layers " <span class="muted">{format!("({} · {} with config)", layers.len(), human_size(total_size))}</span></h2>
            <table class="data layers">
                <thead>
                    <tr>
                        <th scope="col">"#"</th>
                        <th scope="col">"Digest"</th>
                        <th scope="col">"Media type"</th>
                        <th scope="col" class="num">"Size"</th>
                        <th scope="col" class="num">"Cumulative"</th>
                    </tr>
                </thead>
                <tbody>
                    {layers
                        .into_iter()
                        .enumerate()
                        .map(|(i, layer)| {
                            view! {
                                <tr id=format!("layer-{}", anchor(&layer.digest))>
                                    <td class="num">{i + 1}</td>
                                    <td><code title=layer.digest.clone()>{short_digest(&layer.digest)}</code></td>
                                    <td><code>{layer.media_type}</code></td>
                                    <td class="num">{human_size(layer.size)}</td>
                                    <td class="num">{human_size(layer.cumulative)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
    }
}

/// The hex part of a digest, for element ids.
fn anchor(digest: &str) -> String {
    digest.split_once(':').map(|(_, hex)| hex).unwrap_or(digest).to_string()
}

#[component]
fn ConfigSection(config: ImageConfigView) -> impl IntoView {
    let platform = match &config.variant {
        Some(v) => format!("{}/{}/{}", config.os, config.architecture, v),
        None => format!("{}/{}", config.os, config.architecture),
    };
    let list = |items: Vec<String>| {
        if items.is_empty() {
            view! { <span class="muted">"—"</span> }.into_any()
        } else {
            view! { <ul class="plain">{items.into_iter().map(|i| view! { <li><code>{i}</code></li> }).collect_view()}</ul> }.into_any()
        }
    };
    let command = |items: Vec<String>| {
        if items.is_empty() {
            view! { <span class="muted">"—"</span> }.into_any()
        } else {
            view! { <code>{serde_json::to_string(&items).unwrap_or_default()}</code> }.into_any()
        }
    };
    let optional = |value: Option<String>| match value {
        Some(v) => view! { <code>{v}</code> }.into_any(),
        None => view! { <span class="muted">"—"</span> }.into_any(),
    };
    let section_id = format!("blob-{}", anchor(&config.config_digest));
    view! {
        <section id=section_id>
            <h2>"Config"</h2>
            <dl class="facts panel">
                <dt>"Platform"</dt><dd>{platform}</dd>
                <dt>"Created"</dt><dd><CreatedAt created=config.created/></dd>
                <dt>"Author"</dt><dd>{optional(config.author)}</dd>
                <dt>"Entrypoint"</dt><dd>{command(config.entrypoint)}</dd>
                <dt>"Command"</dt><dd>{command(config.cmd)}</dd>
                <dt>"Working directory"</dt><dd>{optional(config.working_dir)}</dd>
                <dt>"User"</dt><dd>{optional(config.user)}</dd>
                <dt>"Exposed ports"</dt><dd>{list(config.exposed_ports)}</dd>
                <dt>"Volumes"</dt><dd>{list(config.volumes)}</dd>
                <dt>"Environment"</dt><dd>{list(config.env)}</dd>
                <dt>"Config digest"</dt><dd><code>{config.config_digest}</code></dd>
            </dl>
            <LabelTable title="Labels" labels=config.labels/>
        </section>
    }
}

#[component]
fn Annotations(annotations: Vec<Label>) -> impl IntoView {
    (!annotations.is_empty()).then(|| view! { <section><LabelTable title="Annotations" labels=annotations/></section> })
}

/// Key/value pairs; values are text (never HTML), and links only for web addresses.
#[component]
fn LabelTable(title: &'static str, labels: Vec<Label>) -> impl IntoView {
    (!labels.is_empty()).then(|| {
        view! {
            <h3>{title}</h3>
            <table class="data labels-table">
                <tbody>
                    {labels
                        .into_iter()
                        .map(|label| {
                            view! {
                                <tr>
                                    <th scope="row"><code>{label.key}</code></th>
                                    <td>
                                        {match label.link {
                                            Some(href) => view! { <a href=href rel="noopener noreferrer nofollow">{label.value}</a> }.into_any(),
                                            None => view! { <span>{label.value}</span> }.into_any(),
                                        }}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        }
    })
}

/// The raw manifest; `sha256:` digests of manifests link to their page, the config digest to the
/// Config section, others to their layer row.
#[component]
fn RawJson(
    raw: String,
    repository: String,
    manifest_digests: Vec<String>,
    config_digest: Option<String>,
) -> impl IntoView {
    let pieces = split_digests(&raw);
    view! {
        <pre class="raw-json">
            {pieces
                .into_iter()
                .map(|(text, is_digest)| {
                    if !is_digest {
                        view! { <span>{text}</span> }.into_any()
                    } else if manifest_digests.contains(&text) {
                        view! { <a href=manifest_href(&repository, &text)>{text.clone()}</a> }.into_any()
                    } else if config_digest.as_ref() == Some(&text) {
                        view! { <a href=format!("#blob-{}", anchor(&text))>{text.clone()}</a> }.into_any()
                    } else {
                        view! { <a href=format!("#layer-{}", anchor(&text))>{text.clone()}</a> }.into_any()
                    }
                })
                .collect_view()}
        </pre>
    }
}

/// Splits text into (piece, is_digest) around every `sha256:<64 hex>`.
pub fn split_digests(text: &str) -> Vec<(String, bool)> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("sha256:") {
        let candidate = &rest[start..];
        let hex_len = candidate[7..].bytes().take_while(|b| b.is_ascii_hexdigit()).count();
        if hex_len == 64 {
            if start > 0 {
                pieces.push((rest[..start].to_string(), false));
            }
            pieces.push((candidate[..71].to_string(), true));
            rest = &candidate[71..];
        } else {
            pieces.push((rest[..start + 7].to_string(), false));
            rest = &candidate[7..];
        }
    }
    if !rest.is_empty() {
        pieces.push((rest.to_string(), false));
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::split_digests;

    #[test]
    fn finds_digests_in_text() {
        let d = format!("sha256:{}", "a".repeat(64));
        let text = format!("{{\"digest\": \"{d}\", \"x\": \"sha256:short\"}}");
        let pieces = split_digests(&text);
        assert_eq!(pieces.iter().filter(|(_, is)| *is).count(), 1);
        assert_eq!(pieces.iter().map(|(t, _)| t.as_str()).collect::<String>(), text);
    }
}
