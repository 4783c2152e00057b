//! The webhook dispatcher: claims due deliveries, renders each in its webhook's format, signs it
//! (Standard Webhooks), POSTs it with the webhook's timeout through the checked client, and
//! records the attempt together with its result (done, next attempt, dead) in one transaction.
//!
//! - 2xx is success; anything else, a timeout or a refused address is a failure, retried on the
//!   Standard Webhooks schedule with jitter; a 3xx is a failure too (redirects are not followed).
//! - `Retry-After` on 429 and 503 sets the next attempt.
//! - 410 Gone, and a Slack webhook that no longer exists, disable the webhook with the reason.
//! - Deliveries run concurrently (a slow receiver holds only its own), with per-webhook order
//!   and limits enforced by the claim; Slack webhooks are paced to one message a second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::AnyConnection;
use tokio::sync::{mpsc, watch, Semaphore};

use super::deliveries::{self, AttemptRecord, ClaimedDelivery, QUEUE};
use super::event::{EventAction, Platform, WebhookEvent};
use super::formats::sandbox::TemplateSandbox;
use super::formats::{self, slack, Format};
use super::outbound::OutboundPolicy;
use super::signing;
use super::store;
use crate::backend::db::{now_ms, Db};
use crate::backend::metrics::{self, DeliveryOutcome};
use crate::backend::notifier::{Notifier, Signal};
use crate::backend::work::{self, WorkerId};
use crate::model::IndexUpdate;

/// Deliveries in flight at once, across all webhooks.
const CONCURRENCY: usize = 32;
/// Due deliveries are looked for this often even without a wake-up (retries come due).
const POLL: Duration = Duration::from_secs(1);
/// Slack accepts about one message a second per webhook.
const SLACK_PACE: Duration = Duration::from_secs(1);
/// A webhook whose deliveries failed this long with no success in between is disabled.
const FAILING_FOR: Duration = Duration::from_secs(2 * 24 * 3600);
/// A train stops when less than the next delivery's timeout and this is left of its lease.
pub(super) const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// Deliveries an ordered webhook's train sends at most before they are recorded (it takes in
/// what is queued behind it while it runs).
const MAX_TRAIN: usize = 256;
/// Retry-After is honoured up to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The Standard Webhooks retry schedule: the waits after the 1st, 2nd, … failed attempt; after
/// the last one the delivery is dead.
pub const STANDARD_SCHEDULE: [Duration; 9] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(14 * 3600),
    Duration::from_secs(20 * 3600),
    Duration::from_secs(24 * 3600),
];

/// Why a delivery found with its render still marked is set aside: the process rendering it
/// ended in the middle, and rendering it again could end the next one the same way.
const RENDERER_DIED: &str = "the console stopped while rendering this delivery's template (the template may need more \
     memory than allowed); it is not rendered again automatically: fix the template, then redeliver";

/// What the dispatcher needs besides the database.
pub struct Dispatcher {
    pub db: Db,
    pub notifier: Arc<Notifier>,
    pub policy: Arc<OutboundPolicy>,
    /// Renders template-format bodies in child processes.
    pub templates: Arc<TemplateSandbox>,
    /// Waits between attempts ([`STANDARD_SCHEDULE`] unless shortened for tests).
    pub schedule: Vec<Duration>,
    client: reqwest::Client,
    slack_next: Mutex<HashMap<String, Instant>>,
}

/// What to do after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Try again; after this long when the receiver said (Retry-After).
    Retry {
        after: Option<Duration>,
    },
    /// The receiver is gone: stop the webhook.
    DisableWebhook(String),
}

impl Dispatcher {
    pub fn new(
        db: Db,
        notifier: Arc<Notifier>,
        policy: Arc<OutboundPolicy>,
        templates: Arc<TemplateSandbox>,
        schedule: Vec<Duration>,
    ) -> Dispatcher {
        let client = policy.client();
        Dispatcher {
            db,
            notifier,
            policy,
            templates,
            schedule,
            client,
            slack_next: Mutex::new(HashMap::new()),
        }
    }

