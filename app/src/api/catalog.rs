use leptos::prelude::*;

use crate::model::{AppError, CatalogPage, CatalogQuery};

/// A page of repositories from the index: search, namespace filter, sort, page.
#[server(prefix = "/api", endpoint = "catalog")]
pub async fn list_repositories(query: CatalogQuery) -> Result<CatalogPage, AppError> {
    use crate::backend::index::queries::{self, CATALOG_PAGE_SIZE};
    use crate::backend::session;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = session::signed_in().await?;
            if query.search.len() > 256 || query.namespace.len() > 256 {
                return Err(AppError::BadRequest(
                    "The search text is too long (at most 256 characters).".into(),
                ));
            }
            if !query.namespace.is_empty() && !crate::names::is_path(&query.namespace, false) {
                return Err(AppError::BadRequest(format!(
                    "{:?} is not a namespace: use lower-case letters, digits, '.', '_', '-' and '/' (e.g. team-a).",
                    query.namespace.chars().take(80).collect::<String>()
                )));
            }
            let rows = queries::catalog(
                &state.db,
                &query,
                &caller.grants.readable(),
                &state.settings.registry_host,
                (&state.catalog_counts, state.sync.index_generation()),
            )
            .await
            .map_err(session::internal)?;
            Ok(CatalogPage {
                repositories: rows.repositories,
                matching: rows.matching,
                total: rows.total,
                page: query.page.max(1),
                page_size: CATALOG_PAGE_SIZE,
                namespaces: rows.namespaces,
                registry_host: state.settings.registry_host.clone(),
                sync: state.sync.status().for_reader(caller.is_administrator()),
                generated_at_ms: crate::backend::db::now_ms(),
            })
        }
        .await,
    )
    .await
}
