//! Retention policies against a real registry: the dry run shows what a run then deletes (the
//! same images), platform images and signatures go with their image, nothing outside the
//! policy's scope is touched, the cap stops a run, a run cut short resumes from its plan,
//! deletions reach the events with the policy as actor, and bad or unauthorized input is
//! refused with nothing stored.

mod support;

use std::time::Duration;

use app::model::{RetentionItemsPage, RetentionPolicyDetail, RetentionRunView};
use support::{
    admin_registry_client, call, eventually, push_image, registry_tags, user_with_role, Wharf, ADMIN_PASSWORD,
};

async fn digest_of(wharf: &Wharf, repository: &str, tag: &str) -> String {
    admin_registry_client(wharf)
        .manifest_digest(&repository.parse().unwrap(), &tag.parse().unwrap())
        .await
        .unwrap()
}

/// Saves a policy; answers its id.
async fn save_policy(wharf: &Wharf, client: &reqwest::Client, fields: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let mut form: Vec<(&str, &str)> = vec![
        ("id", ""),
        ("name", "policy"),
        ("scope", ""),
        ("keep_last", ""),
        ("keep_pushed_days", ""),
        ("keep_pulled_days", ""),
        ("keep_tags", ""),
        ("schedule", ""),
        ("max_deletions", ""),
    ];
    for (name, value) in fields {
        form.retain(|(n, _)| n != name);
        form.push((name, value));
    }
    call(wharf, client, "save_retention_policy", &form).await
}

async fn policy_page(wharf: &Wharf, client: &reqwest::Client, id: &str) -> RetentionPolicyDetail {
    let (status, body) = call(wharf, client, "retention_policy", &[("id", id)]).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).unwrap()
}

/// Starts a run and waits until it finished.
async fn run_policy(wharf: &Wharf, client: &reqwest::Client, id: &str, dry_run: bool) -> RetentionRunView {
    let dry = if dry_run { "true" } else { "false" };
    let (status, body) = call(wharf, client, "start_retention_run", &[("id", id), ("dry_run", dry)]).await;
    assert_eq!(status, 200, "{body}");
    let run_id = body.as_str().unwrap().to_string();
    wait_for_run(wharf, client, id, &run_id).await
}

