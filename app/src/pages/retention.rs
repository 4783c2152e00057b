//! Retention policies: the list, a policy's form, its dry run (what would go and why each
//! image stays or goes), its runs with live progress, and the items each run decided.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::retention::{
    list_retention_policies, retention_policy_page, retention_run_items, DeleteRetentionPolicy, SaveRetentionPolicy,
    StartRetentionRun,
};
use crate::components::error_panel::ErrorPanel;
use crate::components::housekeeping_tabs::HousekeepingTabs;
use crate::components::live::use_live_housekeeping;
use crate::format::{grouped, human_size, ms_to_display, short_digest};
use crate::model::{RetentionItemView, RetentionPolicyDetail, RetentionPolicyView, RetentionRules, RetentionRunView};
use crate::urls;

#[component]
pub fn RetentionPoliciesPage() -> impl IntoView {
    let live = use_live_housekeeping();
    let overview = Resource::new(move || live.get(), |_| list_retention_policies());
    view! {
        <Title text="Retention"/>
        <HousekeepingTabs/>
        <div class="table-head">
            <h1>"Retention policies"</h1>
            <a class="button primary" href=urls::retention_new("", None)>"New policy"</a>
        </div>
        <p class="hint">
            "Which images to keep in a namespace or a set of repositories; the rest is deleted on a schedule or on demand. "
            "A dry run shows exactly what would go, and why each image stays."
        </p>
        <Transition fallback=|| view! { <p class="loading">"Loading policies…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(o) if o.policies.is_empty() => view! {
                        <div class="panel empty">
                            <p><strong>"No retention policies yet."</strong></p>
                            <p>"Create one, then look at its dry run before anything is deleted."</p>
                        </div>
                    }
                    .into_any(),
                    Ok(o) => view! { <PolicyTable policies=o.policies/> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PolicyTable(policies: Vec<RetentionPolicyView>) -> impl IntoView {
    let rows = policies
        .into_iter()
        .map(|p| {
            let last = p
                .last_run
                .as_ref()
                .map(run_summary)
                .unwrap_or_else(|| "never run".into());
            view! {
                <tr>
                    <td class="name"><a href=urls::retention_policy(&p.id)>{p.name.clone()}</a></td>
                    <td>{p.scope_label.clone()}</td>
                    <td>{p.rules.summary()}</td>
                    <td>{p.schedule_text.clone().unwrap_or_else(|| "on demand".into())}</td>
                    <td>{last}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="data retention-policies">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Scope"</th>
                    <th scope="col">"Rules"</th>
                    <th scope="col">"Schedule"</th>
                    <th scope="col">"Last run"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

fn run_summary(run: &RetentionRunView) -> String {
    let kind = if run.dry_run { "Dry run" } else { "Run" };
    let removed = if run.dry_run {
        run.images_removed
    } else {
        run.images_deleted
    };
    let verb = if run.dry_run { "would remove" } else { "removed" };
    let when = run.finished_at.map(ms_to_display).unwrap_or_else(|| "going".into());
    format!(
        "{kind} {}: {verb} {}, kept {} · {when}",
        run.status,
        grouped(removed),
        grouped(run.images_kept)
    )
}

#[component]
pub fn RetentionPolicyPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").filter(|id| id != "new").unwrap_or_default());
    let save = ServerAction::<SaveRetentionPolicy>::new();
    let start = ServerAction::<StartRetentionRun>::new();
    let live = use_live_housekeeping();
    let page = Resource::new(
        move || (id.get(), save.version().get(), start.version().get(), live.get()),
        |(id, ..)| async move {
            if id.is_empty() {
                Ok(None)
            } else {
                retention_policy_page(id).await.map(Some)
            }
        },
    );
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(saved)) = save.value().get() {
            if id.get_untracked() != saved {
                navigate(&urls::retention_policy(&saved), Default::default());
            }
        }
    });
    view! {
        <Title text="Retention policy"/>
        <HousekeepingTabs/>
        <p class="breadcrumbs"><a href="/housekeeping/retention">"Retention policies"</a></p>
        <Transition fallback=|| view! { <p class="loading">"Loading the policy…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(None) => view! { <h1>"New retention policy"</h1> <PolicyForm policy=None save/> }.into_any(),
                    Ok(Some(detail)) => view! { <PolicyDetail detail save start/> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PolicyDetail(
    detail: RetentionPolicyDetail,
    save: ServerAction<SaveRetentionPolicy>,
    start: ServerAction<StartRetentionRun>,
) -> impl IntoView {
    let policy = detail.policy.clone();
    let running = detail.runs.first().is_some_and(|r| !r.finished());
    let latest = detail.runs.first().cloned();
    let (id_dry, id_run, id_delete) = (policy.id.clone(), policy.id.clone(), policy.id.clone());
    view! {
        <h1>{policy.name.clone()}</h1>
        <p class="hint">
            {policy.scope_label.clone()} " · " {policy.rules.summary()} " · "
            {policy.schedule_text.clone().unwrap_or_else(|| "on demand".into())}
            " · deletes at most " {grouped(policy.max_deletions)} " images per run"
        </p>
        <section class="panel run-buttons">
            <ActionForm action=start attr:class="inline">
                <input type="hidden" name="id" value=id_dry/>
                <input type="hidden" name="dry_run" value="true"/>
                <button type="submit" class="primary" disabled=running>"Dry run"</button>
            </ActionForm>
            <details class="confirm">
                <summary>"Run now…"</summary>
                <ActionForm action=start attr:class="inline">
                    <input type="hidden" name="id" value=id_run/>
                    <input type="hidden" name="dry_run" value="false"/>
                    <span>"Deletes from the registry every image the policy does not keep (up to its cap). Look at a dry run first."</span>
                    " "
                    <button type="submit" class="danger" disabled=running>"Delete what the policy removes"</button>
                </ActionForm>
            </details>
            {move || start.value().get().and_then(|r| r.err()).map(|error| view! { <ErrorPanel error/> })}
        </section>
        {latest.map(|run| view! { <RunPanel run/> })}
        <RunHistory runs=detail.runs.clone()/>
        <details class="panel">
            <summary>"Change the policy"</summary>
            <PolicyForm policy=Some(policy.clone()) save/>
        </details>
        <DeletePolicyForm id=id_delete/>
    }
}

/// The newest run: its progress while it goes, its counts and its items.
#[component]
fn RunPanel(run: RetentionRunView) -> impl IntoView {
    let title = if run.dry_run { "Dry run" } else { "Run" };
    let percent = run.percent();
    let status = run.status.clone();
    let counts = if run.dry_run {
        format!(
            "Would remove {} images ({}; {} freed after garbage collection), keep {}{}.",
            grouped(run.images_removed),
            human_size(run.bytes_removed),
            human_size(run.bytes_freed),
            grouped(run.images_kept),
            skipped_text(&run)
        )
    } else {
        format!(
            "Removed {} of {} images ({}; {} freed after garbage collection), kept {}, failed {}{}.",
            grouped(run.images_deleted),
            grouped(run.images_removed),
            human_size(run.bytes_deleted),
            human_size(run.bytes_freed),
            grouped(run.images_kept),
            grouped(run.images_failed),
            skipped_text(&run)
        )
    };
    view! {
        <section class="panel run" data-status=status.clone()>
            <h2>{title} " · " <span class="run-status">{status.clone()}</span></h2>
            <progress max="100" value=percent aria-label="Run progress">{percent} "%"</progress>
            <p class="run-counts">{counts}</p>
            {run.capped.then(|| view! {
                <p class="warning">"Stopped at the policy's cap: the images over it stay (marked skipped). Run again to go on."</p>
            })}
            {run.error.clone().map(|e| view! { <p class="error">{e}</p> })}
            <RunItems run_id=run.id.clone()/>
        </section>
    }
}

fn skipped_text(run: &RetentionRunView) -> String {
    if run.images_skipped > 0 {
        format!(", skip {}", grouped(run.images_skipped))
    } else {
        String::new()
    }
}

/// The run's decided images, a page at a time, filtered by the `show` query parameter.
#[component]
fn RunItems(run_id: String) -> impl IntoView {
    let query = use_query_map();
    let show = Memo::new(move |_| query.read().get("show").unwrap_or_else(|| "removed".into()));
    let after = Memo::new(move |_| {
        query
            .read()
            .get("after")
            .and_then(|a| a.parse::<i64>().ok())
            .unwrap_or(0)
    });
    let run = run_id.clone();
    let page = Resource::new(
        move || (show.get(), after.get()),
        move |(show, after)| retention_run_items(run.clone(), show, after),
    );
    let tab = move |value: &'static str, label: &'static str| {
        view! { <a href=format!("?show={value}") class:current=move || show.get() == value>{label}</a> }
    };
    view! {
        <nav class="tabs small" aria-label="Which images">
            {tab("removed", "Removed")} " " {tab("kept", "Kept")} " " {tab("all", "All")}
            " · " <a href=urls::retention_items_csv(&run_id) rel="external" download="">"Download CSV"</a>
        </nav>
        <Transition fallback=|| view! { <p class="loading">"Loading images…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(page) if page.items.is_empty() => view! { <p class="muted">"No images here."</p> }.into_any(),
                    Ok(page) => view! { <ItemTable items=page.items next=page.next show=show.get_untracked()/> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ItemTable(items: Vec<RetentionItemView>, next: Option<i64>, show: String) -> impl IntoView {
    let rows = items
        .into_iter()
        .map(|item| {
            let tags = if item.tags.is_empty() { "untagged".to_string() } else { item.tags.join(", ") };
            view! {
                <tr class=if item.keep { "kept" } else { "removed" }>
                    <td><a href=urls::repository(&item.repository)>{item.repository.clone()}</a></td>
                    <td>{tags}</td>
                    <td class="digest"><code title=item.digest.clone()>{short_digest(&item.digest)}</code></td>
                    <td class="num">{human_size(item.size_bytes)}</td>
                    <td class="time">{ms_to_display(item.pushed_at)}</td>
                    <td class="time">{item.last_pulled_at.map(ms_to_display).unwrap_or_else(|| "never".into())}</td>
                    <td>{if item.keep { "keep" } else { "remove" }}</td>
                    <td>{item.reason.clone()}</td>
                    <td>{item.state.clone()} {item.error.clone().map(|e| view! { <div class="error small">{e}</div> })}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="data retention-items">
            <thead>
                <tr>
                    <th scope="col">"Repository"</th>
                    <th scope="col">"Tags"</th>
                    <th scope="col">"Digest"</th>
                    <th scope="col" class="num">"Size"</th>
                    <th scope="col">"Pushed"</th>
                    <th scope="col">"Last pull"</th>
                    <th scope="col">"Decision"</th>
                    <th scope="col">"Why"</th>
                    <th scope="col">"State"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        {next.map(|n| view! { <a class="button" href=format!("?show={show}&after={n}")>"Next page"</a> })}
    }
}

#[component]
fn RunHistory(runs: Vec<RetentionRunView>) -> impl IntoView {
    let rows = runs
        .into_iter()
        .map(|run| {
            let duration = match (run.started_at, run.finished_at) {
                (Some(s), Some(f)) => format!("{:.1} s", (f - s) as f64 / 1000.0),
                _ => "—".into(),
            };
            view! {
                <tr>
                    <td class="time">{ms_to_display(run.requested_at)}</td>
                    <td>{if run.dry_run { "dry run" } else { "run" }}</td>
                    <td>{run.trigger.clone()} " by " {run.actor.clone()}</td>
                    <td>{run.status.clone()}</td>
                    <td class="num">{grouped(if run.dry_run { run.images_removed } else { run.images_deleted })}</td>
                    <td class="num">{grouped(run.images_kept)}</td>
                    <td class="num">{human_size(if run.dry_run { run.bytes_removed } else { run.bytes_deleted })}</td>
                    <td class="num">{duration}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="panel">
            <h2>"Runs"</h2>
            <table class="data retention-runs">
                <thead>
                    <tr>
                        <th scope="col">"Asked for"</th>
                        <th scope="col">"Kind"</th>
                        <th scope="col">"By"</th>
                        <th scope="col">"Outcome"</th>
                        <th scope="col" class="num">"Removed"</th>
                        <th scope="col" class="num">"Kept"</th>
                        <th scope="col" class="num">"Bytes"</th>
                        <th scope="col" class="num">"Duration"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
}

#[component]
fn PolicyForm(policy: Option<RetentionPolicyView>, save: ServerAction<SaveRetentionPolicy>) -> impl IntoView {
    let query = use_query_map();
    let prefill_scope = query.read_untracked().get("scope").unwrap_or_default();
    let prefill_pulled = query.read_untracked().get("pulled_days");
    let rules = policy
        .as_ref()
        .map(|p| p.rules.clone())
        .unwrap_or_else(|| RetentionRules {
            keep_latest: true,
            keep_pulled_days: prefill_pulled.and_then(|d| d.parse().ok()),
            ..Default::default()
        });
    let number = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_default();
    let id = policy.as_ref().map(|p| p.id.clone()).unwrap_or_default();
    let scope = policy.as_ref().map(|p| p.scope.clone()).unwrap_or(prefill_scope);
    view! {
        <ActionForm action=save attr:class="stack retention-form">
            <input type="hidden" name="id" value=id/>
            <label>"Name" <input type="text" name="name" required maxlength="100" value=policy.as_ref().map(|p| p.name.clone())/></label>
            <label>
                "Scope"
                <input type="text" name="scope" maxlength="256" value=scope placeholder="team-a/  or  team-a/api-*  (empty: the whole registry)"/>
            </label>
            <span class="hint">"A namespace ends with " <code>"/"</code> "; a repository glob uses " <code>"*"</code> ". You need to be allowed to delete over all of it."</span>
            <fieldset>
                <legend>"Keep an image when any of these holds"</legend>
                <label>"It is among the last " <input type="number" name="keep_last" min="1" max="10000" value=number(rules.keep_last)/> " pushed of its repository"</label>
                <label>"It was pushed within " <input type="number" name="keep_pushed_days" min="1" max="10000" value=number(rules.keep_pushed_days)/> " days"</label>
                <label>"It was pulled within " <input type="number" name="keep_pulled_days" min="1" max="10000" value=number(rules.keep_pulled_days)/> " days"</label>
                <label>"A tag matches one of these patterns" <textarea name="keep_tags" rows="3" placeholder="v*\n^release-\\d+$">{rules.keep_tags.join("\n")}</textarea></label>
                <span class="hint">"One per line: a glob (" <code>"v*"</code> "), or a regular expression starting with " <code>"^"</code> " (" <code>"^release-\\d+$"</code> ")."</span>
                <label class="check"><input type="checkbox" name="keep_latest" checked=rules.keep_latest/>" Always keep " <code>"latest"</code></label>
            </fieldset>
            <label class="check"><input type="checkbox" name="remove_untagged" checked=rules.remove_untagged/>" Remove untagged images (not part of a kept multi-platform image)"</label>
            <label>
                "Schedule"
                <input type="text" name="schedule" maxlength="100" value=policy.as_ref().and_then(|p| p.schedule.clone()) placeholder="0 3 * * *  (empty: on demand only)"/>
            </label>
            <span class="hint">"Cron: minute hour day-of-month month day-of-week, in UTC."</span>
            <label>"Delete at most " <input type="number" name="max_deletions" min="1" max="100000" value=policy.as_ref().map(|p| p.max_deletions).unwrap_or(1000)/> " images per run"</label>
            <button type="submit" class="primary">"Save policy"</button>
            {move || save.value().get().and_then(|r| r.err()).map(|error| view! { <ErrorPanel error/> })}
        </ActionForm>
    }
}

#[component]
fn DeletePolicyForm(id: String) -> impl IntoView {
    let delete = ServerAction::<DeleteRetentionPolicy>::new();
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            navigate("/housekeeping/retention", Default::default());
        }
    });
    view! {
        <section class="panel">
            <details class="delete">
                <summary>"Delete this policy…"</summary>
                <ActionForm action=delete attr:class="delete-form">
                    <input type="hidden" name="id" value=id/>
                    <p>"Its run history goes with it. Images are not touched."</p>
                    <button type="submit" class="danger">"Delete policy"</button>
                </ActionForm>
                {move || delete.value().get().and_then(|r| r.err()).map(|error| view! { <ErrorPanel error/> })}
            </details>
        </section>
    }
}
