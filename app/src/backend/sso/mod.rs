//! Single sign-on through one OpenID Connect provider (Entra ID, Keycloak, Dex, Google…): its
//! settings, the authorization code flow, and the Wharf users and teams it maps to. Local
//! sign-in stays as the fallback.

pub mod accounts;
pub mod flow;
pub mod settings;
