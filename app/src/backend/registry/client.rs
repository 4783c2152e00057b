use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{
    HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE, IF_NONE_MATCH, LINK, LOCATION, WWW_AUTHENTICATE,
};
use reqwest::{Method, Response, StatusCode};
use url::Url;

use super::challenge::parse_challenge;
use super::error::RegistryError;
use crate::backend::tokens::{parse_scope, TokenSigner};
use crate::names::{Digest, Reference, RepositoryName};

/// Every manifest GET/HEAD sends all four types, or the registry converts or refuses.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// Key of the token cache entry that holds a Basic authorization (scopes never look like this).
const BASIC_KEY: &str = " basic";

/// The subject of the tokens the console signs for itself.
pub const CONSOLE_SUBJECT: &str = "wharf-console";

/// How long a token the console signed for itself is reused at most.
const MINTED_REUSE_SECS: u64 = 30;
/// Cached authorizations before expired ones are swept out.
const MAX_CACHED_TOKENS: usize = 4096;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub enum RegistryAuth {
    Anonymous,
    /// The console's own access: tokens it signs itself, no round trip.
    Minted(Arc<TokenSigner>),
    /// A user's credentials, answered to the registry's challenge (Bearer via the realm, or Basic).
    Credentials {
        username: String,
        password: String,
    },
}

#[derive(Clone)]
pub struct RegistryClient {
    http: reqwest::Client,
    base: Url,
    auth: RegistryAuth,
    /// Bearer tokens fetched with credentials, by scope.
    tokens: Arc<Mutex<HashMap<String, (String, Instant)>>>,
}

/// A request body that can be sent again after an auth challenge.
pub struct Body {
    pub bytes: Bytes,
    pub content_type: String,
}

