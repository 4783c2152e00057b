//! Planning a run: every image in the policy's scope decided and written down as an item, with
//! the images that go together (an image, its signatures, its platform images) in one group.
//! The dry run stops here; the real run then carries out the planned groups
//! ([`super::runner`]). The groups over the policy's cap are written as skipped, so the plan
//! says exactly what a run will and will not delete.

use std::collections::HashMap;
use std::future::Future;

use sqlx::AnyConnection;

use super::decide::{decide, ImageFacts, Policy};
use super::facts::{self, Image};
use super::rules::{self, TagMatcher};
use super::store::{self, PackedItemRef, PolicyRow};
use crate::backend::access::Scope;
use crate::backend::db::{Db, DbKind};
use crate::model::{Reason, RetentionRules};

/// Plans a policy a slice of repositories at a time: the dry run, the real run and the
/// benchmark all go through [`PlanCursor::next_slice`].
pub struct PlanCursor {
    scope: Scope,
    rules: RetentionRules,
    tags: TagMatcher,
    max_groups: i64,
    now: i64,
    kind: DbKind,
    after: String,
    pub repositories_done: i64,
    pub tally: Tally,
}

impl PlanCursor {
    /// For `policy` at time `now`, on a database of `kind`; an error (in words) when its stored
    /// rules cannot be used.
    pub fn new(policy: &PolicyRow, now: i64, kind: DbKind) -> Result<PlanCursor, String> {
        let rules = policy
            .rules()
            .ok_or_else(|| "the stored rules do not parse".to_string())?;
        let tags = rules::check(&rules).map_err(|e| e.to_string())?;
        let scope = Scope::parse(&policy.scope).map_err(|e| e.to_string())?;
        Ok(PlanCursor {
            scope,
            rules,
            tags,
            max_groups: policy.max_deletions,
            now,
            kind,
            after: String::new(),
            repositories_done: 0,
            tally: Tally::default(),
        })
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Decides the next slice of repositories; `None` once every repository in scope is done.
    pub async fn next_slice(&mut self, conn: &mut AnyConnection) -> Result<Option<Vec<Item>>, sqlx::Error> {
        let names = facts::next_repositories(&mut *conn, &self.scope, &self.after).await?;
        let Some(last) = names.last().cloned() else {
            return Ok(None);
        };
        let names: Vec<String> = names.into_iter().filter(|n| self.scope.covers(n)).collect();
        let images = facts::images(&mut *conn, self.kind, &names).await?;
        let policy = Policy {
            rules: &self.rules,
            tags: &self.tags,
        };
        let mut items = Vec::new();
        for (repository, images) in images {
            items.extend(plan_repository(
                &policy,
                &repository,
                images,
                self.now,
                self.max_groups,
                &mut self.tally,
            ));
        }
        self.repositories_done += names.len() as i64;
        self.after = last;
        Ok(Some(items))
    }
}

/// Plans every slice of `cursor`, handing each decided slice with the tally and repositories
/// done after it to `write`, which runs as a task of its own while the next slice is read and
/// decided: writing one slice and reading the next go on at the same time (on two connections,
/// two cores), one slice written at a time, in order, so at most two slices are in memory.
pub async fn plan_slices<E, W, F>(db: &Db, cursor: &mut PlanCursor, mut write: W) -> Result<(), E>
where
    E: From<sqlx::Error> + Send + 'static,
    W: FnMut(Vec<Item>, Tally, i64) -> F,
    F: Future<Output = Result<(), E>> + Send + 'static,
{
    let mut writing: Option<tokio::task::JoinHandle<Result<(), E>>> = None;
    loop {
        let next = async {
            let mut conn = db.pool.acquire().await?;
            cursor.next_slice(&mut conn).await
        }
        .await;
        if let Some(written) = writing.take() {
            // The write is awaited even when reading failed: nothing is left running.
            written
                .await
                .unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()))?;
        }
        match next? {
            Some(items) => {
                writing = Some(tokio::spawn(write(items, cursor.tally, cursor.repositories_done)));
            }
            None => return Ok(()),
        }
    }
}

/// What one planned image becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemState {
    Kept,
    Planned,
    /// Over the policy's cap.
    Skipped,
}

impl ItemState {
    pub fn as_str(&self) -> &'static str {
        match self {
            ItemState::Kept => "kept",
            ItemState::Planned => "planned",
            ItemState::Skipped => "skipped",
        }
    }
}

/// One decided image.
#[derive(Debug, Clone)]
pub struct Item {
    pub seq: i64,
    pub repository: String,
    pub image: Image,
    pub reason: Reason,
    /// The seq of its group's first item; 0 when kept.
    pub group: i64,
    pub state: ItemState,
}

/// Counts of a plan so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub next_seq: i64,
    pub groups: i64,
    pub kept: i64,
    pub removed: i64,
    pub skipped: i64,
    pub bytes_removed: i64,
    pub capped: bool,
}