    /// Runs until `shutdown` changes.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let worker = WorkerId::new("webhooks");
        let permits = Arc::new(Semaphore::new(CONCURRENCY));
        let mut wake = self.notifier.subscribe();
        let (finished_tx, mut finished) = mpsc::unbounded_channel::<()>();
        loop {
            if permits.available_permits() > 0 {
                let started = Instant::now();
                match deliveries::claim(&self.db, &worker).await {
                    Ok(trains) => {
                        if !trains.is_empty() {
                            let sizes: Vec<usize> = trains.iter().map(Vec::len).collect();
                            tracing::debug!(?sizes, elapsed = ?started.elapsed(), "webhook deliveries claimed");
                        }
                        for train in trains {
                            let Ok(permit) = permits.clone().acquire_owned().await else {
                                return;
                            };
                            let this = self.clone();
                            let finished_tx = finished_tx.clone();
                            tokio::spawn(async move {
                                this.deliver_train(train).await;
                                drop(permit);
                                let _ = finished_tx.send(());
                            });
                        }
                    }
                    Err(err) => tracing::warn!(error = %err, "cannot claim webhook deliveries"),
                }
            }
            tokio::select! {
                _ = wake.wait_for(|s| *s == Signal::DeliveriesQueued) => {}
                _ = finished.recv() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// The deliveries of one train, one after another, while they succeed and their lease lasts;
    /// their attempts are then recorded, and the rest of the train goes back, uncounted. (A
    /// crash before the record sends the train's deliveries again: at least once.)
    ///
    /// An ordered webhook's train goes on with what is queued behind it meanwhile (a burst), up
    /// to a bound: while one part of it is sent, one transaction records the attempts made
    /// before and claims the deliveries behind that part, so sending never pauses for the
    /// database.
    async fn deliver_train(&self, train: Vec<ClaimedDelivery>) {
        let lease_ends = Instant::now() + deliveries::LEASE;
        let Some(webhook_id) = train.first().map(|d| d.webhook.id.clone()) else {
            return;
        };
        let ordered = train.first().is_some_and(|d| d.kind == "event" && d.webhook.ordered);
        let mut part = train;
        let mut taken = 0;
        // Sent, not recorded yet.
        let mut unrecorded: Vec<(ClaimedDelivery, Attempted)> = Vec::new();
        let mut unsent = Vec::new();
        loop {
            taken += part.len();
            let behind = part.last().filter(|_| ordered && taken < MAX_TRAIN).cloned();
            let recording = std::mem::take(&mut unrecorded);
            let extension = async {
                match &behind {
                    Some(last) => Some(self.record_and_extend(&recording, last).await),
                    None => None,
                }
            };
            let sending = self.send_in_order(part, lease_ends, &mut unrecorded);
            let (extension, (all_sent, rest)) = tokio::join!(extension, sending);
            unsent.extend(rest);
            match extension {
                Some(Ok(Some(more))) if all_sent && !more.is_empty() => part = more,
                Some(Ok(Some(more))) => {
                    unsent.extend(more);
                    break;
                }
                // The claim was lost: the other claim's records stand.
                Some(Ok(None)) => break,
                Some(Err(err)) => {
                    tracing::warn!(error = %err, "cannot extend a webhook delivery train");
                    unrecorded.splice(0..0, recording);
                    break;
                }
                None => {
                    unrecorded.splice(0..0, recording);
                    break;
                }
            }
        }
        if let Err(err) = self.record(&unrecorded).await {
            // The database failed: the lease runs out and the deliveries are claimed again.
            tracing::warn!(error = %err, "cannot record webhook deliveries");
        }
        if let Err(err) = deliveries::release_unsent(&self.db, &unsent).await {
            tracing::warn!(error = %err, "cannot give back unsent webhook deliveries");
        }
        self.notifier
            .publish(Signal::Live(IndexUpdate::Delivery { webhook_id }));
    }

    /// Sends `part` one after another into `sent`, while they succeed and the lease lasts.
    /// Returns whether all were sent, and those that were not.
    async fn send_in_order(
        &self,
        part: Vec<ClaimedDelivery>,
        lease_ends: Instant,
        sent: &mut Vec<(ClaimedDelivery, Attempted)>,
    ) -> (bool, Vec<ClaimedDelivery>) {
        let mut rest = part.into_iter();
        for delivery in rest.by_ref() {
            let attempted = match self.attempt(&delivery).await {
                Ok(Some(attempted)) => attempted,
                // Set aside (it cannot be sent at all).
                Ok(None) => return (false, rest.collect()),
                Err(err) => {
                    tracing::warn!(delivery = %delivery.id, error = %err, "cannot record a webhook delivery");
                    return (false, rest.collect());
                }
            };
            let time_left = lease_ends.saturating_duration_since(Instant::now());
            // The next one could outlast the lease (and be claimed again elsewhere): stop there.
            let go_on = attempted.verdict == Verdict::Delivered && time_left >= delivery.webhook.timeout + LEASE_MARGIN;
            sent.push((delivery, attempted));
            if !go_on {
                return (false, rest.collect());
            }
        }
        (true, Vec::new())
    }

    /// Sends one claimed delivery. `None` when it cannot be sent at all (it is set aside).
    pub(super) async fn attempt(&self, delivery: &ClaimedDelivery) -> Result<Option<Attempted>, sqlx::Error> {
        self.attempt_knowing(delivery, None).await
    }

    /// [`Dispatcher::attempt`], with the platforms of the pushed images when the caller read them
    /// already (`Some`: an image missing from it is one the index has not read).
    pub(super) async fn attempt_knowing(
        &self,
        delivery: &ClaimedDelivery,
        known: Option<&KnownPlatforms>,
    ) -> Result<Option<Attempted>, sqlx::Error> {
        let webhook = &delivery.webhook;
        let event = match self.payload(delivery, known).await? {
            Ok(event) => event,
            Err(reason) => return self.bury(delivery, &reason).await.map(|_| None),
        };
        if delivery.render_started_at.is_some() {
            return self.bury(delivery, RENDERER_DIED).await.map(|_| None);
        }
        let rendered = match self.render(delivery, &event).await? {
            Ok(rendered) => rendered,
            Err(err) => {
                let reason = format!("cannot render the {} format: {err}", webhook.format.label());
                return self.bury(delivery, &reason).await.map(|_| None);
            }
        };
        if webhook.format == Format::Slack {
            self.pace_slack(&webhook.id).await;
        }
        let payload = serde_json::to_string(&event).unwrap_or_default();
        let started_at = now_ms();
        let started = Instant::now();
        let mut headers: Vec<(String, String)> = vec![("content-type".into(), rendered.content_type.clone())];
        headers.extend(rendered.headers.iter().cloned());
        if webhook.format.is_signed() {
            let secrets = webhook.signing_secrets(started_at);
            let timestamp = started_at / 1000;
            let refs: Vec<&signing::SigningSecret> = secrets.iter().collect();
            headers.push(("webhook-id".into(), delivery.id.clone()));
            headers.push(("webhook-timestamp".into(), timestamp.to_string()));
            headers.push((
                "webhook-signature".into(),
                signing::signature_header(&refs, &delivery.id, timestamp, &rendered.body),
            ));
        }
        let mut request = self
            .client
            .post(&webhook.url)
            .timeout(webhook.timeout)
            .body(rendered.body.clone());
        for (name, value) in headers.iter().chain(webhook.headers.iter()) {
            request = request.header(name.as_str(), value.as_str());
        }
        let mut record = AttemptRecord {
            started_at,
            url: webhook.url.clone(),
            // Custom header values are secrets: the log shows their names only.
            request_headers: headers
                .iter()
                .cloned()
                .chain(webhook.headers.iter().map(|(n, _)| (n.clone(), "****".into())))
                .collect(),
            request_body: String::from_utf8_lossy(&rendered.body).into_owned(),
            ..AttemptRecord::default()
        };
        // Names are checked by the client's resolver; an address in the URL is checked here (the
        // policy may have changed since the webhook was saved).
        let refused = self.policy.check_url(&webhook.url).err();
        let sent = match refused {
            Some(refusal) => Err(refusal.to_string()),
            None => request.send().await.map_err(|err| describe(&err)),
        };
        let verdict = match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                record.response_status = Some(status);
                record.response_headers = response
                    .headers()
                    .iter()
                    .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                    .collect();
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
                let body = read_capped(response).await;
                let verdict = judge(webhook.format, status, &body, retry_after);
                record.response_body = Some(body);
                verdict
            }
            Err(error) => {
                record.error = Some(error);
                Verdict::Retry { after: None }
            }
        };
        record.duration_ms = started.elapsed().as_millis() as i64;
        Ok(Some(Attempted {
            payload,
            record,
            verdict,
        }))
    }

