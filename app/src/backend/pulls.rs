//! Pull tracking: each pull of a manifest that the registry reports updates one row of
//! `manifest_pulls` (its last pull time, and one more pull), so the table stays as big as the
//! index however many pulls there are. Retention's "pulled within" rule and the storage pages
//! read it; the repository and manifest pages show it.
//!
//! - Only manifests count (a blob download is part of the same pull), and only clients: the
//!   console's own reads (reconcile, page views) carry its own token subject, or, against a
//!   registry without auth, no subject and the console's user agent.
//! - A pull event that does not name a manifest properly (bad name or digest, no target, a blob
//!   media type, oversized values) is dropped with a debug log: never quarantined, never an error
//!   for the envelope, since the registry reports one for every manifest GET and HEAD.
//! - Pulls are not written to the intake journal: they are added up in memory and written at
//!   most once a second ([`FLUSH_EVERY`]), one upsert per (repository, manifest) pulled since,
//!   all in one transaction. A crash loses at most that last second of counts; a shutdown writes
//!   them first. A pull count is an indication for retention, not a ledger: that trade keeps the
//!   intake cost of a pull a map update instead of a disk write.
//! - `pull_count` counts downloads (GET); a HEAD (a client checking whether its copy is current,
//!   as `docker pull` does before it downloads) moves `last_pulled_at` only, so one `docker pull`
//!   counts once.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::db::{now_ms, Db};
use crate::names::{Digest, RepositoryName};

/// The media types of manifests (what a pull is of); anything else is a blob.
pub const MANIFEST_MEDIA_TYPES: [&str; 6] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];

/// Pulls added up in memory are written this often.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Manifests pulled since the last write, at most: more are written at once.
const MAX_PENDING: usize = 4096;
/// Rows per upsert statement (4 parameters each, well under SQLite's and PostgreSQL's limits).
const ROWS_PER_STATEMENT: usize = 200;
/// Longest actor name or user agent kept from an event.
const MAX_TEXT: usize = 256;
/// The console's user agent on registry requests (see `registry::client`).
const CONSOLE_AGENT: &str = "wharf/";

/// One pull of a manifest, as the registry reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    pub repository: RepositoryName,
    pub digest: Digest,
    /// When it happened (the event's timestamp), Unix milliseconds.
    pub at_ms: i64,
    /// A HEAD request: a pull time, not a download.
    pub head: bool,
    /// The token subject; empty for an anonymous client.
    pub actor: String,
    pub user_agent: String,
}

/// Whether a raw event of an envelope is a pull (and so goes to [`parse`], not to the store).
pub fn is_pull(raw: &Value) -> bool {
    raw.get("action").and_then(Value::as_str) == Some("pull")
}

/// Reads a pull event; the error says why it is not a pull of a manifest Wharf can record.
pub fn parse(raw: &Value) -> Result<Pull, String> {
    let target = raw.get("target").filter(|t| t.is_object()).ok_or("no target")?;
    let media_type = text(target, "mediaType")?.ok_or("no target.mediaType")?;
    if !MANIFEST_MEDIA_TYPES.contains(&media_type) {
        return Err("the target is not a manifest".into());
    }
    let repository =
        RepositoryName::parse(text(target, "repository")?.ok_or("no target.repository")?).map_err(|e| e.to_string())?;
    let digest = Digest::parse(text(target, "digest")?.ok_or("no target.digest")?).map_err(|e| e.to_string())?;
    let timestamp = text(raw, "timestamp")?.ok_or("no timestamp")?;
    let at = time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("the timestamp is not RFC 3339: {e}"))?;
    let request = raw.get("request");
    let method = request.map(|r| text(r, "method")).transpose()?.flatten();
    let user_agent = request.map(|r| text(r, "useragent")).transpose()?.flatten();
    let actor = raw.get("actor").map(|a| text(a, "name")).transpose()?.flatten();
    Ok(Pull {
        repository,
        digest,
        at_ms: i64::try_from(at.unix_timestamp_nanos() / 1_000_000).map_err(|_| "the timestamp is out of range")?,
        head: method == Some("HEAD"),
        actor: actor.unwrap_or_default().to_string(),
        user_agent: user_agent.unwrap_or_default().to_string(),
    })
}

/// The string field `name` of `object` (none when absent or null); an error when it is not a
/// string or longer than any value Wharf keeps.
fn text<'a>(object: &'a Value, name: &str) -> Result<Option<&'a str>, String> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) if value.len() <= MAX_TEXT => Ok(Some(value.as_str())),
        Some(Value::String(_)) => Err(format!("\"{name}\" is longer than {MAX_TEXT} bytes")),
        Some(_) => Err(format!("\"{name}\" is not a string")),
    }
}

/// Who the console is in the registry's events.
#[derive(Debug, Clone, Default)]
pub struct ConsoleIdentity {
    /// The subject of the console's registry requests (`wharf-console` for the tokens it signs,
    /// or the user it signs in to an external registry as); none when it sends no credentials.
    pub subject: Option<String>,
}