/// Decides one repository's images and numbers them, removal groups first (oldest image first,
/// each group in deletion order: signatures, the image, its platform images), then the kept.
pub fn plan_repository(
    policy: &Policy<'_>,
    repository: &str,
    images: Vec<Image>,
    now: i64,
    max_groups: i64,
    tally: &mut Tally,
) -> Vec<Item> {
    let (facts, sizes): (Vec<ImageFacts>, Vec<i64>) = images.into_iter().map(|i| (i.facts, i.size)).unzip();
    let reasons = decide(policy, &facts, now);
    let by_digest: HashMap<&str, usize> = facts.iter().enumerate().map(|(i, f)| (f.digest.as_str(), i)).collect();
    let root = |mut i: usize| {
        for _ in 0..facts.len() {
            let next = match &reasons[i] {
                Reason::WithRemovedIndex { index } => by_digest.get(index.as_str()),
                Reason::AttachedToRemoved { subject } => by_digest.get(subject.as_str()),
                _ => None,
            };
            match next {
                Some(&n) if n != i => i = n,
                _ => break,
            }
        }
        i
    };
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in (0..facts.len()).filter(|&i| !reasons[i].keeps()) {
        groups.entry(root(i)).or_default().push(i);
    }
    let mut roots: Vec<usize> = groups.keys().copied().collect();
    roots.sort_by(|&a, &b| (facts[a].pushed_at, &facts[a].digest).cmp(&(facts[b].pushed_at, &facts[b].digest)));
    let mut slots: Vec<Option<(Image, Reason)>> = facts
        .into_iter()
        .zip(sizes)
        .map(|(facts, size)| Image { facts, size })
        .zip(reasons)
        .map(Some)
        .collect();
    let mut items = Vec::with_capacity(slots.len());
    for r in roots {
        let mut members = groups.remove(&r).unwrap_or_default();
        members.sort_by_key(|&m| (deletion_order(m == r, slots[m].as_ref().map(|s| &s.1)), m));
        let state = if tally.groups < max_groups {
            ItemState::Planned
        } else {
            ItemState::Skipped
        };
        tally.groups += 1;
        tally.capped |= state == ItemState::Skipped;
        let group = tally.next_seq + 1;
        for m in members {
            let Some((image, reason)) = slots[m].take() else {
                continue;
            };
            match state {
                ItemState::Planned => {
                    tally.removed += 1;
                    tally.bytes_removed += image.size;
                }
                _ => tally.skipped += 1,
            }
            items.push(numbered(tally, repository, image, reason, group, state.clone()));
        }
    }
    for (image, reason) in slots.into_iter().flatten() {
        tally.kept += 1;
        items.push(numbered(tally, repository, image, reason, 0, ItemState::Kept));
    }
    items
}

/// Signatures before their image, the image before its platform images.
fn deletion_order(is_root: bool, reason: Option<&Reason>) -> u8 {
    match (is_root, reason) {
        (_, Some(Reason::AttachedToRemoved { .. })) => 0,
        (true, _) => 1,
        _ => 2,
    }
}

fn numbered(tally: &mut Tally, repository: &str, image: Image, reason: Reason, group: i64, state: ItemState) -> Item {
    tally.next_seq += 1;
    Item {
        seq: tally.next_seq,
        repository: repository.to_string(),
        image,
        reason,
        group,
        state,
    }
}

/// Items per insert statement.
const INSERT_ROWS: usize = 2_000;
/// Items per pack at most, so that listing a page never unpacks a huge one.
pub const PACK_ITEMS: usize = 200;

/// Writes `items` of run `run_id`. The images the run deletes are a row each, which the run
/// marks as it goes: a slice's rows go as one JSON array per statement that the database unpacks
/// itself (a statement per row, or twelve bound values per row, cost minutes for a million).
/// Everything else (kept, over the cap) is final once decided, and goes packed: a repository's
/// consecutive items in one row ([`store::insert_packs`]).
pub async fn store(conn: &mut AnyConnection, kind: DbKind, run_id: &str, items: &[Item]) -> Result<(), sqlx::Error> {
    let (acted_on, settled): (Vec<&Item>, Vec<&Item>) = items.iter().partition(|i| i.state == ItemState::Planned);
    store_rows(conn, kind, run_id, &acted_on).await?;
    store::insert_packs(conn, run_id, &packs(&settled)).await
}

