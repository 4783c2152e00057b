//! Garbage collection (administrators): with a registry Wharf manages, run the collector now
//! (dry or real), on a schedule, watch the run live, read the history and each run's log; with
//! one it does not manage, the procedure to follow and the bytes deletions made collectable.
//! The page and the run shown are in the URL (`?page=`, `?run=`), so it works without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::gc::{garbage_collection, gc_run, CancelGc, MarkGcCollected, SaveGcSchedule, StartGc};
use crate::components::copy_button::CopyButton;
use crate::components::error_panel::ErrorPanel;
use crate::components::housekeeping_tabs::HousekeepingTabs;
use crate::components::live::use_live_gc;
use crate::components::pager::Pager;
use crate::format::{grouped, human_size, ms_to_display};
use crate::model::{AppError, GcOverview, GcRunDetail, GcRunView};

/// The page's address with the history page `page` and the run `run` shown.
fn href(page: u32, run: &str) -> String {
    crate::urls::gc(page, run)
}

/// The actions of the page, shared by its parts.
#[derive(Clone, Copy)]
struct Actions {
    start: ServerAction<StartGc>,
    cancel: ServerAction<CancelGc>,
    schedule: ServerAction<SaveGcSchedule>,
    mark: ServerAction<MarkGcCollected>,
}

