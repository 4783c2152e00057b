//! Server functions, one module per area. Thin: authorize, call `backend`, map to a DTO.

pub mod access;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod events;
pub mod gc;
pub mod images;
pub mod insights;
pub mod repository;
pub mod retention;
pub mod sso;
pub mod sync;
pub mod webhooks;
