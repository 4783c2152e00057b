//! `http-latency`: sequential requests against a running Wharf whose index was seeded by
//! `seed-index`. Each case is measured twice: the full server-rendered page (what a first visit
//! or a reload costs) and the server function the hydrated app calls when it navigates.
//! Requests ask for `br, gzip` like a browser, so compression is part of the time.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde_json::json;

use crate::http::Session;
use crate::stats::Summary;

const ENCODING: &str = "br, gzip";
const WARM_UP: usize = 10;

#[derive(Debug, Args)]
pub struct LatencyArgs {
    #[arg(long)]
    url: String,
    #[arg(long)]
    password: String,
    /// The file `seed-index` wrote.
    #[arg(long)]
    seed: PathBuf,
    /// Measured requests per case and kind (page, server function).
    #[arg(long, default_value_t = 200)]
    requests: usize,
    #[arg(long)]
    out: PathBuf,
    /// Only the cases whose name contains this text.
    #[arg(long)]
    only: Option<String>,
}

/// One thing a user looks at: its page and the server function behind it.
struct Case {
    name: String,
    path: String,
    endpoint: &'static str,
    form: Vec<(&'static str, String)>,
    /// Text the uncompressed page must contain (checks the case shows what it should).
    expect: String,
    /// `{n}` in the path and the form becomes a different text for every request (see
    /// [`typed`]): search as you type, where nothing was counted for the text before.
    typing: bool,
}

/// The `n`th text of the search-as-you-type case: `042/service-3` and so on, 1,000 different
/// texts, each matching about a thousandth of the repositories (in one namespace, one leading
/// digit).
fn typed(n: usize) -> String {
    format!("{:02}/service-{}", n % 100, (n / 100) % 10)
}

impl Case {
    fn path(&self, n: usize) -> String {
        if self.typing {
            self.path.replace("{n}", &typed(n))
        } else {
            self.path.clone()
        }
    }