async fn wait_for_run(wharf: &Wharf, client: &reqwest::Client, policy: &str, run_id: &str) -> RetentionRunView {
    for _ in 0..240 {
        let page = policy_page(wharf, client, policy).await;
        if let Some(run) = page.runs.iter().find(|r| r.id == run_id && r.finished()) {
            return run.clone();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("run {run_id} did not finish; logs:\n{}", wharf.logs());
}

async fn items(wharf: &Wharf, client: &reqwest::Client, run_id: &str, filter: &str) -> RetentionItemsPage {
    let (status, body) = call(
        wharf,
        client,
        "retention_run_items",
        &[("run_id", run_id), ("filter", filter), ("after", "0")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).unwrap()
}

/// (repository, tags, reason) of each item, sorted.
fn decisions(page: &RetentionItemsPage) -> Vec<(String, String, String)> {
    let mut rows: Vec<_> = page
        .items
        .iter()
        .map(|i| (i.repository.clone(), i.tags.join(","), i.reason.clone()))
        .collect();
    rows.sort();
    rows
}

/// The bytes of the distinct blobs (configs and layers) of these manifests.
async fn distinct_blob_bytes(wharf: &Wharf, database_url: Option<&str>, digests: &[String]) -> i64 {
    blobs_of(wharf, database_url, digests).await.values().sum()
}

/// The distinct blobs (configs and layers) of these manifests, with their sizes.
async fn blobs_of(
    wharf: &Wharf,
    database_url: Option<&str>,
    digests: &[String],
) -> std::collections::BTreeMap<String, i64> {
    let db = match database_url {
        Some(url) => app::backend::db::Db::connect(url).await.unwrap(),
        None => wharf.db().await,
    };
    let mut blobs = std::collections::BTreeMap::new();
    for digest in digests {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT blob_digest, size FROM manifest_blobs WHERE manifest_digest = $1")
                .bind(digest)
                .fetch_all(&db.pool)
                .await
                .unwrap();
        blobs.extend(rows);
    }
    blobs
}

async fn indexed(wharf: &Wharf, client: &reqwest::Client, repository: &str, tags: usize) {
    let found = eventually(120, || async {
        support::indexed_tags(wharf, client, repository).await.len() >= tags
    })
    .await;
    assert!(found, "{repository} indexed with {tags} tags");
}

#[tokio::test]
async fn dry_run_shows_what_the_run_deletes_and_what_belongs_to_an_image_goes_with_it() {
    dry_run_and_run(None).await;
}

/// The same on PostgreSQL (skipped without `WHARF_TEST_POSTGRES_URL`).
#[tokio::test]
async fn dry_run_and_run_on_postgres() {
    let Some(db) = support::postgres_database().await else {
        return;
    };
    dry_run_and_run(Some(db.url.clone())).await;
}

async fn dry_run_and_run(database_url: Option<String>) {
    let wharf = Wharf::start_with(support::Options {
        database_url: database_url.clone(),
        extra_args: vec!["--webhook-allow-network".into(), "127.0.0.1/32".into()],
        ..Default::default()
    })
    .await;
    let registry = wharf.registry_url();
    for tag in ["latest", "v1", "ci-1"] {
        push_image(&registry, "team/app", tag, &[], true);
    }
    push_image(
        &registry,
        "team/app",
        "multi",
        &["--platforms", "linux/amd64,linux/arm64"],
        true,
    );
    let ci1 = digest_of(&wharf, "team/app", "ci-1").await;
    let signature = format!("sha256-{}.sig", ci1.trim_start_matches("sha256:"));
    push_image(&registry, "team/app", &signature, &[], true);
    for tag in ["ci-2", "ci-3"] {
        push_image(&registry, "team/app", tag, &[], true);
    }
    push_image(&registry, "team/lib", "old", &[], true);
    push_image(&registry, "other/app", "ci-1", &[], true);
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    // The signature is shown on its image, not as a tag of its own.
    indexed(&wharf, &admin, "team/app", 6).await;
    indexed(&wharf, &admin, "other/app", 1).await;

    // A webhook hearing of deletes (its receiver need not answer: the delivery is what counts).
    let receiver = format!("http://127.0.0.1:{}/hook", support::free_port());
    let hook = support::webhook_form(&[("name", "deletes"), ("url", &receiver), ("delete", "on")]);
    let hook: Vec<_> = hook.into_iter().filter(|(k, _)| *k != "push").collect();
    let (status, body) = call(&wharf, &admin, "save_webhook", &hook).await;
    assert_eq!(status, 200, "{body}");

    let (status, id) = save_policy(
        &wharf,
        &admin,
        &[
            ("name", "team cleanup"),
            ("scope", "team/"),
            ("keep_last", "1"),
            ("keep_tags", "v*"),
            ("keep_latest", "on"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{id}");
    let id = id.as_str().unwrap().to_string();

    let dry = run_policy(&wharf, &admin, &id, true).await;
    assert_eq!(dry.status, "done", "{dry:?}");
    assert_eq!((dry.images_removed, dry.images_deleted), (6, 0), "{dry:?}");
    assert!(dry.bytes_removed > 0, "{dry:?}");
    let planned = items(&wharf, &admin, &dry.id, "removed").await;
    // No kept image shares a blob with the removed ones: every distinct blob of theirs comes back.
    let removed_digests: Vec<String> = planned.items.iter().map(|i| i.digest.clone()).collect();
    let expected = distinct_blob_bytes(&wharf, database_url.as_deref(), &removed_digests).await;
    assert!(
        expected > 0 && dry.bytes_freed == expected,
        "{dry:?}, expected {expected}"
    );
    let signature_reason = format!("attached to removed image {}", &ci1[..19]);
    let expected_removed: Vec<(String, String, String)> = {
        let mut rows = vec![
            (
                "team/app".to_string(),
                "ci-1".to_string(),
                "no rule keeps it".to_string(),
            ),
            ("team/app".into(), "ci-2".into(), "no rule keeps it".into()),
            ("team/app".into(), "multi".into(), "no rule keeps it".into()),
            ("team/app".into(), signature.clone(), signature_reason),
        ];
        let multi = digest_of(&wharf, "team/app", "multi").await;
        for _ in 0..2 {
            rows.push((
                "team/app".into(),
                String::new(),
                format!("platform image of removed index {}", &multi[..19]),
            ));
        }
        rows.sort();
        rows
    };
    assert_eq!(decisions(&planned), expected_removed);
    let kept = decisions(&items(&wharf, &admin, &dry.id, "kept").await);
    assert!(
        kept.contains(&("team/app".into(), "latest".into(), "tagged latest".into())),
        "{kept:?}"
    );
    assert!(
        kept.contains(&("team/app".into(), "v1".into(), "tag matches v*".into())),
        "{kept:?}"
    );
    assert!(
        kept.contains(&(
            "team/app".into(),
            "ci-3".into(),
            "among the 1 most recently pushed".into()
        )),
        "{kept:?}"
    );
    assert!(
        kept.contains(&(
            "team/lib".into(),
            "old".into(),
            "among the 1 most recently pushed".into()
        )),
        "{kept:?}"
    );
    assert!(
        kept.iter().all(|(repository, ..)| repository.starts_with("team/")),
        "outside the scope: {kept:?}"
    );
    assert_eq!(
        registry_tags(&wharf, "team/app").await.len(),
        7,
        "a dry run deletes nothing"
    );

    // The CSV has every decided image.
    let csv = admin
        .get(format!("{}{}", wharf.url, app::urls::retention_items_csv(&dry.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let csv = csv.text().await.unwrap();
    assert_eq!(csv.lines().count(), 1 + 6 + 4, "{csv}");
    assert!(csv.starts_with("repository,digest,tags,"), "{csv}");

    let run = run_policy(&wharf, &admin, &id, false).await;
    assert_eq!(run.status, "done", "{run:?}");
    assert_eq!(
        (run.images_removed, run.images_deleted, run.images_failed),
        (6, 6, 0),
        "{run:?}"
    );
    let deleted = items(&wharf, &admin, &run.id, "removed").await;
    assert_eq!(
        decisions(&deleted),
        expected_removed,
        "the run deleted what the dry run showed"
    );
    assert!(
        deleted.items.iter().all(|i| i.state == "deleted"),
        "{:?}",
        deleted.items
    );
    assert_eq!(registry_tags(&wharf, "team/app").await, vec!["ci-3", "latest", "v1"]);
    assert_eq!(
        registry_tags(&wharf, "other/app").await,
        vec!["ci-1"],
        "outside the scope"
    );
    assert_eq!(registry_tags(&wharf, "team/lib").await, vec!["old"]);
    let client = admin_registry_client(&wharf);
    let gone = client
        .get_manifest(&"team/app".parse().unwrap(), &ci1.parse().unwrap())
        .await;
    assert!(gone.is_err(), "the image is gone from the registry, not only untagged");

    // The deletes reach the webhooks with the policy as actor.
    let db = match &database_url {
        Some(url) => app::backend::db::Db::connect(url).await.unwrap(),
        None => wharf.db().await,
    };
    let named = eventually(120, || async {
        let payloads: Vec<String> = sqlx::query_scalar(
            "SELECT payload FROM webhook_deliveries WHERE kind = 'event' AND payload LIKE '%\"delete\"%'",
        )
        .fetch_all(&db.pool)
        .await
        .unwrap();
        payloads.len() >= 4 && payloads.iter().all(|p| p.contains("retention policy team cleanup"))
    })
    .await;
    let payloads: Vec<String> = sqlx::query_scalar("SELECT payload FROM webhook_deliveries")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert!(named, "delete deliveries name the policy: {payloads:?}");
    let audit: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'retention run'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(audit >= 4, "runs are audited: {audit}");
}

#[tokio::test]
async fn a_run_stops_at_its_cap_and_one_cut_short_resumes_from_its_plan() {
    let mut wharf = Wharf::start().await;
    let registry = wharf.registry_url();
    for tag in ["a", "b", "c", "keep"] {
        push_image(&registry, "capped/x", tag, &[], true);
    }
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    indexed(&wharf, &admin, "capped/x", 4).await;
    let (status, id) = save_policy(
        &wharf,
        &admin,
        &[
            ("name", "capped"),
            ("scope", "capped/"),
            ("keep_tags", "keep"),
            ("max_deletions", "1"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{id}");
    let id = id.as_str().unwrap().to_string();
    let run = run_policy(&wharf, &admin, &id, false).await;
    assert!(run.capped, "{run:?}");
    assert_eq!((run.images_deleted, run.images_skipped), (1, 2), "{run:?}");
    assert_eq!(
        registry_tags(&wharf, "capped/x").await,
        vec!["b", "c", "keep"],
        "the oldest went first"
    );

    // A run whose process died while deleting: its plan is in the database, its lease ran out.
    let dry = run_policy(&wharf, &admin, &id, true).await;
    wharf.stop();
    let db = wharf.db().await;
    let resumed = "resumed-run";
    sqlx::query(
        "INSERT INTO retention_runs (id, policy_id, dry_run, trigger_kind, actor, status, active_policy, requested_at, \
         started_at, claimed_by, lease_until, attempts, next_attempt_at, images_removed) \
         VALUES ($1, $2, 0, 'manual', 'admin', 'deleting', $2, 1, 1, 'gone/retention/x/y', 2, 1, 1, 1)",
    )
    .bind(resumed)
    .bind(&id)
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO retention_run_items (run_id, seq, repository, digest, tags, pushed_at, last_pulled_at, size_bytes, \
         keep, reason, grp, state) SELECT $1, seq, repository, digest, tags, pushed_at, last_pulled_at, size_bytes, keep, \
         reason, grp, state FROM retention_run_items WHERE run_id = $2",
    )
    .bind(resumed)
    .bind(&dry.id)
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO retention_run_packs (run_id, first_seq, last_seq, repository, kept, skipped, items) \
         SELECT $1, first_seq, last_seq, repository, kept, skipped, items FROM retention_run_packs WHERE run_id = $2",
    )
    .bind(resumed)
    .bind(&dry.id)
    .execute(&db.pool)
    .await
    .unwrap();
    drop(db);
    wharf.restart().await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let run = wait_for_run(&wharf, &admin, &id, resumed).await;
    assert_eq!(run.status, "done", "{run:?}");
    assert_eq!(
        registry_tags(&wharf, "capped/x").await,
        vec!["c", "keep"],
        "the planned group was deleted"
    );
}

#[tokio::test]
async fn bad_rules_and_callers_without_delete_rights_are_refused_with_nothing_stored() {
    let wharf = Wharf::start().await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let long_name = "n".repeat(101);
    let bad: [&[(&str, &str)]; 8] = [
        &[("keep_tags", "^(unclosed")],
        &[("keep_last", "0")],
        &[("keep_last", "many")],
        &[("keep_pushed_days", "10001")],
        &[("schedule", "0 3 * *"), ("keep_last", "1")],
        &[("name", &long_name), ("keep_last", "1")],
        &[("scope", "team/../x/"), ("keep_last", "1")],
        // No rule at all: it would keep nothing.
        &[],
    ];
    for fields in bad {
        let (status, body) = save_policy(&wharf, &admin, fields).await;
        assert_eq!(status, 400, "{fields:?}: {body}");
    }
    let (status, body) = save_policy(&wharf, &admin, &[("keep_tags", &"x\n".repeat(3000))]).await;
    assert_eq!(status, 400, "{body}");
    let db = wharf.db().await;
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM retention_policies")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);

    let (status, id) = save_policy(
        &wharf,
        &admin,
        &[("name", "team"), ("scope", "team/"), ("keep_last", "3")],
    )
    .await;
    assert_eq!(status, 200, "{id}");
    let id = id.as_str().unwrap().to_string();
    let reader = user_with_role(&wharf, &admin, "reader", "Reader", "team/").await;
    let (status, _) = save_policy(&wharf, &reader, &[("scope", "team/"), ("keep_last", "1")]).await;
    assert_eq!(status, 403, "a Reader may not manage retention");
    let (status, _) = call(
        &wharf,
        &reader,
        "start_retention_run",
        &[("id", &id), ("dry_run", "false")],
    )
    .await;
    assert_eq!(status, 403);
    let elsewhere = user_with_role(&wharf, &admin, "other", "Contributor", "other/").await;
    let (status, _) = save_policy(&wharf, &elsewhere, &[("scope", "team/"), ("keep_last", "1")]).await;
    assert_eq!(status, 403, "not over the scope");
    let (status, _) = call(&wharf, &elsewhere, "retention_policy", &[("id", &id)]).await;
    assert_eq!(status, 404, "another scope's policy is not found");
    let (status, _) = call(
        &wharf,
        &elsewhere,
        "start_retention_run",
        &[("id", &id), ("dry_run", "false")],
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(&wharf, &elsewhere, "delete_retention_policy", &[("id", &id)]).await;
    assert_eq!(status, 404);
    let (status, body) = call(&wharf, &elsewhere, "retention_policies", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["policies"].as_array().unwrap().len(), 0, "{body}");
    let csv = elsewhere
        .get(format!("{}{}", wharf.url, app::urls::retention_items_csv("nope")))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 404);
    let anonymous = reqwest::Client::new()
        .get(format!("{}{}", wharf.url, app::urls::retention_items_csv("nope")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let contributor = user_with_role(&wharf, &admin, "contributor", "Contributor", "team/").await;
    let (status, body) = call(&wharf, &contributor, "retention_policy", &[("id", &id)]).await;
    assert_eq!(status, 200, "a Contributor of the scope manages it: {body}");
    assert_eq!(wharf.page(&admin, "/healthz").await.0, 200, "still up");
}

#[tokio::test]
async fn an_image_pulled_by_a_client_is_kept_by_the_pulled_within_rule() {
    let wharf = Wharf::start().await;
    let registry = wharf.registry_url();
    for tag in ["pulled", "idle"] {
        push_image(&registry, "pulls/app", tag, &[], true);
    }
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    indexed(&wharf, &admin, "pulls/app", 2).await;
    // A real client pull (one manifest GET) through the console's token server.
    let image = format!("docker://{}/pulls/app:pulled", wharf.registry_host);
    let creds = format!("admin:{ADMIN_PASSWORD}");
    let output = support::skopeo(&["inspect", "--tls-verify=false", "--raw", "--creds", &creds, &image]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let db = wharf.db().await;
    let counted = eventually(60, || async {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM manifest_pulls WHERE repository = 'pulls/app'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        count == 1
    })
    .await;
    assert!(counted, "the pull was counted");

    let (status, id) = save_policy(&wharf, &admin, &[("scope", "pulls/"), ("keep_pulled_days", "1")]).await;
    assert_eq!(status, 200, "{id}");
    let dry = run_policy(&wharf, &admin, id.as_str().unwrap(), true).await;
    let all = decisions(&items(&wharf, &admin, &dry.id, "all").await);
    assert_eq!(
        all,
        vec![
            (
                "pulls/app".to_string(),
                "idle".to_string(),
                "no rule keeps it".to_string()
            ),
            ("pulls/app".into(), "pulled".into(), "pulled within 1 days".into()),
        ]
    );
}

#[tokio::test]
async fn a_scheduled_policy_runs_when_its_time_comes_and_moves_to_the_next() {
    let wharf = Wharf::start().await;
    push_image(&wharf.registry_url(), "nightly/app", "old", &[], true);
    push_image(&wharf.registry_url(), "nightly/app", "new", &[], true);
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    indexed(&wharf, &admin, "nightly/app", 2).await;
    let (status, id) = save_policy(
        &wharf,
        &admin,
        &[("scope", "nightly/"), ("keep_last", "1"), ("schedule", "0 3 * * *")],
    )
    .await;
    assert_eq!(status, 200, "{id}");
    let id = id.as_str().unwrap().to_string();
    let page = policy_page(&wharf, &admin, &id).await;
    let next = page.policy.next_run_at.expect("a scheduled policy has a next run");
    assert!(next > app::backend::db::now_ms(), "in the future");
    assert!(page.runs.is_empty(), "nothing ran yet");
    assert!(page.policy.schedule_text.is_some());

    // Its time comes (the clock is not moved: the stored time is).
    let db = wharf.db().await;
    sqlx::query("UPDATE retention_policies SET next_run_at = 1 WHERE id = $1")
        .bind(&id)
        .execute(&db.pool)
        .await
        .unwrap();
    let ran = eventually(120, || async {
        let page = policy_page(&wharf, &admin, &id).await;
        page.runs
            .first()
            .is_some_and(|r| r.finished() && r.trigger == "schedule")
    })
    .await;
    assert!(ran, "the scheduled run ran");
    let page = policy_page(&wharf, &admin, &id).await;
    assert_eq!(page.runs.len(), 1, "once");
    let run = &page.runs[0];
    assert!(!run.dry_run && run.actor == "schedule", "{run:?}");
    assert_eq!(run.images_deleted, 1, "{run:?}");
    assert_eq!(registry_tags(&wharf, "nightly/app").await, vec!["new"]);
    assert!(
        page.policy.next_run_at.unwrap() > app::backend::db::now_ms(),
        "moved on"
    );
}

#[tokio::test]
async fn bytes_an_image_kept_elsewhere_holds_are_not_counted_as_freed() {
    let wharf = Wharf::start().await;
    let registry = wharf.registry_url();
    // The same image (same content, same digest) in two repositories, and one of its own.
    push_image(&registry, "shared/app", "old", &["--seed", "42"], true);
    push_image(&registry, "kept/app", "copy", &["--seed", "42"], true);
    push_image(&registry, "shared/app", "own", &["--seed", "43"], true);
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    indexed(&wharf, &admin, "shared/app", 2).await;
    indexed(&wharf, &admin, "kept/app", 1).await;
    let (status, id) = save_policy(&wharf, &admin, &[("scope", "shared/"), ("keep_tags", "none")]).await;
    assert_eq!(status, 200, "{id}");
    let dry = run_policy(&wharf, &admin, id.as_str().unwrap(), true).await;
    assert_eq!(dry.images_removed, 2, "{dry:?}");
    let removed = items(&wharf, &admin, &dry.id, "removed").await;
    // The copy has a config of its own (the generator records the repository) but the same
    // layers: those stay; the removed images' other blobs come back.
    let removed_digests: Vec<String> = removed.items.iter().map(|i| i.digest.clone()).collect();
    let copy = digest_of(&wharf, "kept/app", "copy").await;
    let kept = blobs_of(&wharf, None, &[copy]).await;
    let expected: i64 = blobs_of(&wharf, None, &removed_digests)
        .await
        .iter()
        .filter(|(blob, _)| !kept.contains_key(*blob))
        .map(|(_, size)| size)
        .sum();
    assert!(!kept.is_empty() && expected > 0);
    assert_eq!(
        dry.bytes_freed, expected,
        "blobs the kept copy holds are not freed: {dry:?}"
    );
    assert!(dry.bytes_removed > dry.bytes_freed, "{dry:?}");
}
