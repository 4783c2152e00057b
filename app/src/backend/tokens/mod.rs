//! The registry token service: signing keys, scopes, and signed JWTs as CNCF distribution expects
//! them (see REGISTRY.md: ES256, `kid` = libtrust fingerprint, `x5c` with the signing certificate).

mod fingerprint;
pub mod keys;
mod scope;
mod signer;

pub use fingerprint::libtrust_key_id;
pub use keys::{KeyError, SigningKey, CERT_FILE, JWKS_FILE, KEY_FILE};
pub use scope::{parse_scope, ResourceAccess, ScopeError};
pub use signer::{IssuedToken, TokenSigner};