    /// The body in the webhook's format. A template is rendered in a child process; the render
    /// is recorded before it starts and cleared after it ends, so a delivery whose render took the
    /// whole process down is set aside at its next claim instead of being rendered again.
    async fn render(
        &self,
        delivery: &ClaimedDelivery,
        event: &WebhookEvent,
    ) -> Result<Result<formats::Rendered, formats::RenderError>, sqlx::Error> {
        let webhook = &delivery.webhook;
        let marked = webhook.format == Format::Template;
        if marked {
            deliveries::mark_rendering(&self.db, delivery, Some(now_ms())).await?;
        }
        let rendered = formats::render(webhook.format, event, webhook.template.as_deref(), &self.templates).await;
        if marked {
            deliveries::mark_rendering(&self.db, delivery, None).await?;
        }
        Ok(rendered)
    }

    /// The event to send: the stored payload, completed at the first attempt with what the index
    /// knows (a push's platforms, for a format that shows them; a delete has none, as documented:
    /// what it deleted may already be gone from the index). `Err` inside when the stored payload
    /// is unreadable.
    async fn payload(
        &self,
        delivery: &ClaimedDelivery,
        known: Option<&KnownPlatforms>,
    ) -> Result<Result<WebhookEvent, String>, sqlx::Error> {
        let mut event: WebhookEvent = match serde_json::from_str(&delivery.payload) {
            Ok(event) => event,
            Err(err) => return Ok(Err(format!("the stored event cannot be read: {err}"))),
        };
        if let Some(digest) = platforms_wanted(delivery, &event) {
            event.platforms = match known {
                Some(known) => known.get(digest).cloned().unwrap_or_default(),
                None => {
                    let mut conn = self.db.pool.acquire().await?;
                    crate::backend::index::store::manifest(&mut conn, digest)
                        .await?
                        .map(|record| platforms_of(record.platforms))
                        .unwrap_or_default()
                }
            };
        }
        Ok(Ok(event))
    }