impl RegistryClient {
    pub fn new(base: Url, auth: RegistryAuth) -> RegistryClient {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(5))
            .user_agent(concat!("wharf/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("static reqwest client configuration is valid");
        RegistryClient {
            http,
            base,
            auth,
            tokens: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The subject the registry names as the actor of this client's requests (its events'
    /// `actor.name`): none when it sends no credentials.
    pub fn own_subject(&self) -> Option<&str> {
        match &self.auth {
            RegistryAuth::Anonymous => None,
            RegistryAuth::Minted(_) => Some(CONSOLE_SUBJECT),
            RegistryAuth::Credentials { username, .. } => Some(username),
        }
    }

    /// A fixed path of the API (`/v2/`, `/v2/_catalog`), or a `Location` the registry sent.
    fn url(&self, path_and_query: &str) -> Result<Url, RegistryError> {
        self.base
            .join(path_and_query)
            .map_err(|e| RegistryError::Protocol(format!("bad URL {path_and_query}: {e}")))
    }

    /// `/v2/<name>/<tail>`, built from checked parts only: each part is one path segment, so
    /// none of them can climb out of the repository (the grammar has no `..`, `/` or `%`).
    fn repository_url(&self, repository: &RepositoryName, tail: &[&str]) -> Result<Url, RegistryError> {
        let mut url = self.base.clone();
        url.set_query(None);
        url.set_fragment(None);
        url.path_segments_mut()
            .map_err(|()| RegistryError::Protocol(format!("{} cannot hold a path", self.base)))?
            .clear()
            .push("v2")
            .extend(repository.components())
            .extend(tail);
        Ok(url)
    }

    /// Sends a request with the auth this client has, answering one challenge if needed.
    async fn send(
        &self,
        method: Method,
        url: Url,
        scope: &str,
        headers: HeaderMap,
        body: Option<&Body>,
    ) -> Result<Response, RegistryError> {
        let first_auth = self.authorization_for(scope)?;
        let response = self
            .attempt(&method, &url, &headers, body, first_auth.as_deref())
            .await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let RegistryAuth::Credentials { username, password } = &self.auth else {
            return Ok(response);
        };
        let Some(challenge) = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_challenge)
        else {
            return Ok(response);
        };
        let authorization = match challenge.scheme.as_str() {
            "basic" => {
                // Basic answers every scope: send it up front from now on, saving a round trip.
                let value = basic(username, password);
                self.remember_token(BASIC_KEY.to_string(), value.clone(), Duration::from_secs(3600));
                value
            }
            "bearer" => {
                let realm = challenge
                    .params
                    .get("realm")
                    .ok_or_else(|| RegistryError::Protocol("Bearer challenge without realm".into()))?;
                let service = challenge.params.get("service").cloned().unwrap_or_default();
                let scope = challenge
                    .params
                    .get("scope")
                    .cloned()
                    .unwrap_or_else(|| scope.to_string());
                let token = self.fetch_token(realm, &service, &scope, username, password).await?;
                let value = format!("Bearer {token}");
                self.remember_token(scope, value.clone(), Duration::from_secs(50));
                value
            }
            other => return Err(RegistryError::Protocol(format!("unsupported auth scheme {other}"))),
        };
        self.attempt(&method, &url, &headers, body, Some(&authorization)).await
    }

    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        headers: &HeaderMap,
        body: Option<&Body>,
        authorization: Option<&str>,
    ) -> Result<Response, RegistryError> {
        let mut request = self.http.request(method.clone(), url.clone()).headers(headers.clone());
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value);
        }
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, body.content_type.as_str())
                .body(body.bytes.clone());
        }
        request
            .send()
            .await
            .map_err(|e| RegistryError::from_reqwest(self.base.as_str(), e))
    }

    fn authorization_for(&self, scope: &str) -> Result<Option<String>, RegistryError> {
        match &self.auth {
            RegistryAuth::Anonymous => Ok(None),
            RegistryAuth::Minted(signer) => {
                if let Some(value) = self.cached_token(scope) {
                    return Ok(Some(value));
                }
                let access = parse_scope(scope).map_err(|e| RegistryError::Token(e.to_string()))?;
                let token = signer
                    .sign(CONSOLE_SUBJECT, &[access])
                    .map_err(|e| RegistryError::Token(e.to_string()))?;
                let value = format!("Bearer {}", token.token);
                // Reused while well inside its lifetime: a reconcile sends a repository's
                // requests back to back, and signing each one costs more than sending it.
                let reuse = Duration::from_secs((signer.lifetime_secs() / 2).min(MINTED_REUSE_SECS));
                self.remember_token(scope.to_string(), value.clone(), reuse);
                Ok(Some(value))
            }
            RegistryAuth::Credentials { .. } => Ok(self.cached_token(BASIC_KEY).or_else(|| self.cached_token(scope))),
        }
    }

    /// An authorization still valid for `key` (a scope, or [`BASIC_KEY`]).
    fn cached_token(&self, key: &str) -> Option<String> {
        let tokens = self.tokens.lock().expect("token cache lock");
        tokens
            .get(key)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(value, _)| value.clone())
    }

    /// Keeps an authorization for `valid` from now; expired ones are dropped once the cache
    /// holds [`MAX_CACHED_TOKENS`], so walking many repositories does not grow it for good.
    fn remember_token(&self, key: String, value: String, valid: Duration) {
        let mut tokens = self.tokens.lock().expect("token cache lock");
        let now = Instant::now();
        if tokens.len() >= MAX_CACHED_TOKENS {
            tokens.retain(|_, (_, until)| *until > now);
        }
        tokens.insert(key, (value, now + valid));
    }

    async fn fetch_token(
        &self,
        realm: &str,
        service: &str,
        scope: &str,
        username: &str,
        password: &str,
    ) -> Result<String, RegistryError> {
        let mut url = Url::parse(realm).map_err(|e| RegistryError::Protocol(format!("bad realm {realm}: {e}")))?;
        url.query_pairs_mut().append_pair("service", service);
        if !scope.is_empty() {
            url.query_pairs_mut().append_pair("scope", scope);
        }
        let response = self
            .http
            .get(url)
            .basic_auth(username, Some(password))
            .send()
            .await
            .map_err(|e| RegistryError::from_reqwest(realm, e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(RegistryError::Denied {
                status: status.as_u16(),
                body: error_text(response).await,
            });
        }
        #[derive(serde::Deserialize)]
        struct TokenBody {
            token: Option<String>,
            access_token: Option<String>,
        }
        let body: TokenBody = read_json(response, MAX_TOKEN_BYTES, "token response").await?;
        body.token
            .or(body.access_token)
            .ok_or_else(|| RegistryError::Protocol("token response without token".into()))
    }

    /// `GET /v2/`: the registry is up when it answers at all with 200 or 401.
    pub async fn ping(&self) -> Result<(), RegistryError> {
        let url = self.url("/v2/")?;
        let response = self
            .http
            .get(url)
            .timeout(Duration::from_secs(3))
            .send()
            .await
            .map_err(|e| RegistryError::from_reqwest(self.base.as_str(), e))?;
        match response.status() {
            s if s.is_success() || s == StatusCode::UNAUTHORIZED => Ok(()),
            s => Err(RegistryError::Status {
                status: s.as_u16(),
                body: String::new(),
            }),
        }
    }

    /// One page of `/v2/_catalog`; the second value is the `last` cursor of the next page.
    /// Without `n` the registry uses its own page size (asking for more than its `maxentries`
    /// is an error, PAGINATION_NUMBER_INVALID).
    pub async fn catalog_page(
        &self,
        n: Option<usize>,
        last: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), RegistryError> {
        let mut url = self.url("/v2/_catalog")?;
        if let Some(n) = n {
            url.query_pairs_mut().append_pair("n", &n.to_string());
        }
        if let Some(last) = last {
            url.query_pairs_mut().append_pair("last", last);
        }
        let response = self
            .send(Method::GET, url, "registry:catalog:*", HeaderMap::new(), None)
            .await?;
        let response = expect_success(response, "catalog").await?;
        let next = response
            .headers()
            .get(LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(next_last_from_link);
        #[derive(serde::Deserialize)]
        struct Catalog {
            repositories: Option<Vec<String>>,
        }
        let body: Catalog = read_json(response, MAX_LIST_BYTES, "catalog page").await?;
        Ok((body.repositories.unwrap_or_default(), next))
    }

    /// Whether the blob is already in the repository.
    pub async fn blob_exists(&self, repository: &RepositoryName, digest: &Digest) -> Result<bool, RegistryError> {
        let response = self
            .send(
                Method::HEAD,
                self.repository_url(repository, &["blobs", digest.as_str()])?,
                &format!("repository:{repository}:pull,push"),
                HeaderMap::new(),
                None,
            )
            .await?;
        match response.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => expect_success(response, "blob HEAD").await.map(|_| false),
        }
    }

    /// Monolithic upload: POST to open a session, PUT the bytes with the digest.
    pub async fn upload_blob(
        &self,
        repository: &RepositoryName,
        digest: &Digest,
        bytes: Bytes,
    ) -> Result<(), RegistryError> {
        let scope = format!("repository:{repository}:pull,push");
        let opened = self
            .send(
                Method::POST,
                self.repository_url(repository, &["blobs", "uploads", ""])?,
                &scope,
                HeaderMap::new(),
                None,
            )
            .await?;
        let opened = expect_success(opened, "blob upload start").await?;
        let location = opened
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| RegistryError::Protocol("upload without Location".into()))?;
        let mut target = self.url(location)?;
        target.query_pairs_mut().append_pair("digest", digest.as_str());
        let body = Body {
            bytes,
            content_type: "application/octet-stream".into(),
        };
        let done = self
            .send(Method::PUT, target, &scope, HeaderMap::new(), Some(&body))
            .await?;
        expect_success(done, "blob upload").await.map(|_| ())
    }

    /// PUT a manifest under a tag or digest; returns the digest the registry computed.
    pub async fn put_manifest(
        &self,
        repository: &RepositoryName,
        reference: &Reference,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<String, RegistryError> {
        let body = Body {
            bytes,
            content_type: media_type.to_string(),
        };
        let response = self
            .send(
                Method::PUT,
                self.repository_url(repository, &["manifests", reference.as_str()])?,
                &format!("repository:{repository}:pull,push"),
                HeaderMap::new(),
                Some(&body),
            )
            .await?;
        let response = expect_success(response, "manifest upload").await?;
        Ok(header_string(&response, "Docker-Content-Digest"))
    }

    /// GET a manifest by tag or digest: (media type, digest, body).
    pub async fn get_manifest(
        &self,
        repository: &RepositoryName,
        reference: &Reference,
    ) -> Result<(String, String, Bytes), RegistryError> {
        self.manifest_unless(repository, reference, None)
            .await?
            .ok_or_else(|| RegistryError::Protocol("manifest GET answered 304 to an unconditional request".into()))
    }

    /// GET a manifest by tag unless it still is `known` (a digest): `None` when the registry
    /// answers 304 Not Modified to `If-None-Match`, which it does after resolving the tag,
    /// without reading the manifest.
    pub async fn manifest_unless(
        &self,
        repository: &RepositoryName,
        reference: &Reference,
        known: Option<&str>,
    ) -> Result<Option<(String, String, Bytes)>, RegistryError> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, MANIFEST_ACCEPT.parse().expect("static header"));
        if let Some(value) = known.and_then(|digest| format!("\"{digest}\"").parse().ok()) {
            headers.insert(IF_NONE_MATCH, value);
        }
        let response = self
            .send(
                Method::GET,
                self.repository_url(repository, &["manifests", reference.as_str()])?,
                &format!("repository:{repository}:pull"),
                headers,
                None,
            )
            .await?;
        if known.is_some() && response.status() == StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        let response = expect_success(response, "manifest").await?;
        let media_type = header_string(&response, CONTENT_TYPE.as_str());
        let digest = header_string(&response, "Docker-Content-Digest");
        let bytes = read_capped(response, MAX_MANIFEST_BYTES, "manifest").await?;
        Ok(Some((media_type, digest, bytes)))
    }
}