    fn form(&self, n: usize) -> Vec<(&'static str, String)> {
        self.form
            .iter()
            .map(|(k, v)| {
                (
                    *k,
                    if self.typing {
                        v.replace("{n}", &typed(n))
                    } else {
                        v.clone()
                    },
                )
            })
            .collect()
    }
}

pub async fn run(args: LatencyArgs) -> Result<(), String> {
    let seed = crate::read_json(&args.seed)?;
    crate::http::wait_healthy(&args.url, Duration::from_secs(60)).await?;
    let session = Session::sign_in(&args.url, &args.password).await?;
    let mut results = Vec::new();
    let chosen = cases(&seed)?
        .into_iter()
        .filter(|c| args.only.as_ref().is_none_or(|only| c.name.contains(only.as_str())));
    for case in chosen {
        check(&session, &case).await?;
        let (mut page_n, mut api_n) = (0, 1);
        let page = measure(args.requests, || {
            page_n += 2;
            let path = case.path(page_n);
            let session = &session;
            async move { session.get(&path, Some(ENCODING)).await }
        })
        .await?;
        let api = measure(args.requests, || {
            api_n += 2;
            let form = case.form(api_n);
            let (session, endpoint) = (&session, case.endpoint);
            async move {
                let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                session.call(endpoint, &form, Some(ENCODING)).await
            }
        })
        .await?;
        println!(
            "{:<48} page p50 {:>7.2} ms  p95 {:>7.2} ms | api p50 {:>7.2} ms  p95 {:>7.2} ms",
            case.name, page.0.p50, page.0.p95, api.0.p50, api.0.p95
        );
        results.push(json!({
            "case": case.name,
            "path": case.path,
            "endpoint": format!("/api/{}", case.endpoint),
            "page": page.0.to_json(),
            "page_bytes": page.1,
            "api": api.0.to_json(),
            "api_bytes": api.1,
        }));
    }
    crate::write_json(&args.out, &json!({"requests": args.requests, "cases": results}))
}

fn cases(seed: &serde_json::Value) -> Result<Vec<Case>, String> {
    let text = |key: &str| {
        seed[key]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("the seed file has no {key}"))
    };
    let big = text("big_repository")?;
    let big_tags = seed["big_repository_tags"].as_u64().unwrap_or(0);
    let digest = text("big_repository_digest")?;
    let small = text("small_repository")?;
    let first = text("first_repository")?;
    let narrow = text("search_narrow")?;
    let wide = text("search_wide")?;
    let namespace = text("namespace")?;
    let repositories = seed["repositories"].as_u64().unwrap_or(0);
    let deep_page = (repositories / 50 / 2).max(1);
    let catalog = |name: String, params: &str, search: &str, sort: &str, ns: &str, page: u64, expect: &str| Case {
        name,
        path: format!("/{params}"),
        endpoint: "catalog",
        form: vec![
            ("query[search]", search.to_string()),
            ("query[sort]", sort.to_string()),
            ("query[namespace]", ns.to_string()),
            ("query[page]", page.to_string()),
        ],
        expect: expect.to_string(),
        typing: false,
    };
    let repository = |name: String, repo: &str, page: u64, expect: &str| Case {
        name,
        path: if page > 1 {
            format!("/r/{repo}?page={page}")
        } else {
            format!("/r/{repo}")
        },
        endpoint: "repository",
        form: vec![
            ("name", repo.to_string()),
            ("filter", String::new()),
            ("page", page.to_string()),
        ],
        expect: expect.to_string(),
        typing: false,
    };
    Ok(vec![
        catalog("catalog, sort by name".into(), "", "", "Name", "", 1, &first),
        catalog(
            "catalog, sort by last push".into(),
            "?sort=pushed",
            "",
            "LastPush",
            "",
            1,
            "service-",
        ),
        catalog("catalog, sort by tags".into(), "?sort=tags", "", "Tags", "", 1, &big),
        catalog(
            "catalog, sort by size".into(),
            "?sort=size",
            "",
            "Size",
            "",
            1,
            "service-",
        ),
        catalog(
            format!("catalog, page {deep_page} (sort by name)"),
            &format!("?page={deep_page}"),
            "",
            "Name",
            "",
            deep_page,
            "service-",
        ),
        catalog(
            format!("search \"{narrow}\" (substring, few matches)"),
            &format!("?q={narrow}"),
            &narrow,
            "Name",
            "",
            1,
            &format!("{narrow}0"),
        ),
        catalog(
            format!("search \"{wide}\" (substring, 10% match)"),
            &format!("?q={wide}"),
            &wide,
            "Name",
            "",
            1,
            &wide,
        ),
        Case {
            typing: true,
            ..catalog(
                "search as you type: a new text every request (\"00/service-0\", \"02/service-0\", …)".into(),
                "?q={n}",
                "{n}",
                "Name",
                "",
                1,
                "/service-",
            )
        },
        catalog(
            format!("search \"{namespace}/\" (namespace prefix)"),
            &format!("?q={namespace}/"),
            &format!("{namespace}/"),
            "Name",
            "",
            1,
            &format!("{namespace}/"),
        ),
        catalog(
            format!("namespace filter {namespace}"),
            &format!("?ns={namespace}"),
            "",
            "Name",
            &namespace,
            1,
            &format!("{namespace}/"),
        ),
        repository(format!("repository with {big_tags} tags, page 1"), &big, 1, "build-"),
        repository(
            format!("repository with {big_tags} tags, page {}", (big_tags / 50).max(1)),
            &big,
            (big_tags / 50).max(1),
            "build-",
        ),
        Case {
            name: format!("tag filter \"00042\" in the repository with {big_tags} tags (substring)"),
            path: format!("/r/{big}?filter=00042"),
            endpoint: "repository",
            form: vec![
                ("name", big.clone()),
                ("filter", "00042".to_string()),
                ("page", "1".to_string()),
            ],
            expect: "build-00042".into(),
            typing: false,
        },
        repository("repository with 10 tags".into(), &small, 1, "1.0."),
        Case {
            name: "storage insights (whole registry)".into(),
            path: "/housekeeping/storage".into(),
            endpoint: "storage_insights",
            form: Vec::new(),
            expect: "Storage per namespace".into(),
            typing: false,
        },
        Case {
            name: "storage: images not pulled for 90 days, page 2".into(),
            path: "/housekeeping/storage?page=2".into(),
            endpoint: "unpulled_images",
            form: vec![("query[namespace]", String::new()), ("query[page]", "2".to_string())],
            expect: "Images not pulled for 90 days".into(),
            typing: false,
        },
        Case {
            name: "manifest page (cached)".into(),
            path: format!("/r/{big}@{digest}"),
            endpoint: "manifest",
            form: vec![("repository", big.clone()), ("reference", digest.clone())],
            // The history comes from the cached config: the page was served without the registry.
            expect: "layer-0.bin".into(),
            typing: false,
        },
    ])
}

/// One uncompressed request of each kind: both must answer 200, the page must show `expect`.
async fn check(session: &Session, case: &Case) -> Result<(), String> {
    let path = case.path(0);
    let page = session.get(&path, None).await?;
    if page.status != 200 || !page.text().contains(&case.expect) {
        return Err(format!(
            "{} ({path}) answered {} without {:?}: the seeded index is not what the server shows",
            case.name, page.status, case.expect
        ));
    }
    let form = case.form(0);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    session.call_json(case.endpoint, &form).await.map(|_| ())
}

/// Warm-up, then `count` sequential requests: their summary and the size of the last answer.
async fn measure<F, Fut>(count: usize, mut request: F) -> Result<(Summary, usize), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<crate::http::Answer, String>>,
{
    let mut samples = Vec::with_capacity(count);
    let mut bytes = 0;
    for i in 0..WARM_UP + count {
        let answer = request().await?;
        if answer.status != 200 {
            return Err(format!("answered {}: {}", answer.status, answer.text()));
        }
        if i >= WARM_UP {
            samples.push(answer.elapsed.as_secs_f64() * 1000.0);
        }
        bytes = answer.body.len();
    }
    Ok((Summary::of(&samples), bytes))
}
