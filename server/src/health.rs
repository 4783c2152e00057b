//! `/healthz`: the process answers. `/readyz`: the database and the registry answer too.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;

use app::backend::AppState;

pub async fn healthz() -> impl IntoResponse {
    "ok"
}

pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let (database, registry) = tokio::join!(state.db.ping(), state.registry.ping());
    // The reasons go to the log, not to whoever asks (they can hold addresses and names).
    let database = database.map_err(|e| {
        tracing::warn!(error = %e, "readyz: database unavailable");
        "unavailable".to_string()
    });
    let registry = registry.map_err(|e| {
        tracing::warn!(error = %e, "readyz: registry unavailable");
        "unavailable".to_string()
    });
    let status = if database.is_ok() && registry.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let describe = |r: &Result<(), String>| match r {
        Ok(()) => "ok".to_string(),
        Err(e) => e.clone(),
    };
    (
        status,
        Json(serde_json::json!({"database": describe(&database), "registry": describe(&registry)})),
    )
}