impl RegistryClient {
    /// `GET /v2/<name>/tags/list`: unsorted, and `null` once every tag was deleted.
    pub async fn tags(&self, repository: &RepositoryName) -> Result<Vec<String>, RegistryError> {
        let response = self
            .send(
                Method::GET,
                self.repository_url(repository, &["tags", "list"])?,
                &format!("repository:{repository}:pull"),
                HeaderMap::new(),
                None,
            )
            .await?;
        let response = expect_success(response, "tag list").await?;
        #[derive(serde::Deserialize)]
        struct TagList {
            tags: Option<Vec<String>>,
        }
        let body: TagList = read_json(response, MAX_LIST_BYTES, "tag list").await?;
        Ok(body.tags.unwrap_or_default())
    }

    /// `HEAD` a manifest: the digest a tag points at.
    pub async fn manifest_digest(
        &self,
        repository: &RepositoryName,
        reference: &Reference,
    ) -> Result<String, RegistryError> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, MANIFEST_ACCEPT.parse().expect("static header"));
        let response = self
            .send(
                Method::HEAD,
                self.repository_url(repository, &["manifests", reference.as_str()])?,
                &format!("repository:{repository}:pull"),
                headers,
                None,
            )
            .await?;
        let response = expect_success(response, "manifest HEAD").await?;
        let digest = header_string(&response, "Docker-Content-Digest");
        if digest.is_empty() {
            return Err(RegistryError::Protocol(
                "manifest HEAD without Docker-Content-Digest".into(),
            ));
        }
        Ok(digest)
    }

    /// `GET` a blob of at most `limit` bytes (used for image configs, small JSON documents).
    pub async fn get_blob(
        &self,
        repository: &RepositoryName,
        digest: &Digest,
        limit: u64,
    ) -> Result<Bytes, RegistryError> {
        let response = self
            .send(
                Method::GET,
                self.repository_url(repository, &["blobs", digest.as_str()])?,
                &format!("repository:{repository}:pull"),
                HeaderMap::new(),
                None,
            )
            .await?;
        let response = expect_success(response, "blob").await?;
        read_capped(response, limit, "blob").await
    }

    /// `DELETE` a manifest by digest (the registry refuses deletes by tag).
    pub async fn delete_manifest(&self, repository: &RepositoryName, digest: &Digest) -> Result<(), RegistryError> {
        let response = self
            .send(
                Method::DELETE,
                self.repository_url(repository, &["manifests", digest.as_str()])?,
                &format!("repository:{repository}:delete"),
                HeaderMap::new(),
                None,
            )
            .await?;
        expect_success(response, "manifest delete").await.map(|_| ())
    }
}

