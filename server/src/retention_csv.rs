//! `GET /housekeeping/retention/runs/{id}/items.csv`: every image a retention run decided on,
//! with the rule that decided, as CSV. Streamed a page of rows at a time, so a plan of a
//! million images is never held in memory. Only for those who may manage the run's policy.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::stream;
use tower_sessions::Session;

use app::backend::access::{Action, Scope, Target};
use app::backend::housekeeping::retention::store::{self, ItemFilter, ItemRow};
use app::backend::{session, AppState};
use app::model::AppError;

const PAGE: i64 = 2_000;
const HEADER: [&str; 11] = [
    "repository",
    "digest",
    "tags",
    "size_bytes",
    "pushed_at",
    "last_pulled_at",
    "decision",
    "reason",
    "state",
    "error",
    "seq",
];

pub async fn download(State(state): State<AppState>, session: Session, Path(id): Path<String>) -> Response {
    match allowed(&state, &session, &id).await {
        Ok(()) => {}
        Err(AppError::Unauthorized) => return (StatusCode::UNAUTHORIZED, "sign in first").into_response(),
        Err(AppError::NotFound(_) | AppError::Forbidden(_)) => {
            return (StatusCode::NOT_FOUND, "no such run").into_response()
        }
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
    let first = csv_rows(&[], true);
    let rows = stream::unfold(Some(0i64), move |after| {
        let (state, id) = (state.clone(), id.clone());
        async move {
            let after = after?;
            let mut conn = state.db.pool.acquire().await.ok()?;
            let items = store::items(&mut conn, &id, ItemFilter::All, after, PAGE).await.ok()?;
            let next = (items.len() as i64 == PAGE)
                .then(|| items.last().map(|i| i.seq))
                .flatten();
            (!items.is_empty()).then(|| (Ok::<_, std::io::Error>(csv_rows(&items, false)), next))
        }
    });
    let body = Body::from_stream(futures::StreamExt::chain(stream::once(async move { Ok(first) }), rows));
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"retention-run.csv\"".to_string(),
            ),
        ],
        body,
    )
        .into_response()
}

/// The signed-in caller may delete over all of the run's policy scope.
async fn allowed(state: &AppState, session: &Session, run_id: &str) -> Result<(), AppError> {
    let caller = session::require_caller(state, session).await?;
    let mut conn = state.db.pool.acquire().await.map_err(session::internal)?;
    let run = store::run(&mut conn, run_id).await.map_err(session::internal)?;
    let run = run.ok_or_else(|| AppError::NotFound("run".into()))?;
    let policy = store::policy(&mut conn, &run.policy_id)
        .await
        .map_err(session::internal)?;
    let policy = policy.ok_or_else(|| AppError::NotFound("policy".into()))?;
    let scope = Scope::parse(&policy.scope).map_err(|_| AppError::NotFound("policy".into()))?;
    caller.require(Target::Within(&scope), Action::Delete, "delete images there")
}

fn csv_rows(items: &[ItemRow], header: bool) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if header {
        let _ = writer.write_record(HEADER);
    }
    for item in items {
        let reason = item.reason().map(|r| r.describe()).unwrap_or_default();
        let _ = writer.write_record([
            item.repository.as_str(),
            item.digest.as_str(),
            &item.tags().join(" "),
            &item.size_bytes.to_string(),
            &item.pushed_at.to_string(),
            &item.last_pulled_at.map(|t| t.to_string()).unwrap_or_default(),
            if item.keep == 1 { "keep" } else { "remove" },
            &reason,
            item.state.as_str(),
            item.error.as_deref().unwrap_or(""),
            &item.seq.to_string(),
        ]);
    }
    writer.into_inner().unwrap_or_default()
}