async fn store_rows(conn: &mut AnyConnection, kind: DbKind, run_id: &str, items: &[&Item]) -> Result<(), sqlx::Error> {
    let sql = match kind {
        DbKind::Sqlite => {
            "INSERT INTO retention_run_items (run_id, seq, repository, digest, tags, pushed_at, last_pulled_at, \
             size_bytes, keep, reason, grp, state) SELECT $1, json_extract(value, '$[0]'), json_extract(value, '$[1]'), \
             json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]'), \
             json_extract(value, '$[5]'), json_extract(value, '$[6]'), json_extract(value, '$[7]'), \
             json_extract(value, '$[8]'), json_extract(value, '$[9]'), json_extract(value, '$[10]') FROM json_each($2)"
        }
        DbKind::Postgres => {
            "INSERT INTO retention_run_items (run_id, seq, repository, digest, tags, pushed_at, last_pulled_at, \
             size_bytes, keep, reason, grp, state) SELECT $1, (v->>0)::bigint, v->>1, v->>2, v->>3, (v->>4)::bigint, \
             (v->>5)::bigint, (v->>6)::bigint, (v->>7)::bigint, v->>8, (v->>9)::bigint, v->>10 \
             FROM json_array_elements($2::json) AS v"
        }
    };
    for chunk in items.chunks(INSERT_ROWS) {
        let rows: Vec<serde_json::Value> = chunk.iter().map(|item| item_row(item)).collect();
        let rows = serde_json::to_string(&rows).expect("items serialize");
        sqlx::query(sql).bind(run_id).bind(rows).execute(&mut *conn).await?;
    }
    Ok(())
}

/// `items` (in seq order) packed: consecutive items of one repository, [`PACK_ITEMS`] at most.
fn packs(items: &[&Item]) -> Vec<store::NewPack> {
    let mut packs = Vec::new();
    let mut start = 0;
    while start < items.len() {
        let first = items[start];
        let mut end = start + 1;
        while end < items.len()
            && end - start < PACK_ITEMS
            && items[end].repository == first.repository
            && items[end].seq == items[end - 1].seq + 1
        {
            end += 1;
        }
        packs.push(pack(&items[start..end]));
        start = end;
    }
    packs
}

fn pack(items: &[&Item]) -> store::NewPack {
    let kept = items.iter().filter(|i| i.state == ItemState::Kept).count() as i64;
    let packed: Vec<PackedItemRef<'_>> = items.iter().map(|&item| item.into()).collect();
    store::NewPack {
        first_seq: items[0].seq,
        last_seq: items[items.len() - 1].seq,
        repository: items[0].repository.clone(),
        kept,
        skipped: items.len() as i64 - kept,
        items: serde_json::to_string(&packed).expect("items serialize"),
    }
}

impl<'a> From<&'a Item> for PackedItemRef<'a> {
    fn from(item: &'a Item) -> PackedItemRef<'a> {
        let facts = &item.image.facts;
        PackedItemRef {
            digest: &facts.digest,
            tags: &facts.tags,
            pushed_at: facts.pushed_at,
            last_pulled_at: facts.last_pulled_at,
            size_bytes: item.image.size,
            reason: &item.reason,
            grp: item.group,
        }
    }
}

/// One item as the insert unpacks it (the order of its columns).
fn item_row(item: &Item) -> serde_json::Value {
    let facts = &item.image.facts;
    serde_json::json!([
        item.seq,
        item.repository,
        facts.digest,
        serde_json::to_string(&facts.tags).unwrap_or_else(|_| "[]".into()),
        facts.pushed_at,
        facts.last_pulled_at,
        item.image.size,
        i64::from(item.reason.keeps()),
        serde_json::to_string(&item.reason).unwrap_or_else(|_| "{}".into()),
        item.group,
        item.state.as_str(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(seq: i64, repository: &str, state: ItemState) -> Item {
        Item {
            seq,
            repository: repository.into(),
            image: Image {
                facts: ImageFacts {
                    digest: format!("sha256:{seq}"),
                    tags: Vec::new(),
                    pushed_at: 0,
                    last_pulled_at: None,
                    children: Vec::new(),
                    subject: None,
                },
                size: seq,
            },
            reason: if state == ItemState::Kept {
                Reason::Latest
            } else {
                Reason::NoKeepRule
            },
            group: 0,
            state,
        }
    }

    #[test]
    fn packs_hold_consecutive_items_of_one_repository_and_no_more_than_their_bound() {
        let mut items = vec![
            item(1, "a", ItemState::Skipped),
            item(2, "a", ItemState::Kept),
            // A gap (a planned item, written as a row of its own).
            item(4, "a", ItemState::Kept),
            item(5, "b", ItemState::Kept),
        ];
        let big = PACK_ITEMS as i64 + 1;
        items.extend((0..big).map(|i| item(6 + i, "c", ItemState::Kept)));
        let refs: Vec<&Item> = items.iter().collect();
        let packs = packs(&refs);
        let shape: Vec<_> = packs
            .iter()
            .map(|p| (p.repository.as_str(), p.first_seq, p.last_seq, p.kept, p.skipped))
            .collect();
        assert_eq!(
            shape,
            vec![
                ("a", 1, 2, 1, 1),
                ("a", 4, 4, 1, 0),
                ("b", 5, 5, 1, 0),
                ("c", 6, 5 + PACK_ITEMS as i64, PACK_ITEMS as i64, 0),
                ("c", 6 + PACK_ITEMS as i64, 6 + PACK_ITEMS as i64, 1, 0),
            ]
        );
        let first: Vec<store::PackedItem> = serde_json::from_str(&packs[0].items).unwrap();
        assert_eq!(first.len(), 2);
        assert_eq!((first[1].digest.as_str(), first[1].size_bytes), ("sha256:2", 2));
    }
}