impl ConsoleIdentity {
    /// A pull the console made itself: its subject, or no subject and its user agent.
    pub fn made(&self, pull: &Pull) -> bool {
        if pull.actor.is_empty() {
            return pull.user_agent.starts_with(CONSOLE_AGENT);
        }
        self.subject.as_deref() == Some(pull.actor.as_str())
    }
}

/// One row's change: the latest pull time and how many downloads to add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counted {
    last_pulled_at: i64,
    pulls: i64,
}

/// Pulls added up by (repository, digest) until they are written.
#[derive(Debug, Default)]
struct Pending(HashMap<(String, String), Counted>);

impl Pending {
    fn add(&mut self, pull: &Pull, now: i64) {
        // A clock ahead of ours must not make an image look pulled in the future.
        let at = pull.at_ms.min(now);
        let downloads = i64::from(!pull.head);
        self.merge(
            (pull.repository.as_str().to_string(), pull.digest.as_str().to_string()),
            Counted {
                last_pulled_at: at,
                pulls: downloads,
            },
        );
    }

    fn merge(&mut self, key: (String, String), counted: Counted) {
        let entry = self.0.entry(key).or_insert(Counted {
            last_pulled_at: counted.last_pulled_at,
            pulls: 0,
        });
        entry.last_pulled_at = entry.last_pulled_at.max(counted.last_pulled_at);
        entry.pulls += counted.pulls;
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// The upsert of `rows` rows: the later pull time wins, the counts add up. (`CASE` rather than
/// `MAX`/`GREATEST`, which SQLite and PostgreSQL spell differently.)
fn upsert_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|i| format!("(${}, ${}, ${}, ${})", 4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4))
        .collect();
    format!(
        "INSERT INTO manifest_pulls (repository, digest, last_pulled_at, pull_count) VALUES {} \
         ON CONFLICT (repository, digest) DO UPDATE SET \
         last_pulled_at = CASE WHEN excluded.last_pulled_at > manifest_pulls.last_pulled_at \
         THEN excluded.last_pulled_at ELSE manifest_pulls.last_pulled_at END, \
         pull_count = manifest_pulls.pull_count + excluded.pull_count",
        values.join(", ")
    )
}

/// Writes the pending pulls in one transaction (one upsert per [`ROWS_PER_STATEMENT`] rows;
/// each (repository, digest) once, as PostgreSQL wants in one statement).
async fn write(db: &Db, pending: &Pending) -> Result<(), sqlx::Error> {
    if pending.0.is_empty() {
        return Ok(());
    }
    let rows: Vec<(&(String, String), &Counted)> = pending.0.iter().collect();
    let mut tx = db.begin_write().await?;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = upsert_sql(chunk.len());
        let mut query = sqlx::query(&sql).persistent(chunk.len() == ROWS_PER_STATEMENT);
        for ((repository, digest), counted) in chunk {
            query = query
                .bind(repository.as_str())
                .bind(digest.as_str())
                .bind(counted.last_pulled_at)
                .bind(counted.pulls);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await
}

enum Message {
    Pulls(Vec<Pull>),
    /// Write what is pending now, then answer.
    Flush(oneshot::Sender<()>),
}

/// Takes in pulls and writes them, added up, once a second (see the module docs).
pub struct PullRecorder {
    sender: mpsc::Sender<Message>,
    console: ConsoleIdentity,
}

impl PullRecorder {
    /// Starts the writer task; it writes what is pending and ends when the recorder is dropped.
    pub fn start(db: Db, console: ConsoleIdentity) -> PullRecorder {
        let (sender, receiver) = mpsc::channel(1024);
        tokio::spawn(write_pulls(db, receiver));
        PullRecorder { sender, console }
    }

    /// Takes in an envelope's pulls; returns how many count (not the console's own). When the
    /// writer is this far behind, they are dropped with a warning (pull counts are lossy by
    /// design, and the registry must never wait for them).
    pub fn record(&self, pulls: Vec<Pull>) -> usize {
        let counted: Vec<Pull> = pulls.into_iter().filter(|pull| !self.console.made(pull)).collect();
        let count = counted.len();
        if count == 0 {
            return 0;
        }
        if self.sender.try_send(Message::Pulls(counted)).is_err() {
            tracing::warn!(pulls = count, "the pull counter is behind; pulls not counted");
        }
        count
    }

    /// Writes the pulls taken in so far (at shutdown).
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

/// The writer task: adds up pulls, writes them every [`FLUSH_EVERY`], when [`MAX_PENDING`]
/// manifests wait, when asked, and at the end.
async fn write_pulls(db: Db, mut receiver: mpsc::Receiver<Message>) {
    let mut pending = Pending::default();
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = receiver.recv() => match message {
                None => {
                    write_pending(&db, &mut pending).await;
                    return;
                }
                Some(Message::Pulls(pulls)) => {
                    let now = now_ms();
                    pulls.iter().for_each(|pull| pending.add(pull, now));
                    if pending.len() >= MAX_PENDING {
                        write_pending(&db, &mut pending).await;
                    }
                }
                Some(Message::Flush(done)) => {
                    write_pending(&db, &mut pending).await;
                    let _ = done.send(());
                }
            },
            _ = tick.tick() => write_pending(&db, &mut pending).await,
        }
    }
}

