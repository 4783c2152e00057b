//! Single sign-on through one OpenID Connect provider (Entra ID, Keycloak, Dex, Google…): its
//! settings, the authorization code flow, who of the provider's users may sign in, and the Wharf
//! users and teams it maps to. Local sign-in stays as the fallback.

pub mod accounts;
pub mod allow_list;
pub mod flow;
pub mod settings;
