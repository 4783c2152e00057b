//! Storage insights for anyone signed in, over the repositories they may read.

use leptos::prelude::*;

use crate::model::{AppError, StorageInsights, UnpulledPage, UnpulledQuery};

/// The storage page's figures: bytes per namespace and repository, each blob once, shared
/// bytes, growth and pushes per day.
#[server(prefix = "/api", endpoint = "storage_insights")]
pub async fn read_storage_insights() -> Result<StorageInsights, AppError> {
    use crate::backend::housekeeping::insights::read;
    use crate::backend::session;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = session::signed_in().await?;
            let figures = read::insights(&state.db, &caller.grants.readable(), crate::backend::db::now_ms()).await?;
            Ok(figures)
        }
        .await,
    )
    .await
}

/// A page of the images not pulled (nor pushed) for 90 days, oldest push first.
#[server(prefix = "/api", endpoint = "unpulled_images")]
pub async fn list_unpulled_images(query: UnpulledQuery) -> Result<UnpulledPage, AppError> {
    use crate::backend::housekeeping::insights::read;
    use crate::backend::session;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = session::signed_in().await?;
            if query.namespace.len() > 256 || query.page > 100_000 {
                return Err(AppError::BadRequest(
                    "The namespace is too long (at most 256 characters) or the page too far.".into(),
                ));
            }
            if !query.namespace.is_empty() && !crate::names::is_path(&query.namespace, false) {
                return Err(AppError::BadRequest(format!(
                    "{:?} is not a namespace: use lower-case letters, digits, '.', '_', '-' and '/' (e.g. team-a).",
                    query.namespace.chars().take(80).collect::<String>()
                )));
            }
            let page = read::unpulled(
                &state.db,
                &caller.grants.readable(),
                &query,
                crate::backend::db::now_ms(),
            )
            .await?;
            Ok(page)
        }
        .await,
    )
    .await
}