/// Writes and empties `pending`; on failure keeps it for the next round unless it is full.
async fn write_pending(db: &Db, pending: &mut Pending) {
    if pending.len() == 0 {
        return;
    }
    let started = std::time::Instant::now();
    match write(db, pending).await {
        Ok(()) => {
            tracing::debug!(manifests = pending.len(), elapsed = ?started.elapsed(), "pulls recorded");
            pending.0.clear();
        }
        Err(err) if pending.len() >= MAX_PENDING => {
            tracing::error!(error = %err, manifests = pending.len(), "cannot record pulls; dropped");
            pending.0.clear();
        }
        Err(err) => tracing::warn!(error = %err, "cannot record pulls; will try again"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn event(target: Value) -> Value {
        json!({
            "id": "e1", "timestamp": "2026-12-06T10:00:00.5Z", "action": "pull", "target": target,
            "request": {"method": "GET", "useragent": "skopeo/1.9"}, "actor": {"name": "ci-bot"}
        })
    }

    fn manifest_target() -> Value {
        json!({"mediaType": MANIFEST_MEDIA_TYPES[0], "repository": "team-a/api", "digest": DIGEST, "tag": "v1"})
    }

    #[test]
    fn reads_a_manifest_pull() {
        let pull = parse(&event(manifest_target())).unwrap();
        assert_eq!(pull.repository.as_str(), "team-a/api");
        assert_eq!(pull.digest.as_str(), DIGEST);
        assert_eq!(pull.at_ms, 1_796_551_200_500);
        assert!(!pull.head);
        assert_eq!(pull.actor, "ci-bot");
    }

    #[test]
    fn refuses_what_is_not_a_manifest_pull_by_valid_names() {
        let with = |field: &str, value: Value| {
            let mut target = manifest_target();
            target[field] = value;
            parse(&event(target))
        };
        assert!(with("mediaType", json!("application/vnd.oci.image.layer.v1.tar+gzip")).is_err());
        assert!(with("mediaType", Value::Null).is_err());
        assert!(with("repository", json!("team-a/../secret")).is_err());
        assert!(with("repository", json!("Team")).is_err());
        assert!(with("repository", json!("a".repeat(300))).is_err());
        assert!(with("repository", json!(7)).is_err());
        assert!(with("digest", json!("sha256:abc")).is_err());
        assert!(with("digest", Value::Null).is_err());
        assert!(parse(&json!({"action": "pull", "timestamp": "2026-12-06T10:00:00Z"})).is_err());
        let mut late = event(manifest_target());
        late["timestamp"] = json!("yesterday");
        assert!(parse(&late).is_err());
        let mut long_agent = event(manifest_target());
        long_agent["request"]["useragent"] = json!("x".repeat(10_000));
        assert!(parse(&long_agent).is_err());
    }

    #[test]
    fn the_console_is_known_by_its_subject_or_its_agent_without_one() {
        let console = ConsoleIdentity {
            subject: Some("wharf-console".into()),
        };
        let mut pull = parse(&event(manifest_target())).unwrap();
        assert!(!console.made(&pull));
        pull.actor = "wharf-console".into();
        assert!(console.made(&pull));
        pull.actor = String::new();
        assert!(!console.made(&pull), "an anonymous client counts");
        pull.user_agent = "wharf/0.1.0".into();
        assert!(console.made(&pull));
        pull.actor = "alice".into();
        assert!(
            !console.made(&pull),
            "a user's own client with the console's agent still counts"
        );
    }

    #[test]
    fn pending_pulls_keep_the_latest_time_and_count_downloads_only() {
        let mut pending = Pending::default();
        let mut pull = parse(&event(manifest_target())).unwrap();
        let now = pull.at_ms + 10_000;
        pending.add(&pull, now);
        pull.at_ms -= 5_000;
        pending.add(&pull, now);
        pull.head = true;
        pull.at_ms += 8_000;
        pending.add(&pull, now);
        pull.at_ms = i64::MAX;
        pending.add(&pull, now);
        assert_eq!(pending.len(), 1);
        let counted = pending.0.values().next().unwrap();
        assert_eq!(counted.pulls, 2, "two GETs, two HEADs");
        assert_eq!(counted.last_pulled_at, now, "a time in the future is taken as now");
    }

    #[test]
    fn upsert_numbers_its_placeholders() {
        let sql = upsert_sql(2);
        assert!(
            sql.contains("VALUES ($1, $2, $3, $4), ($5, $6, $7, $8) ON CONFLICT"),
            "{sql}"
        );
    }
}