#[component]
pub fn GcPage() -> impl IntoView {
    let query = use_query_map();
    let page = Memo::new(move |_| {
        query
            .read()
            .get("page")
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(1)
            .max(1)
    });
    let run = Memo::new(move |_| query.read().get("run").unwrap_or_default());
    let actions = Actions {
        start: ServerAction::new(),
        cancel: ServerAction::new(),
        schedule: ServerAction::new(),
        mark: ServerAction::new(),
    };
    let live = use_live_gc();
    let versions = move || {
        (
            actions.start.version().get(),
            actions.cancel.version().get(),
            actions.schedule.version().get(),
            actions.mark.version().get(),
        )
    };
    let data = Resource::new(
        move || (page.get(), live.get(), versions()),
        |(page, _, _)| garbage_collection(page),
    );
    let detail = Resource::new(
        move || (run.get(), live.get()),
        |(run, _)| async move {
            if run.is_empty() {
                Ok(None)
            } else {
                gc_run(run).await.map(Some)
            }
        },
    );
    view! {
        <Title text="Garbage collection"/>
        <h1>"Housekeeping"</h1>
        <HousekeepingTabs/>
        <Transition fallback=|| view! { <p class="loading">"Loading garbage collection…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(overview) => view! { <GcBody overview actions run=run.get_untracked()/> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(Some(detail)) => view! { <RunDetail detail/> }.into_any(),
                    Ok(None) => ().into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn GcBody(overview: GcOverview, actions: Actions, run: String) -> impl IntoView {
    let managed = overview.managed;
    let (page, pages) = (overview.page, overview.pages);
    view! {
        {if managed {
            view! { <ManagedPanel overview=overview.clone() actions/> }.into_any()
        } else {
            view! { <ExternalPanel overview=overview.clone() actions/> }.into_any()
        }}
        <section class="panel">
            <h2>"History"</h2>
            <RunsTable runs=overview.runs page run/>
            <Pager page pages href=move |n| href(n, "")/>
        </section>
    }
}

/// Shows an action's error, if its last call failed.
fn action_error<T: Clone + Send + Sync + 'static>(
    value: impl Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
) -> impl IntoView {
    move || {
        value
            .get()
            .and_then(|r| r.err())
            .map(|error| view! { <ErrorPanel error/> })
    }
}

#[component]
fn ManagedPanel(overview: GcOverview, actions: Actions) -> impl IntoView {
    let storage = overview.storage.clone().unwrap_or_default();
    let status = match overview.running.clone() {
        Some(run) => view! { <RunningState run actions/> }.into_any(),
        None => view! {
            <p role="status" class="gc-status">"No collection is running."</p>
            <StartForms start=actions.start/>
        }
        .into_any(),
    };
    view! {
        <section class="panel gc">
            <h2>"Collect now"</h2>
            <p>
                "Deleting an image removes its manifest; its layers stay in the registry's storage ("
                {storage} ") until the collector removes the blobs nothing references. While it runs the registry is "
                <strong>"read-only"</strong> ": pulls go on, pushes and deletes are refused with the registry's read-only error. "
                "A dry run lists the blobs it would remove and changes nothing."
            </p>
            {status}
            {action_error(actions.start.value())}
            {action_error(actions.cancel.value())}
        </section>
        <ScheduleForm overview action=actions.schedule/>
    }
}

/// The run and dry-run buttons, each behind a disclosure that says what will happen.
#[component]
fn StartForms(start: ServerAction<StartGc>) -> impl IntoView {
    view! {
        <div class="gc-start">
            <details class="confirm">
                <summary>"Dry run…"</summary>
                <ActionForm action=start attr:class="inline">
                    <input type="hidden" name="mode" value="dry-run"/>
                    <span>"List the blobs a collection would remove; nothing is removed and pushes go on."</span>
                    " "
                    <button type="submit">"Start the dry run"</button>
                </ActionForm>
            </details>
            <details class="confirm">
                <summary>"Collect garbage…"</summary>
                <ActionForm action=start attr:class="inline">
                    <input type="hidden" name="mode" value="run"/>
                    <span>"The registry restarts read-only, its collector removes unreferenced blobs, and it restarts read-write. Pushes fail meanwhile."</span>
                    " "
                    <button type="submit" class="danger">"Collect now"</button>
                </ActionForm>
            </details>
        </div>
    }
}

fn phase_text(phase: &str) -> &'static str {
    match phase {
        "read-only" => "making the registry read-only",
        "collecting" => "the collector is running",
        "read-write" => "making the registry read-write again",
        _ => "starting",
    }
}

#[component]
fn RunningState(run: GcRunView, actions: Actions) -> impl IntoView {
    let kind = if run.dry_run { "A dry run" } else { "A collection" };
    let text = format!(
        "{kind} started by {} at {} is running: {}.",
        run.actor,
        ms_to_display(run.started_at_ms),
        phase_text(&run.phase)
    );
    view! {
        <p role="status" class="gc-status running">
            <progress aria-label="Garbage collection running"></progress> " " {text}
        </p>
        <ActionForm action=actions.cancel attr:class="inline">
            <input type="hidden" name="id" value=run.id.clone()/>
            <button type="submit">"Cancel"</button>
        </ActionForm>
    }
}

#[component]
fn ScheduleForm(overview: GcOverview, action: ServerAction<SaveGcSchedule>) -> impl IntoView {
    let next = match (overview.schedule.is_empty(), overview.next_run_at_ms) {
        (true, _) => "No schedule: collections run only when started here.".to_string(),
        (false, Some(at)) => format!(
            "Next run at {} (set by {}).",
            ms_to_display(at),
            overview.schedule_updated_by
        ),
        (false, None) => "The schedule does not fire again.".to_string(),
    };
    view! {
        <section class="panel">
            <h2>"Schedule"</h2>
            <p class="hint">"Cron syntax in UTC: minute hour day month weekday. For example " <code>"0 3 * * 0"</code>
                " (Sundays at 03:00, after a nightly retention run). At most once an hour; empty for none."</p>
            <ActionForm action attr:class="form-row">
                <label>"Schedule "
                    <input type="text" name="schedule" value=overview.schedule.clone() maxlength="100" placeholder="0 3 * * 0"/>
                </label>
                <button type="submit">"Save schedule"</button>
            </ActionForm>
            <p role="status" class="gc-next">{next}</p>
            {action_error(action.value())}
        </section>
    }
}

#[component]
fn ExternalPanel(overview: GcOverview, actions: Actions) -> impl IntoView {
    let collectable = match (overview.collectable_blobs, overview.collectable_bytes) {
        (Some(blobs), Some(bytes)) => format!(
            "Deleted images left {} in {} blobs that the next collection frees.",
            human_size(bytes),
            grouped(blobs)
        ),
        _ => "The bytes that deletions made collectable are not known yet: the index has no table of image layers."
            .into(),
    };
    let steps = overview
        .procedure
        .into_iter()
        .map(|step| {
            let code = (!step.code.is_empty()).then(|| {
                let text = step.code.clone();
                view! { <pre class="commands">{step.code}</pre> <CopyButton text/> }
            });
            view! { <li><p>{step.text}</p> {code}</li> }
        })
        .collect_view();
    view! {
        <section class="panel gc">
            <h2>"Collect by hand"</h2>
            <p>"Wharf does not manage this registry: run its garbage collector as follows."</p>
            <p role="status" class="gc-collectable">{collectable}</p>
            <ol class="procedure">{steps}</ol>
            <details class="confirm">
                <summary>"Mark as collected…"</summary>
                <ActionForm action=actions.mark attr:class="inline">
                    <span>"Only after the collector ran: the collectable figure starts again from zero."</span>
                    " "
                    <button type="submit">"Mark as collected"</button>
                </ActionForm>
            </details>
            {action_error(actions.mark.value())}
        </section>
    }
}

fn outcome(run: &GcRunView) -> String {
    match run.status.as_str() {
        "running" => format!("running ({})", phase_text(&run.phase)),
        "failed" => format!("failed: {}", run.error),
        other if run.error.is_empty() => other.to_string(),
        other => format!("{other}: {}", run.error),
    }
}

fn duration(run: &GcRunView) -> String {
    run.duration_ms()
        .map(|ms| {
            if ms < 1000 {
                format!("{ms} ms")
            } else {
                format!("{:.1} s", ms as f64 / 1000.0)
            }
        })
        .unwrap_or_default()
}

#[component]
fn RunsTable(runs: Vec<GcRunView>, page: u32, run: String) -> impl IntoView {
    if runs.is_empty() {
        return view! { <p class="panel empty">"No collection has run yet."</p> }.into_any();
    }
    let rows = runs
        .into_iter()
        .map(|r| {
            let freed = match (r.dry_run, r.bytes_freed()) {
                (true, _) => "dry run".to_string(),
                (false, Some(bytes)) => human_size(bytes),
                (false, None) => "not measured".to_string(),
            };
            let shown = r.id == run;
            let link = href(page, &r.id);
            view! {
                <tr class:selected=shown>
                    <td class="time">{ms_to_display(r.started_at_ms)}</td>
                    <td>{r.actor.clone()}</td>
                    <td>{if r.dry_run { "dry run" } else { "collection" }}</td>
                    <td class="outcome">{outcome(&r)}</td>
                    <td>{duration(&r)}</td>
                    <td class="number">{grouped(r.blob_count)}</td>
                    <td class="number">{freed}</td>
                    <td><a href=link>"Log"</a></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="data gc-runs">
            <thead>
                <tr>
                    <th scope="col">"Started"</th>
                    <th scope="col">"By"</th>
                    <th scope="col">"Kind"</th>
                    <th scope="col">"Outcome"</th>
                    <th scope="col">"Duration"</th>
                    <th scope="col">"Blobs"</th>
                    <th scope="col">"Freed"</th>
                    <th scope="col"><span class="visually-hidden">"Log"</span></th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

/// Blobs listed on the page at most (the run keeps up to 10,000).
const SHOWN_BLOBS: usize = 200;

#[component]
fn RunDetail(detail: GcRunDetail) -> impl IntoView {
    let run = detail.run;
    let verb = if run.dry_run { "would remove" } else { "removed" };
    let heading = format!(
        "Run of {}: {verb} {} blobs",
        ms_to_display(run.started_at_ms),
        grouped(run.blob_count)
    );
    let space = match (run.bytes_before, run.bytes_after) {
        (Some(before), Some(after)) => format!("Storage before: {}; after: {}.", human_size(before), human_size(after)),
        _ => "Storage not measured (S3: see the blobs and the log).".to_string(),
    };
    let more = detail.blobs.len().saturating_sub(SHOWN_BLOBS);
    let blobs = detail
        .blobs
        .into_iter()
        .take(SHOWN_BLOBS)
        .map(|b| view! { <li><code>{b}</code></li> })
        .collect_view();
    view! {
        <section class="panel gc-run" id="run">
            <h2>{heading}</h2>
            <p>{space} " " {outcome(&run)}</p>
            <ul class="gc-blobs">{blobs}</ul>
            {(more > 0).then(|| view! { <p class="hint">{format!("… and {} more (see the log).", grouped(more as i64))}</p> })}
            <h3>"Collector log"</h3>
            <pre class="response gc-log">{detail.log}</pre>
        </section>
    }
}