    async fn pace_slack(&self, webhook_id: &str) {
        let wait = {
            let mut next = self.slack_next.lock().expect("slack pacing lock");
            let now = Instant::now();
            let slot = next.get(webhook_id).copied().filter(|t| *t > now).unwrap_or(now);
            next.insert(webhook_id.to_string(), slot + SLACK_PACE);
            slot - now
        };
        tokio::time::sleep(wait).await;
    }

    async fn bury(&self, delivery: &ClaimedDelivery, reason: &str) -> Result<(), sqlx::Error> {
        metrics::delivery_finished(&delivery.webhook.id, DeliveryOutcome::Unsendable);
        let mut tx = self.db.begin_write().await?;
        // A redelivery renders again (after the template was fixed, say).
        deliveries::clear_rendering(&mut tx, &delivery.id).await?;
        work::bury(&mut tx, &QUEUE, &delivery.id, &delivery.token, reason).await?;
        tx.commit().await
    }

    /// Records the attempts of a train and their results in one transaction.
    pub(super) async fn record(&self, sent: &[(ClaimedDelivery, Attempted)]) -> Result<(), sqlx::Error> {
        if sent.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.begin_write().await?;
        let mut kept = true;
        for (delivery, attempted) in sent {
            kept &= self.finish(&mut tx, delivery, attempted).await?;
        }
        if kept {
            tx.commit().await
        } else {
            // Our lease ran out and another dispatcher took the deliveries (one claim, one
            // lease): its records stand.
            tx.rollback().await
        }
    }