/// A response header as a string, empty when absent or not text.
fn header_string(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn basic(username: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
    )
}

async fn expect_success(response: Response, what: &str) -> Result<Response, RegistryError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = error_text(response).await;
    Err(match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => RegistryError::Denied {
            status: status.as_u16(),
            body,
        },
        StatusCode::NOT_FOUND => RegistryError::NotFound(format!("{what}: {body}")),
        _ => RegistryError::Status {
            status: status.as_u16(),
            body: format!("{what}: {body}"),
        },
    })
}

/// The `last` parameter of a `Link: </v2/_catalog?last=x&n=50>; rel="next"` header.
fn next_last_from_link(link: &str) -> Option<String> {
    let start = link.find('<')? + 1;
    let end = link[start..].find('>')? + start;
    let target = Url::parse("http://registry.invalid")
        .ok()?
        .join(&link[start..end])
        .ok()?;
    let last = target
        .query_pairs()
        .find(|(k, _)| k == "last")
        .map(|(_, v)| v.into_owned());
    last
}

/// Largest manifest read (the registry's own limit on pushed manifests is 4 MiB).
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// Largest image config read: a config is a small JSON document; anything bigger is not shown.
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;
/// Largest tag list or catalog page read.
pub const MAX_LIST_BYTES: u64 = 16 << 20;
/// Largest token answer read.
const MAX_TOKEN_BYTES: u64 = 64 << 10;
/// Largest error body read (only its start is shown anyway).
const MAX_ERROR_BYTES: u64 = 4 << 10;

