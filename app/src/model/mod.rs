//! Data shapes shared by server functions and views: serde only, no server dependencies.

mod catalog;
mod error;
mod events;
mod session;

pub use catalog::{CatalogPage, RepositoryRow};
pub use error::AppError;
pub use events::{EventRow, EventsPage};
pub use session::CurrentUser;