    /// Records `sent` and claims the deliveries due right behind `last` (an ordered webhook's
    /// train), in one transaction. `None` (nothing recorded) when the claim was lost.
    async fn record_and_extend(
        &self,
        sent: &[(ClaimedDelivery, Attempted)],
        last: &ClaimedDelivery,
    ) -> Result<Option<Vec<ClaimedDelivery>>, sqlx::Error> {
        let started = Instant::now();
        let waited_since = deliveries::wait_for_index_since(&self.db, now_ms()).await?;
        let mut tx = self.db.begin_write().await?;
        let locked_in = started.elapsed();
        for (delivery, attempted) in sent {
            if !self.finish(&mut tx, delivery, attempted).await? {
                tx.rollback().await?;
                return Ok(None);
            }
        }
        let more = deliveries::extend_train(&mut tx, &self.db, last, waited_since).await?;
        tx.commit().await?;
        tracing::debug!(recorded = sent.len(), more = more.len(), ?locked_in, elapsed = ?started.elapsed(), "webhook delivery train extended");
        Ok(Some(more))
    }

    /// Records one attempt and its result. `false` when the claim was lost.
    async fn finish(
        &self,
        tx: &mut AnyConnection,
        delivery: &ClaimedDelivery,
        attempted: &Attempted,
    ) -> Result<bool, sqlx::Error> {
        let Attempted {
            payload,
            record,
            verdict,
        } = attempted;
        deliveries::record_attempt(tx, delivery, payload, record).await?;
        let failure = || match (record.response_status, &record.error) {
            (_, Some(error)) => error.clone(),
            (Some(status), None) => format!("the receiver answered {status}"),
            (None, None) => "no answer".to_string(),
        };
        let (id, token) = (&delivery.id, &delivery.token);
        let counted = |outcome| metrics::delivery_finished(&delivery.webhook.id, outcome);
        Ok(match verdict {
            Verdict::Delivered => {
                counted(DeliveryOutcome::Delivered);
                work::complete(tx, &QUEUE, id, token).await?
            }
            Verdict::DisableWebhook(reason) => {
                counted(DeliveryOutcome::Disabled);
                store::disable(tx, &delivery.webhook.id, reason).await?;
                work::bury(tx, &QUEUE, id, token, reason).await?
            }
            // A ping or test is answered once, on the page that asked: no retries.
            Verdict::Retry { .. } if delivery.kind != "event" => {
                counted(DeliveryOutcome::Failed);
                work::bury(tx, &QUEUE, id, token, &failure()).await?
            }
            Verdict::Retry { after } => match next_wait(&self.schedule, delivery.attempts, *after) {
                Some(wait) => {
                    counted(DeliveryOutcome::Retrying);
                    let at = now_ms() + wait.as_millis() as i64;
                    work::retry(tx, &QUEUE, id, token, at, &failure()).await?
                }
                None => {
                    counted(DeliveryOutcome::Dead);
                    let buried = work::bury(tx, &QUEUE, id, token, &failure()).await?;
                    let failing_since = delivery.created_at;
                    if now_ms() - failing_since >= FAILING_FOR.as_millis() as i64
                        && !deliveries::delivered_since(tx, &delivery.webhook.id, failing_since).await?
                    {
                        store::disable(tx, &delivery.webhook.id, "every delivery failed for two days").await?;
                    }
                    buried
                }
            },
        })
    }
}

/// One attempt as made, to be recorded.
pub(super) struct Attempted {
    payload: String,
    record: AttemptRecord,
    pub(super) verdict: Verdict,
}

/// How long to wait before the next attempt after `attempts` failed ones; `None`: dead.
pub fn next_wait(schedule: &[Duration], attempts: i64, retry_after: Option<Duration>) -> Option<Duration> {
    let planned = *schedule.get(usize::try_from(attempts.max(1) - 1).ok()?)?;
    Some(match retry_after {
        Some(after) => after.min(MAX_RETRY_AFTER),
        None => work::jitter(planned),
    })
}

