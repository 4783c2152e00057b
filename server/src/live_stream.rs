//! `GET /api/stream`: index updates as server-sent events, for signed-in users. Each message is
//! an `IndexUpdate` in JSON; pages refetch what concerns them. A reader only hears of the
//! repositories it may pull, of deliveries of the webhooks it may manage, and of the registry's
//! errors only if it is an administrator (others are told the registry cannot be reached).
//!
//! Access is not checked once for the life of the stream: the session is read again from the
//! store and the reader's grants recomputed every [`RECHECK_EVERY`], and at once when access
//! changes in this process ([`Signal::AccessChanged`]: roles, users, teams, a sign-out). A reader
//! signed out, disabled or deleted is cut off; a demoted one hears less from then on. The stream
//! also ends at shutdown.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream};
use tokio::sync::watch;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tower_sessions::Session;

use app::backend::access::{Action, Grants, Scope, Target, Visibility};
use app::backend::notifier::{Received, Signal, Subscription};
use app::backend::webhooks::store as webhooks;
use app::backend::{session, AppState};
use app::model::{AppError, IndexUpdate};

/// How often an open stream checks its reader's session and grants again, without a signal
/// (another replica changed them, the session expired, the database was edited).
pub const RECHECK_EVERY: Duration = Duration::from_secs(30);
/// Webhooks whose owner a stream remembers between checks, at most.
const REMEMBERED_WEBHOOKS: usize = 10_000;

pub async fn stream(State(state): State<AppState>, session: Session) -> Response {
    let audience = match Audience::of(&state, &session).await {
        Ok(audience) => audience,
        Err(AppError::Unauthorized) => {
            return (StatusCode::UNAUTHORIZED, "sign in to follow live updates").into_response()
        }
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let reader = Reader::new(state, session, audience);
    Sse::new(updates(reader))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// What one reader may hear of, as of its last check.
struct Audience {
    visible: Visibility,
    administrator: bool,
    grants: Grants,
    /// Webhook id → its owner scope, read once per check (a delivery names only the webhook).
    webhook_owners: HashMap<String, Option<Scope>>,
}

impl Audience {
    /// Reads the session again from the store (a sign-out elsewhere deleted it) and the
    /// reader's grants: `Unauthorized` when it is no longer signed in or no longer enabled.
    async fn of(state: &AppState, session: &Session) -> Result<Audience, AppError> {
        if session.id().is_none() {
            return Err(AppError::Unauthorized);
        }
        session.load().await.map_err(session::internal)?;
        let caller = session::require_caller(state, session).await?;
        Ok(Audience {
            visible: caller.grants.readable(),
            administrator: caller.is_administrator(),
            grants: caller.grants,
            webhook_owners: HashMap::new(),
        })
    }

    async fn hears(&mut self, state: &AppState, update: &IndexUpdate) -> bool {
        match update {
            IndexUpdate::Repository { name } => self.visible.includes(name),
            IndexUpdate::Sync { .. } => true,
            IndexUpdate::GarbageCollection { .. } => self.administrator,
            IndexUpdate::Delivery { webhook_id } => self.manages_webhook(state, webhook_id).await,
            // Housekeeping pages are for those who may delete there.
            IndexUpdate::Housekeeping { scope } => {
                self.administrator
                    || Scope::parse(scope).is_ok_and(|scope| self.grants.allows(Target::Within(&scope), Action::Delete))
            }
        }
    }

    /// May the reader manage the webhook `id` (as the webhook pages decide)? A webhook that is
    /// gone, or cannot be read, is nobody's.
    async fn manages_webhook(&mut self, state: &AppState, id: &str) -> bool {
        if self.grants.scopes_for(Action::ManageWebhooks).is_empty() {
            return false;
        }
        if !self.webhook_owners.contains_key(id) {
            if self.webhook_owners.len() >= REMEMBERED_WEBHOOKS {
                self.webhook_owners.clear();
            }
            let owner = webhook_owner(state, id).await;
            self.webhook_owners.insert(id.to_string(), owner);
        }
        self.webhook_owners
            .get(id)
            .and_then(Option::as_ref)
            .is_some_and(|owner| self.grants.allows(Target::Within(owner), Action::ManageWebhooks))
    }

    /// The update as this reader may read it.
    fn shape(&self, update: IndexUpdate) -> IndexUpdate {
        match update {
            IndexUpdate::Sync { status } => IndexUpdate::Sync {
                status: status.for_reader(self.administrator),
            },
            other => other,
        }
    }
}

async fn webhook_owner(state: &AppState, id: &str) -> Option<Scope> {
    let mut conn = state.db.pool.acquire().await.ok()?;
    let hook = webhooks::get(&mut conn, id).await.ok()??;
    Scope::parse(&hook.owner_scope).ok()
}

/// One open stream: whom it is for and what it listens to.
struct Reader {
    state: AppState,
    session: Session,
    audience: Audience,
    receiver: Subscription,
    stopping: watch::Receiver<bool>,
    recheck: Interval,
    /// The first message: the current status, so a page knows where reconcile stands.
    first: Option<IndexUpdate>,
}

impl Reader {
    fn new(state: AppState, session: Session, audience: Audience) -> Reader {
        let mut recheck = tokio::time::interval_at(Instant::now() + RECHECK_EVERY, RECHECK_EVERY);
        recheck.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Reader {
            receiver: state.notifier.subscribe(),
            stopping: state.sync.stopping(),
            first: Some(IndexUpdate::Sync {
                status: state.sync.status(),
            }),
            state,
            session,
            audience,
            recheck,
        }
    }

    /// The next message for this reader; `None` ends the stream (shutdown, or the reader lost
    /// its access).
    async fn next_event(&mut self) -> Option<Event> {
        if let Some(update) = self.first.take() {
            return Some(to_event(&self.audience.shape(update)));
        }
        loop {
            if *self.stopping.borrow() {
                return None;
            }
            let received = tokio::select! {
                received = self.receiver.recv() => received,
                _ = self.recheck.tick() => Received::Signal(Signal::AccessChanged),
                _ = self.stopping.changed() => return None,
            };
            match received {
                Received::Signal(Signal::Live(update)) => {
                    if self.audience.hears(&self.state, &update).await {
                        return Some(to_event(&self.audience.shape(update)));
                    }
                }
                Received::Signal(Signal::AccessChanged) => self.check_access().await?,
                // Worker wake-ups are not for browsers.
                Received::Signal(_) => {}
                // A slow reader missed some (an access change among them, perhaps): check
                // again, then tell it to refetch everything.
                Received::Lagged => {
                    self.check_access().await?;
                    return Some(Event::default().event("lagged").data("{}"));
                }
                Received::Closed => return None,
            }
        }
    }

    /// Reads the reader's session and grants again; `None` when it may no longer listen.
    async fn check_access(&mut self) -> Option<()> {
        match Audience::of(&self.state, &self.session).await {
            Ok(audience) => {
                self.audience = audience;
                Some(())
            }
            Err(err) => {
                tracing::debug!(error = %err, "live stream ended: its reader's access is gone");
                None
            }
        }
    }
}

fn updates(reader: Reader) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(reader, |mut reader| async move {
        let event = reader.next_event().await?;
        Some((Ok(event), reader))
    })
}

fn to_event(update: &IndexUpdate) -> Event {
    Event::default().data(serde_json::to_string(update).unwrap_or_else(|_| "{}".into()))
}
