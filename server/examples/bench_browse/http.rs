//! A signed-in HTTP session against a running Wharf: page GETs and server function calls, each
//! with a timeout. The session cookie is kept by hand (no cookie store needed).

use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, ACCEPT_ENCODING, CONTENT_ENCODING, COOKIE, REFERER, SET_COOKIE};
use reqwest::redirect::Policy;

/// Upper bound on any single request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const SESSION_COOKIE: &str = "wharf_session";

/// One answered request.
pub struct Answer {
    pub status: u16,
    /// Bytes on the wire (compressed when the server compressed).
    pub body: Vec<u8>,
    pub content_encoding: Option<String>,
    pub elapsed: Duration,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub struct Session {
    client: reqwest::Client,
    base: String,
    cookie: String,
}

/// A client without redirects (the sign-in answer carries the cookie) and with timeouts.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .redirect(Policy::none())
        .build()
        .expect("static client configuration")
}

impl Session {
    /// Signs in as `admin` through the login server function, like the login form does.
    pub async fn sign_in(base: &str, password: &str) -> Result<Session, String> {
        let client = client();
        let base = base.trim_end_matches('/').to_string();
        let response = client
            .post(format!("{base}/api/login"))
            .header(REFERER, format!("{base}/login"))
            .form(&[("username", "admin"), ("password", password)])
            .send()
            .await
            .map_err(|e| format!("sign-in request to {base} failed: {e}"))?;
        let status = response.status();
        let cookie = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .find(|pair| pair.starts_with(&format!("{SESSION_COOKIE}=")))
            .map(str::to_string);
        match cookie {
            Some(cookie) if status.is_success() || status.is_redirection() => Ok(Session { client, base, cookie }),
            _ => Err(format!(
                "sign-in as admin answered {status} without a session cookie: is the password right?"
            )),
        }
    }

    /// GET a path; `encoding` is sent as `Accept-Encoding` (the body stays compressed).
    pub async fn get(&self, path: &str, encoding: Option<&str>) -> Result<Answer, String> {
        let mut request = self
            .client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie);
        if let Some(encoding) = encoding {
            request = request.header(ACCEPT_ENCODING, encoding);
        }
        self.finish(request, path).await
    }

    /// Calls a server function the way the hydrated app does: form-encoded, JSON back.
    pub async fn call(&self, endpoint: &str, form: &[(&str, &str)], encoding: Option<&str>) -> Result<Answer, String> {
        let mut request = self
            .client
            .post(format!("{}/api/{endpoint}", self.base))
            .header(COOKIE, &self.cookie)
            .header(ACCEPT, "application/json")
            .form(form);
        if let Some(encoding) = encoding {
            request = request.header(ACCEPT_ENCODING, encoding);
        }
        self.finish(request, &format!("/api/{endpoint}")).await
    }

    /// Calls a server function and parses its JSON answer (uncompressed), failing on non-200.
    pub async fn call_json(&self, endpoint: &str, form: &[(&str, &str)]) -> Result<serde_json::Value, String> {
        let answer = self.call(endpoint, form, None).await?;
        if answer.status != 200 {
            return Err(format!("/api/{endpoint} answered {}: {}", answer.status, answer.text()));
        }
        serde_json::from_slice(&answer.body).map_err(|e| format!("/api/{endpoint} did not answer JSON: {e}"))
    }

    async fn finish(&self, request: reqwest::RequestBuilder, what: &str) -> Result<Answer, String> {
        let started = Instant::now();
        let response = request.send().await.map_err(|e| format!("{what}: {e}"))?;
        let status = response.status().as_u16();
        let content_encoding = response
            .headers()
            .get(CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("{what}: body: {e}"))?
            .to_vec();
        Ok(Answer {
            status,
            body,
            content_encoding,
            elapsed: started.elapsed(),
        })
    }
}

/// Waits (bounded) until `GET /healthz` answers 200.
pub async fn wait_healthy(base: &str, limit: Duration) -> Result<(), String> {
    let client = client();
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(response) = client.get(format!("{base}/healthz")).send().await {
            if response.status().is_success() {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(format!("{base}/healthz did not answer 200 within {limit:?}"))
}
