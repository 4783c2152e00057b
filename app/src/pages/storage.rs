//! Housekeeping → Storage: where the registry's bytes are, each blob counted once, what is
//! shared, how it grew, pushes per day, and the images nobody pulled for 90 days (with a link
//! to a retention dry run for them). Over what the reader may see. Charts are SVG drawn on the
//! server (`components::charts`), each with its exact figures in a table.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::insights::{list_unpulled_images, read_storage_insights};
use crate::components::charts::{Bar, BarChart, DailyChart, DailyKind, DailyValue};
use crate::components::error_panel::ErrorPanel;
use crate::components::housekeeping_tabs::HousekeepingTabs;
use crate::format::{count, grouped, human_size, ms_to_display};
use crate::model::{DayPoint, StorageInsights, UnpulledImage, UnpulledPage, UnpulledQuery};
use crate::urls;

#[component]
pub fn StoragePage() -> impl IntoView {
    let query = use_query_map();
    let unpulled_query = Memo::new(move |_| {
        let map = query.read();
        UnpulledQuery {
            namespace: map.get("namespace").unwrap_or_default(),
            page: map.get("page").and_then(|p| p.parse().ok()).unwrap_or(1),
        }
    });
    let figures = Resource::new(|| (), |_| read_storage_insights());
    let unpulled = Resource::new(move || unpulled_query.get(), list_unpulled_images);
    view! {
        <Title text="Storage"/>
        <h1>"Housekeeping"</h1>
        <HousekeepingTabs/>
        <Transition fallback=|| view! { <p class="loading">"Loading the storage figures…"</p> }>
            {move || Suspend::new(async move {
                match figures.await {
                    Ok(figures) => view! { <StorageFigures figures/> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
        <section id="unpulled" class="storage-section">
            <h2>"Images not pulled for 90 days"</h2>
            <Transition fallback=|| view! { <p class="loading">"Looking for images nobody pulled…"</p> }>
                {move || Suspend::new(async move {
                    match unpulled.await {
                        Ok(page) => view! { <UnpulledSection page/> }.into_any(),
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn StorageFigures(figures: StorageInsights) -> impl IntoView {
    let computing = figures.computing.then(|| {
        view! {
            <p class="banner" role="status">
                "The figures are being brought up to date with the latest pushes and deletes; reload in a moment."
            </p>
        }
    });
    if figures.namespaces.is_empty() && figures.total_bytes == 0 {
        return view! {
            {computing}
            <p class="panel empty">
                "No image you can see holds any bytes yet. Push an image and its layers show here."
            </p>
        }
        .into_any();
    }
    view! {
        {computing}
        <StorageSummary figures=figures.clone()/>
        <NamespaceSection figures=figures.clone()/>
        <LargestSection figures=figures.clone()/>
        <DailySections figures/>
    }
    .into_any()
}

#[component]
fn StorageSummary(figures: StorageInsights) -> impl IntoView {
    let seen = if figures.whole_registry {
        "The whole registry".to_string()
    } else {
        "The repositories you can read".to_string()
    };
    let updated = (figures.updated_at_ms > 0).then(|| format!("Updated {}.", ms_to_display(figures.updated_at_ms)));
    view! {
        <div class="stat-cards">
            <div class="stat-card">
                <span class="stat-label">"Stored"</span>
                <strong class="stat-value" data-bytes=figures.total_bytes>{human_size(figures.total_bytes)}</strong>
                <span class="muted">{format!("{} bytes, each layer once", grouped(figures.total_bytes))}</span>
            </div>
            <div class="stat-card">
                <span class="stat-label">"Shared"</span>
                <strong class="stat-value" data-bytes=figures.shared_bytes>{human_size(figures.shared_bytes)}</strong>
                <span class="muted">"in layers more than one repository holds"</span>
            </div>
            <div class="stat-card">
                <span class="stat-label">"Repositories"</span>
                <strong class="stat-value">{grouped(figures.repositories)}</strong>
                <span class="muted">{count(figures.namespace_count, "namespace", "namespaces")}</span>
            </div>
        </div>
        <p class="hint">{seen} ". Sizes are compressed layer and config bytes as the registry stores them; "
            "a layer shared by several images or repositories is counted once. " {updated}</p>
    }
}

#[component]
fn NamespaceSection(figures: StorageInsights) -> impl IntoView {
    let bars = figures
        .namespaces
        .iter()
        .map(|n| Bar {
            label: namespace_label(&n.namespace),
            value: n.bytes,
            part: n.shared_bytes,
        })
        .collect();
    let more = (figures.namespace_count > figures.namespaces.len() as i64).then(|| {
        view! { <p class="hint">{format!("The {} largest of {}.", figures.namespaces.len(), grouped(figures.namespace_count))}</p> }
    });
    let rows = figures
        .namespaces
        .into_iter()
        .map(|n| {
            let partial = n.partial.then(|| view! { " " <span class="badge" title="You can read only some of its repositories: the figures are over those.">"in part"</span> });
            let href = urls::storage_unpulled(&n.namespace, 1);
            view! {
                <tr>
                    <td><a href=href title="Images not pulled for 90 days in this namespace">{namespace_label(&n.namespace)}</a>{partial}</td>
                    <td class="num">{human_size(n.bytes)}</td>
                    <td class="num">{human_size(n.shared_bytes)}</td>
                    <td class="num">{grouped(n.repositories)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="storage-section" id="namespaces">
            <h2>"Storage per namespace"</h2>
            <ChartLegend part="shared with other repositories"/>
            <BarChart bars title="Bytes per namespace, each layer once" part_name="shared"/>
            {more}
            <table class="data storage-namespaces">
                <thead><tr><th scope="col">"Namespace"</th><th scope="col" class="num">"Stored"</th>
                    <th scope="col" class="num">"Shared"</th><th scope="col" class="num">"Repositories"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
}

fn namespace_label(namespace: &str) -> String {
    if namespace.is_empty() {
        "(top level)".to_string()
    } else {
        format!("{namespace}/")
    }
}

#[component]
fn ChartLegend(#[prop(into)] part: String) -> impl IntoView {
    view! {
        <p class="chart-legend">
            <span class="swatch swatch-own"></span>" only here  "
            <span class="swatch swatch-part"></span>" " {part}
        </p>
    }
}

#[component]
fn LargestSection(figures: StorageInsights) -> impl IntoView {
    let bars = figures
        .largest
        .iter()
        .map(|r| Bar {
            label: r.repository.clone(),
            value: r.bytes,
            part: r.shared_bytes,
        })
        .collect();
    let rows = figures
        .largest
        .into_iter()
        .map(|r| {
            let href = urls::repository(&r.repository);
            view! {
                <tr>
                    <td><a href=href>{r.repository}</a></td>
                    <td class="num">{human_size(r.bytes)}</td>
                    <td class="num">{human_size(r.shared_bytes)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="storage-section" id="largest">
            <h2>"Largest repositories"</h2>
            <ChartLegend part="shared with other repositories"/>
            <BarChart bars title="The largest repositories, each layer once" part_name="shared"/>
            <table class="data storage-largest">
                <thead><tr><th scope="col">"Repository"</th><th scope="col" class="num">"Stored"</th>
                    <th scope="col" class="num">"Shared"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
}

fn day_label(day: i64) -> String {
    ms_to_display(day * crate::model::DAY_MS).chars().take(10).collect()
}

#[component]
fn DailySections(figures: StorageInsights) -> impl IntoView {
    let note = figures.days_partial.then(|| {
        view! { <p class="hint">"Growth and pushes cover the namespaces you can read in full; those you see in part are left out."</p> }
    });
    let bytes: Vec<DailyValue> = daily(&figures.days, |d| d.bytes);
    let pushes: Vec<DailyValue> = daily(&figures.days, |d| Some(d.pushes));
    let total_pushes: i64 = figures.days.iter().map(|d| d.pushes).sum();
    let recorded = figures.days.iter().any(|d| d.bytes.is_some());
    view! {
        <section class="storage-section" id="growth">
            <h2>"Growth over time"</h2>
            {note}
            {if recorded {
                view! { <DailyChart days=bytes.clone() kind=DailyKind::Bytes title="Bytes stored per day, last 90 days"/> }.into_any()
            } else {
                view! { <p class="panel empty">"No day recorded yet: the first point appears after the figures' first refresh."</p> }.into_any()
            }}
            <DailyTable days=bytes kind=DailyKind::Bytes caption="Bytes stored at the end of each day"/>
        </section>
        <section class="storage-section" id="pushes">
            <h2>"Pushes per day"</h2>
            <p class="hint">{format!("{} in the last 90 days (tags pushed, counted as the registry reports them).", count(total_pushes, "push", "pushes"))}</p>
            <DailyChart days=pushes.clone() kind=DailyKind::Count title="Tags pushed per day, last 90 days"/>
            <DailyTable days=pushes kind=DailyKind::Count caption="Tags pushed each day"/>
        </section>
    }
}

fn daily(days: &[DayPoint], value: impl Fn(&DayPoint) -> Option<i64>) -> Vec<DailyValue> {
    days.iter()
        .map(|d| DailyValue {
            label: day_label(d.day),
            value: value(d),
        })
        .collect()
}

/// The exact figures of a daily chart, newest first, days without a value left out.
#[component]
fn DailyTable(days: Vec<DailyValue>, kind: DailyKind, #[prop(into)] caption: String) -> impl IntoView {
    let rows = days
        .into_iter()
        .rev()
        .filter(|d| d.value.is_some_and(|v| kind == DailyKind::Bytes || v > 0))
        .map(|d| {
            let value = d.value.unwrap_or_default();
            let shown = match kind {
                DailyKind::Bytes => format!("{} ({} bytes)", human_size(value), grouped(value)),
                DailyKind::Count => grouped(value),
            };
            view! { <tr><td>{d.label}</td><td class="num">{shown}</td></tr> }
        })
        .collect_view();
    view! {
        <details class="chart-figures">
            <summary>{format!("{caption}: exact figures")}</summary>
            <table class="data">
                <thead><tr><th scope="col">"Day (UTC)"</th><th scope="col" class="num">"Value"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </details>
    }
}

#[component]
fn UnpulledSection(page: UnpulledPage) -> impl IntoView {
    let dry_run = page.scope.clone().map(|scope| {
        let href = urls::retention_new(&scope, u32::try_from(page.days).ok());
        let label = if scope.is_empty() {
            "the whole registry".to_string()
        } else {
            scope
        };
        view! { <a class="button" href=href rel="external">{format!("Dry run of a retention policy for {label}")}</a> }
    });
    let filter = (!page.namespace.is_empty()).then(|| {
        let all = urls::storage_unpulled("", 1);
        view! { <p class="hint">{format!("In {}/ only. ", page.namespace)} <a href=all>"Show all namespaces"</a></p> }
    });
    let choose = page.scope.is_none().then(|| {
        view! { <p class="hint">"Pick a namespace above to open a retention dry run for it."</p> }
    });
    let pager = unpulled_pager(&page);
    view! {
        <p class="hint">"Pushed more than 90 days ago and not pulled since (or never): candidates for a retention policy with a “pulled within 90 days” rule."</p>
        {filter}
        <p>{dry_run}</p>
        {choose}
        {if page.images.is_empty() {
            view! { <p class="panel empty">"Every image you can see was pushed or pulled in the last 90 days."</p> }.into_any()
        } else {
            view! { <UnpulledTable images=page.images/> }.into_any()
        }}
        {pager}
    }
}

fn unpulled_pager(page: &UnpulledPage) -> impl IntoView {
    let previous = (page.page > 1).then(|| urls::storage_unpulled(&page.namespace, page.page - 1));
    let next = page
        .has_more
        .then(|| urls::storage_unpulled(&page.namespace, page.page + 1));
    (previous.is_some() || next.is_some()).then(|| {
        view! {
            <nav class="pager" aria-label="Pages">
                {previous.map(|h| view! { <a href=h rel="prev">"← Previous"</a> })}
                <span class="muted">{format!("Page {}", page.page)}</span>
                {next.map(|h| view! { <a href=h rel="next">"Next →"</a> })}
            </nav>
        }
    })
}

#[component]
fn UnpulledTable(images: Vec<UnpulledImage>) -> impl IntoView {
    let rows = images
        .into_iter()
        .map(|image| {
            let href = urls::tag(&image.repository, &image.tag);
            let more = (image.other_tags > 0).then(|| format!(" +{}", count(image.other_tags, "tag", "tags")));
            let pulled = image
                .last_pulled_at_ms
                .map(ms_to_display)
                .unwrap_or_else(|| "never".to_string());
            view! {
                <tr>
                    <td><a href=href>{format!("{}:{}", image.repository, image.tag)}</a><span class="muted">{more}</span></td>
                    <td>{ms_to_display(image.pushed_at_ms)}</td>
                    <td>{pulled}</td>
                    <td class="num">{human_size(image.size)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="data storage-unpulled">
            <thead><tr><th scope="col">"Image"</th><th scope="col">"Pushed"</th><th scope="col">"Last pulled"</th>
                <th scope="col" class="num">"Size"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