/// The body, read up to `limit` bytes: `TooLarge` as soon as the declared length or the bytes
/// read pass it, without reading the rest.
pub async fn read_capped(mut response: Response, limit: u64, what: &str) -> Result<Bytes, RegistryError> {
    let too_large = || RegistryError::TooLarge {
        what: what.to_string(),
        limit,
    };
    if response.content_length().is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| RegistryError::Protocol(format!("{what}: {e}")))?
    {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// A JSON body of at most `limit` bytes.
async fn read_json<T: serde::de::DeserializeOwned>(
    response: Response,
    limit: u64,
    what: &str,
) -> Result<T, RegistryError> {
    let bytes = read_capped(response, limit, what).await?;
    serde_json::from_slice(&bytes).map_err(|e| RegistryError::Protocol(format!("{what}: {e}")))
}

/// The start of an error body, as text.
async fn error_text(response: Response) -> String {
    let bytes = match read_capped(response, MAX_ERROR_BYTES, "error body").await {
        Ok(bytes) => bytes,
        Err(_) => return "(an error body too large to show)".to_string(),
    };
    String::from_utf8_lossy(&bytes).chars().take(500).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(body: Vec<u8>) -> Response {
        Response::from(axum::http::Response::builder().body(body).unwrap())
    }

    #[tokio::test]
    async fn bodies_are_read_up_to_a_limit() {
        let read = read_capped(response(vec![7; 10]), 10, "manifest").await.unwrap();
        assert_eq!(read.len(), 10);
        let over = read_capped(response(vec![7; 11]), 10, "manifest").await;
        assert!(
            matches!(over, Err(RegistryError::TooLarge { limit: 10, .. })),
            "{over:?}"
        );
        let message = over.unwrap_err().to_string();
        assert!(message.contains("manifest"), "{message}");
        let text = error_text(response(vec![b'e'; 100_000])).await;
        assert_eq!(text, "(an error body too large to show)");
        let short = error_text(response(b"no such tag".to_vec())).await;
        assert_eq!(short, "no such tag");
        let json: Result<Vec<String>, _> = read_json(response(b"[\"a\"]".to_vec()), 100, "list").await;
        assert_eq!(json.unwrap(), ["a"]);
    }

    #[test]
    fn repository_urls_are_built_from_checked_parts() {
        let base = Url::parse("http://127.0.0.1:5000/prefix/?q=1#f").unwrap();
        let client = RegistryClient::new(base, RegistryAuth::Anonymous);
        let name = RepositoryName::parse("team-a/api").unwrap();
        let tag = Reference::parse("v1.2").unwrap();
        let url = client.repository_url(&name, &["manifests", tag.as_str()]).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:5000/v2/team-a/api/manifests/v1.2");
        let uploads = client.repository_url(&name, &["blobs", "uploads", ""]).unwrap();
        assert_eq!(uploads.path(), "/v2/team-a/api/blobs/uploads/");
    }

    proptest::proptest! {
        /// Every checked name and reference lands in the URL exactly as written: nothing is
        /// resolved, encoded or dropped, so the request is for that repository and nothing else.
        #[test]
        fn urls_keep_every_part_literal(
            name in "[a-z0-9]{1,5}((\\.|_|__|-{1,3})[a-z0-9]{1,5}){0,2}(/[a-z0-9]{1,5}((\\.|_|__|-{1,3})[a-z0-9]{1,5}){0,2}){0,4}",
            reference in "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|sha256:[0-9a-f]{64}",
        ) {
            let client = RegistryClient::new(Url::parse("http://127.0.0.1:5000/").unwrap(), RegistryAuth::Anonymous);
            let name = RepositoryName::parse(&name).unwrap();
            let reference = Reference::parse(&reference).unwrap();
            let url = client.repository_url(&name, &["manifests", reference.as_str()]).unwrap();
            proptest::prop_assert_eq!(url.path(), format!("/v2/{name}/manifests/{reference}"));
            proptest::prop_assert_eq!(url.host_str(), Some("127.0.0.1"));
        }
    }

    #[test]
    fn reads_the_next_cursor_from_link() {
        assert_eq!(
            next_last_from_link(r#"</v2/_catalog?last=team%2Fapp&n=50>; rel="next""#).as_deref(),
            Some("team/app")
        );
        assert_eq!(next_last_from_link("garbage"), None);
    }
}
