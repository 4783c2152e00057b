//! One module per page.

pub mod access;
pub mod access_sso;
pub mod audit;
pub mod catalog;
pub mod delete_forms;
pub mod delivery;
pub mod events;
pub mod gc;
pub mod login;
pub mod manifest;
pub mod not_found;
pub mod on_demand;
pub mod profile;
pub mod reference;
pub mod repository;
pub mod repository_access;
pub mod retention;
pub mod settings;
pub mod storage;
pub mod webhook;
pub mod webhook_form;
pub mod webhooks;