/// The verdict on a receiver's answer.
pub fn judge(format: Format, status: u16, body: &str, retry_after: Option<Duration>) -> Verdict {
    if (200..300).contains(&status) {
        return Verdict::Delivered;
    }
    if format == Format::Slack {
        if let Some(error) = slack::classify_slack_error(status, body) {
            if error.is_permanent() {
                return Verdict::DisableWebhook(format!("Slack: {}", error.message()));
            }
        }
        if status == 404 || status == 410 {
            return Verdict::DisableWebhook(format!("Slack answered {status}: the webhook URL no longer exists"));
        }
    }
    match status {
        410 => Verdict::DisableWebhook("the receiver answered 410 Gone".into()),
        429 | 503 => Verdict::Retry { after: retry_after },
        _ => Verdict::Retry { after: None },
    }
}

/// `Retry-After`: seconds, or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(std::time::SystemTime::now()).unwrap_or_default())
}

/// The response body as text, at most [`deliveries::MAX_LOGGED_BODY`] bytes of it.
async fn read_capped(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = deliveries::MAX_LOGGED_BODY.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= deliveries::MAX_LOGGED_BODY {
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// A send error in words: timeouts, refused addresses and connection failures told apart.
fn describe(err: &reqwest::Error) -> String {
    use std::error::Error;
    if err.is_timeout() {
        return "timed out waiting for the receiver".into();
    }
    let mut source = err.source();
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<super::outbound::OutboundError>() {
            return refused.to_string();
        }
        source = cause.source();
    }
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The platforms of pushed images the index has read, by digest.
pub(super) type KnownPlatforms = HashMap<String, Vec<Platform>>;

/// The digest whose platforms `event` is to list, when delivered as `delivery`: a push, to a
/// format that shows platforms, whose stored event lists none yet.
pub(super) fn platforms_wanted<'a>(delivery: &ClaimedDelivery, event: &'a WebhookEvent) -> Option<&'a str> {
    let wanted =
        delivery.webhook.format.shows_platforms() && event.platforms.is_empty() && event.action == EventAction::Push;
    event.digest.as_deref().filter(|_| wanted)
}

/// The platforms an indexed manifest lists, as deliveries show them (those with an OS).
pub(super) fn platforms_of(rows: Vec<crate::model::PlatformRow>) -> Vec<Platform> {
    rows.into_iter()
        .filter(|p| !p.os.is_empty())
        .map(|p| Platform {
            os: p.os,
            architecture: p.architecture,
            variant: p.variant,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_answers() {
        assert_eq!(judge(Format::Generic, 200, "", None), Verdict::Delivered);
        assert_eq!(judge(Format::Teams, 202, "", None), Verdict::Delivered);
        assert_eq!(judge(Format::Generic, 302, "", None), Verdict::Retry { after: None });
        assert_eq!(judge(Format::Generic, 500, "", None), Verdict::Retry { after: None });
        assert!(matches!(
            judge(Format::Generic, 410, "", None),
            Verdict::DisableWebhook(_)
        ));
        let after = Some(Duration::from_secs(7));
        assert_eq!(judge(Format::Generic, 429, "", after), Verdict::Retry { after });
        assert_eq!(judge(Format::Acr, 503, "", after), Verdict::Retry { after });
        assert_eq!(judge(Format::Generic, 404, "", None), Verdict::Retry { after: None });
        assert!(matches!(
            judge(Format::Slack, 404, "no_service", None),
            Verdict::DisableWebhook(_)
        ));
        assert!(matches!(
            judge(Format::Slack, 410, "channel_is_archived", None),
            Verdict::DisableWebhook(_)
        ));
        assert_eq!(
            judge(Format::Slack, 400, "invalid_payload", None),
            Verdict::Retry { after: None }
        );
    }

    #[test]
    fn follows_the_schedule_then_gives_up() {
        let schedule = STANDARD_SCHEDULE.to_vec();
        let first = next_wait(&schedule, 1, None).unwrap();
        assert!(first >= Duration::from_secs(5) && first <= Duration::from_secs(6));
        let last = next_wait(&schedule, 9, None).unwrap();
        assert!(last >= Duration::from_secs(24 * 3600));
        assert_eq!(next_wait(&schedule, 10, None), None, "ten attempts, then dead");
        assert_eq!(
            next_wait(&schedule, 2, Some(Duration::from_secs(3))),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            next_wait(&schedule, 2, Some(Duration::from_secs(10 * 24 * 3600))),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(next_wait(&[], 1, None), None);
    }

    #[test]
    fn reads_retry_after() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
