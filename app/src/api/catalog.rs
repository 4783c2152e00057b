use leptos::prelude::*;

use crate::model::{AppError, CatalogPage};

pub const CATALOG_PAGE_SIZE: usize = 50;

/// A page of repositories, read from the registry's catalog.
#[server(prefix = "/api", endpoint = "catalog")]
pub async fn list_repositories(last: Option<String>) -> Result<CatalogPage, AppError> {
    use crate::backend::{session, AppState};
    use crate::model::RepositoryRow;
    crate::backend::responses::with_status(
        async move {
            let state = AppState::from_context()?;
            let session = leptos_axum::extract::<tower_sessions::Session>().await?;
            session::require_user(&state, &session).await?;
            let registry_host = state.settings.registry_host.clone();
            let last = last.filter(|l| !l.is_empty());
            match state.registry.catalog_page(CATALOG_PAGE_SIZE, last.as_deref()).await {
                Ok((names, next)) => Ok(CatalogPage {
                    repositories: names
                        .into_iter()
                        .map(|name| RepositoryRow {
                            reference: format!("{registry_host}/{name}"),
                            name,
                        })
                        .collect(),
                    next,
                    registry_error: None,
                    registry_host,
                }),
                Err(err) => {
                    tracing::warn!(error = %err, "catalog read failed");
                    Ok(CatalogPage {
                        repositories: Vec::new(),
                        next: None,
                        registry_error: Some(err.to_string()),
                        registry_host,
                    })
                }
            }
        }
        .await,
    )
    .await
}
