//! `report`: reads the JSON files the other steps wrote into one directory and writes the
//! markdown page (`docs/benchmarks.md`), each target with its measured figure and whether it
//! was met. A step whose file is missing shows up as "not measured".

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::Value;

/// Server-side p95 target.
const P95_TARGET_MS: f64 = 50.0;
/// Wharf must be at least this many times faster than the crawl.
const SPEEDUP_TARGET: f64 = 5.0;
const RECONCILE_TARGET_S: f64 = 60.0;
/// A periodic reconcile that finds nothing changed.
const NOTHING_CHANGED_TARGET_S: f64 = 10.0;
/// wasm + JS + CSS, compressed; 1 KB = 1000 bytes.
const TRANSFER_TARGET_BYTES: f64 = 350_000.0;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The directory the other steps wrote their JSON files into.
    #[arg(long)]
    dir: PathBuf,
    /// The markdown file to write.
    #[arg(long)]
    out: PathBuf,
    /// The command that produced the results, as a user types it.
    #[arg(long, default_value = "scripts/bench browse")]
    command: String,
    /// Wall time of the whole run, seconds.
    #[arg(long)]
    duration: Option<u64>,
}

/// The results of every step; `Null` where a step wrote nothing.
struct Results {
    /// The server-side runs: 10,000 repositories, 100,000 on SQLite, 100,000 on PostgreSQL.
    servers: Vec<ServerSide>,
    push: Value,
    reconcile: Value,
    browser: Value,
    transfer: Value,
}

/// One server-side run: `seed$SUFFIX.json`, `latency$SUFFIX.json`, `footprint$SUFFIX.json`.
struct ServerSide {
    seed: Value,
    latency: Value,
    footprint: Value,
    /// A retention dry run over the same index (`retention$SUFFIX.json`), when one was timed.
    retention: Value,
    /// The commit this step was measured at again after the run, when those results were put
    /// in with the rest (`commit-rerun{suffix}`, written next to them); empty otherwise.
    commit: String,
}

impl ServerSide {
    /// "SQLite" or "PostgreSQL", as the seed recorded it.
    fn database(&self) -> &'static str {
        if self.seed["database"].as_str() == Some("postgres") {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    }
}

/// Suffixes of the server-side runs' result files.
const SERVER_RUNS: [&str; 3] = ["", "-large", "-large-pg"];

impl Results {
    fn load(dir: &Path) -> Results {
        let read = |name: &str| crate::read_json(&dir.join(name)).unwrap_or(Value::Null);
        Results {
            servers: SERVER_RUNS
                .iter()
                .map(|suffix| ServerSide {
                    seed: read(&format!("seed{suffix}.json")),
                    latency: read(&format!("latency{suffix}.json")),
                    footprint: read(&format!("footprint{suffix}.json")),
                    retention: read(&format!("retention{suffix}.json")),
                    commit: std::fs::read_to_string(dir.join(format!("commit-rerun{suffix}")))
                        .map(|c| c.trim().to_string())
                        .unwrap_or_default(),
                })
                .collect(),
            push: read("push.json"),
            reconcile: read("reconcile.json"),
            browser: read("browser.json"),
            transfer: read("transfer.json"),
        }
    }
}

pub fn run(args: ReportArgs) -> Result<(), String> {
    let results = Results::load(&args.dir);
    let mut md = String::new();
    header(&mut md, &args);
    summary(&mut md, &results);
    for run in &results.servers {
        server_side(&mut md, run);
        retention(&mut md, run);
    }
    browser(&mut md, &results);
    reconcile(&mut md, &results);
    transfer(&mut md, &results);
    method(&mut md, &args);
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(&args.out, &md).map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    println!("{md}");
    Ok(())
}

fn yes_no(met: bool) -> &'static str {
    if met {
        "yes"
    } else {
        "**no**"
    }
}

fn num(value: &Value) -> Option<f64> {
    value.as_f64()
}

/// `12,345`
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn kb(bytes: f64) -> String {
    format!("{:.1} KB", bytes / 1000.0)
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let memory_gib = read("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<f64>().ok())
        .map(|kib| kib / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    let os = read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "unknown OS".into());
    format!("{cores} cores ({cpu}), {memory_gib:.0} GiB RAM, {os}")
}

fn today() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!("{:04}-{:02}-{:02}", now.year(), u8::from(now.month()), now.day())
}

fn header(md: &mut String, args: &ReportArgs) {
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "<!-- Written by `{}`; change the benchmark, not this file. -->\n",
        args.command
    );
    let _ = writeln!(
        md,
        "How fast Wharf shows a large registry: server-side latency on a big index, page loads in \
         Chromium against a real registry next to a client-side crawl of the same data, the \
         reconcile that builds the index, and what the first page load downloads. Webhook intake \
         and delivery are measured by `scripts/bench webhooks`: \
         [benchmarks-webhooks.md](benchmarks-webhooks.md); the token server by `scripts/bench \
         access`: [benchmarks-access.md](benchmarks-access.md); two replicas on one PostgreSQL \
         next to one console, live updates across replicas and the container image's size by \
         `scripts/bench replicas`: [benchmarks-replicas.md](benchmarks-replicas.md).\n"
    );
    let _ = writeln!(md, "- Measured: {} (UTC), with `{}`", today(), args.command);
    let _ = writeln!(md, "- Machine: {}", machine());
    let commit = std::fs::read_to_string(args.dir.join("commit")).unwrap_or_default();
    let _ = writeln!(
        md,
        "- Code: commit `{}`, release build (`cargo leptos build --release --split`); database SQLite (the default)",
        if commit.trim().is_empty() {
            "unknown"
        } else {
            commit.trim()
        }
    );
    if let Some(seconds) = args.duration {
        let _ = writeln!(md, "- Whole run: {} min {:02} s", seconds / 60, seconds % 60);
    }
    let load = |name: &str| std::fs::read_to_string(args.dir.join(name)).unwrap_or_default();
    let (load_start, load_end) = (load("load-start"), load("load-end"));
    if let (Some(start), Some(end)) = (load_start.split_whitespace().next(), load_end.split_whitespace().next()) {
        let _ = writeln!(
            md,
            "- Load average (1 min) at the start and at the end of the run: {start}, {end}"
        );
    }
    let _ = writeln!(
        md,
        "\nOne run on a shared build machine: other work ran next to it, so single figures can \
         be off by tens of percent. Nothing fails on a slow figure; the tables only say whether \
         a target was met.\n"
    );
}

fn summary(md: &mut String, r: &Results) {
    let _ = writeln!(md, "## Targets\n");
    let _ = writeln!(md, "| target | measured | met? |\n| --- | --- | --- |");
    let not_measured = "not measured (the step failed; see the run's output)";
    // Server side: the worst p95 over every case, page and server function, per index size.
    for run in &r.servers {
        let seed = &run.seed;
        let size = format!(
            "{} repositories, {}",
            thousands(seed["repositories"].as_u64().unwrap_or(0)),
            run.database()
        );
        match worst_p95(&run.latency) {
            Some((p95, case)) => {
                let _ = writeln!(
                    md,
                    "| server p95 < {P95_TARGET_MS:.0} ms, every case, {size} | worst p95 {p95:.1} ms ({case}) | {} |",
                    yes_no(p95 < P95_TARGET_MS)
                );
            }
            None if seed.is_null() => {}
            None => {
                let _ = writeln!(
                    md,
                    "| server p95 < {P95_TARGET_MS:.0} ms, every case, {size} | {not_measured} | — |"
                );
            }
        }
    }
    for (key, what) in [
        ("catalog", "catalog rows painted"),
        ("repository", "repository tag table complete"),
    ] {
        for (visit, visit_name) in [("cold", "first visit"), ("repeat", "repeat visit")] {
            let wharf = num(&r.browser["wharf"][key][visit]["median"]);
            let crawl = num(&r.browser["crawl"][key][visit]["median"]);
            let target = format!("{what}, {visit_name}: Wharf ≥ {SPEEDUP_TARGET:.0}× faster than a crawl");
            let _ = match (wharf, crawl) {
                (Some(w), Some(c)) => {
                    let ratio = c / w.max(0.001);
                    writeln!(
                        md,
                        "| {target} | Wharf {w:.0} ms, crawl {c:.0} ms: {ratio:.1}× | {} |",
                        yes_no(ratio >= SPEEDUP_TARGET)
                    )
                }
                _ => writeln!(md, "| {target} | {not_measured} | — |"),
            };
        }
    }
    if let Some(w) = num(&r.browser["wharf"]["repository"]["in_app"]["median"]) {
        let c = num(&r.browser["crawl"]["repository"]["repeat"]["median"]).unwrap_or(0.0);
        let ratio = c / w.max(0.001);
        let _ = writeln!(
            md,
            "| repository tag table complete, in-app navigation: Wharf ≥ {SPEEDUP_TARGET:.0}× faster than a crawl | Wharf {w:.0} ms, crawl {c:.0} ms: {ratio:.1}× | {} |",
            yes_no(ratio >= SPEEDUP_TARGET)
        );
    }
    let first = &r.reconcile["first"];
    match (
        num(&first["ready_seconds"]).or(num(&first["seconds"])),
        num(&first["seconds"]),
    ) {
        (Some(ready), Some(seconds)) => {
            let _ = writeln!(
                md,
                "| first index from an empty database (every repository, tag, digest and size) < {RECONCILE_TARGET_S:.0} s | {ready:.1} s ({}); image details complete at {seconds:.1} s | {} |",
                registry_size(r),
                yes_no(ready < RECONCILE_TARGET_S)
            );
        }
        _ => {
            let _ = writeln!(
                md,
                "| first index from an empty database < {RECONCILE_TARGET_S:.0} s | {not_measured} | — |"
            );
        }
    }
    if let Some(seconds) = num(&r.reconcile["periodic"]["seconds"]) {
        let _ = writeln!(
            md,
            "| periodic reconcile that finds nothing changed < {NOTHING_CHANGED_TARGET_S:.0} s | {seconds:.1} s on the timer (Resync now, which checks every tag: {:.1} s) | {} |",
            num(&r.reconcile["second"]["seconds"]).unwrap_or(0.0),
            yes_no(seconds < NOTHING_CHANGED_TARGET_S)
        );
    }
    match num(&r.transfer["total"]["br"]) {
        Some(br) => {
            let gzip = num(&r.transfer["total"]["gzip"]).unwrap_or(0.0);
            let _ = writeln!(
                md,
                "| first load, wasm + JS + CSS compressed ≤ 350 KB | {} brotli ({} gzip) | {} |",
                kb(br),
                kb(gzip),
                yes_no(br <= TRANSFER_TARGET_BYTES)
            );
        }
        None => {
            let _ = writeln!(
                md,
                "| first load, wasm + JS + CSS compressed ≤ 350 KB | {not_measured} | — |"
            );
        }
    }
    let _ = writeln!(md);
}

fn registry_size(r: &Results) -> String {
    let repositories = r.push["repositories"].as_u64().unwrap_or(0);
    let tags = r.push["tags_per_repo"].as_u64().unwrap_or(0);
    format!("{} repositories × {tags} tags", thousands(repositories))
}

/// The largest p95 of any case (page or server function), with its name.
fn worst_p95(latency: &Value) -> Option<(f64, String)> {
    let cases = latency["cases"].as_array()?;
    cases
        .iter()
        .flat_map(|case| {
            let name = case["case"].as_str().unwrap_or("?").to_string();
            [
                num(&case["page"]["p95_ms"]).map(|p| (p, format!("{name}, page"))),
                num(&case["api"]["p95_ms"]).map(|p| (p, format!("{name}, server fn"))),
            ]
        })
        .flatten()
        .max_by(|a, b| a.0.total_cmp(&b.0))
}

fn server_side(md: &mut String, run: &ServerSide) {
    let (seed, latency, footprint) = (&run.seed, &run.latency, &run.footprint);
    if seed.is_null() && latency.is_null() {
        return;
    }
    let database = run.database();
    let _ = writeln!(
        md,
        "## Server side: an index of {} repositories on {database}\n",
        thousands(seed["repositories"].as_u64().unwrap_or(0))
    );
    let Some(cases) = latency["cases"].as_array() else {
        let _ = writeln!(md, "Not measured in this run.\n");
        return;
    };
    if !run.commit.is_empty() {
        let _ = writeln!(
            md,
            "Measured again at commit `{}`, after the run: `bench_browse http-latency` with the \
             same cases and requests against the same seed (`bench_browse seed-index`, same sizes), \
             on a server and database started as above.\n",
            run.commit
        );
    }
    let _ = writeln!(
        md,
        "The index holds {} repositories with {} tags ({} manifests; every fifth image a \
         two-platform index), among them `{}` with {} tags whose manifests and configs are in \
         the blob cache. It was written straight into a fresh {database} database made by the real \
         migrations (`seed-index`, {:.0} s), and the server was started on it with \
         `--registry-url` pointing at a port where nothing listens and `--reconcile-interval 0`, \
         so nothing changes the index while it is measured (the pages show the \"registry cannot \
         be reached\" banner).\n",
        thousands(seed["repositories"].as_u64().unwrap_or(0)),
        thousands(seed["tags"].as_u64().unwrap_or(0)),
        thousands(seed["manifests"].as_u64().unwrap_or(0)),
        seed["big_repository"].as_str().unwrap_or("?"),
        thousands(seed["big_repository_tags"].as_u64().unwrap_or(0)),
        num(&seed["seconds"]).unwrap_or(0.0),
    );
    if let (Some(idle), Some(peak), Some(bytes)) = (
        num(&footprint["rss_idle_kib"]),
        num(&footprint["rss_peak_kib"]),
        num(&footprint["database_bytes"]),
    ) {
        let _ = writeln!(
            md,
            "Wharf's memory (RSS): {:.0} MiB idle after start, {:.0} MiB at its peak while serving \
             the cases below. The database ({}): {:.0} MiB.\n",
            idle / 1024.0,
            peak / 1024.0,
            if database == "SQLite" {
                "the SQLite file and its WAL"
            } else {
                "`pg_database_size`"
            },
            bytes / 1048576.0
        );
    }
    let _ = writeln!(
        md,
        "Each case: 10 warm-up requests, then {} sequential requests by one signed-in client \
         with `Accept-Encoding: br, gzip`, timed to the last byte. *Page* is the full \
         server-rendered page (a first visit or reload); *server fn* is the POST the hydrated app \
         makes when it navigates. Milliseconds.\n",
        latency["requests"]
    );
    let _ = writeln!(
        md,
        "| case | page p50 | page p95 | page max | server fn p50 | server fn p95 | server fn max | p95 < {P95_TARGET_MS:.0} ms? |"
    );
    let _ = writeln!(md, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    for case in cases {
        let cell = |kind: &str, key: &str| num(&case[kind][key]).map(|v| format!("{v:.1}")).unwrap_or_default();
        let worst = num(&case["page"]["p95_ms"])
            .unwrap_or(f64::MAX)
            .max(num(&case["api"]["p95_ms"]).unwrap_or(f64::MAX));
        let _ = writeln!(
            md,
            "| {} (`{}`) | {} | {} | {} | {} | {} | {} | {} |",
            case["case"].as_str().unwrap_or("?"),
            case["path"].as_str().unwrap_or("?"),
            cell("page", "p50_ms"),
            cell("page", "p95_ms"),
            cell("page", "max_ms"),
            cell("api", "p50_ms"),
            cell("api", "p95_ms"),
            cell("api", "max_ms"),
            yes_no(worst < P95_TARGET_MS)
        );
    }
    let _ = writeln!(md);
}

/// Retention's dry run over the index of one server-side run (target: under 10 s at 1,000,000
/// tags, with bounded memory).
fn retention(md: &mut String, run: &ServerSide) {
    let r = &run.retention;
    let Some(seconds) = num(&r["seconds"]) else { return };
    let _ = writeln!(
        md,
        "Retention dry run over this index (`bench_browse retention-dry-run`: a policy over the whole \
         registry with every kind of rule, planned as the console's worker plans one, every decided \
         image written down): {} images of {} repositories decided in **{seconds:.1} s** ({:.1} s \
         writing the plan, while the next slices were read and decided; apart: {:.1} s reading the \
         index and deciding, reading alone {:.1} s). Under 10 s? {}. The process's memory: {:.0} MiB \
         before, {:.0} MiB at its peak.\n",
        thousands(r["images"].as_u64().unwrap_or(0)),
        thousands(r["repositories"].as_u64().unwrap_or(0)),
        num(&r["writing_seconds"]).unwrap_or(0.0),
        num(&r["reading_and_deciding_seconds"]).unwrap_or(0.0),
        num(&r["reading_alone_seconds"]).unwrap_or(0.0),
        yes_no(seconds < 10.0),
        num(&r["rss_before_kib"]).unwrap_or(0.0) / 1024.0,
        num(&r["rss_peak_kib"]).unwrap_or(0.0) / 1024.0,
    );
}

fn browser(md: &mut String, r: &Results) {
    let _ = writeln!(md, "## In Chromium, against a real registry\n");
    let b = &r.browser;
    if b.is_null() {
        let _ = writeln!(md, "Not measured in this run.\n");
        return;
    }
    let _ = writeln!(
        md,
        "A standalone `docker-registry` (distribution 2.8, filesystem storage, no auth) was \
         filled by `push-bulk` with single-platform images, {} ({:.0} s, {:.0} images/s); Wharf \
         indexed it by reconcile (next section). Headless Chromium {} on the same machine; \
         median of {} runs, the measurements taking turns. Every figure runs from the navigation \
         start of its page. The floor is Wharf's own server-rendered HTML of the view without its \
         scripts, served as a static file: what the same page costs with no server work and no \
         wasm at all.\n",
        registry_size(r),
        num(&r.push["seconds"]).unwrap_or(0.0),
        num(&r.push["images_per_second"]).unwrap_or(0.0),
        b["chromium"].as_str().unwrap_or("?"),
        b["reps"]
    );
    let _ = writeln!(
        md,
        "| view | visit | Wharf | floor (static HTML) | client-side crawl | crawl / Wharf | ≥ {SPEEDUP_TARGET:.0}×? |\n| --- | --- | ---: | ---: | ---: | ---: | --- |"
    );
    let views = [
        ("catalog", format!("catalog, first {} rows", b["catalog_rows"])),
        (
            "repository",
            format!(
                "repository `{}`, {} tags",
                b["repository"].as_str().unwrap_or("?"),
                b["repository_rows"]
            ),
        ),
    ];
    for (key, view) in &views {
        for (visit, visit_name) in [("cold", "first (empty cache)"), ("repeat", "repeat")] {
            let w = num(&b["wharf"][key][visit]["median"]).unwrap_or(0.0);
            let c = num(&b["crawl"][key][visit]["median"]).unwrap_or(0.0);
            let ratio = c / w.max(0.001);
            let floor = num(&b["floor"][key][visit]["median"])
                .map(|f| format!("{f:.0} ms"))
                .unwrap_or_else(|| "not measured".into());
            let _ = writeln!(
                md,
                "| {view} | {visit_name} | {w:.0} ms | {floor} | {c:.0} ms ({} requests) | {ratio:.1}× | {} |",
                b["crawl"][key]["requests"],
                yes_no(ratio >= SPEEDUP_TARGET)
            );
        }
    }
    let in_app = &b["wharf"]["repository"]["in_app"];
    if let Some(w) = num(&in_app["median"]) {
        let c = num(&b["crawl"]["repository"]["repeat"]["median"]).unwrap_or(0.0);
        let ratio = c / w.max(0.001);
        let _ = writeln!(
            md,
            "| {} | in-app, from the catalog (hydrated) | {w:.0} ms | — | {c:.0} ms (repeat) | {ratio:.1}× | {} |",
            views[1].1,
            yes_no(ratio >= SPEEDUP_TARGET)
        );
    }
    if let Some(error) = b["wharf"]["repository"]["in_app_error"].as_str() {
        let _ = writeln!(md, "\nIn-app navigation was not measured: {error}.");
    }
    if let Some(errors) = b["page_errors"].as_array().filter(|e| !e.is_empty()) {
        let _ = writeln!(
            md,
            "\n**Wharf's pages did not hydrate cleanly in this build.** Errors in the pages during \
             the runs (the server-rendered rows were still measured):\n"
        );
        for error in errors {
            let _ = writeln!(md, "- `{}`", error.as_str().unwrap_or_default().replace('`', "'"));
        }
    }
    let samples = |v: &Value| {
        v["samples"]
            .as_array()
            .map(|s| s.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    };
    let _ = writeln!(md, "\nEvery run, ms (first visit / repeat visit):\n");
    for (key, view) in &views {
        for (who, name) in [("wharf", "Wharf"), ("floor", "floor"), ("crawl", "crawl")] {
            let _ = writeln!(
                md,
                "- {name}, {view}: {} / {}",
                samples(&b[who][key]["cold"]),
                samples(&b[who][key]["repeat"])
            );
        }
    }
    if !in_app.is_null() {
        let _ = writeln!(md, "- Wharf, {}, in-app: {}", views[1].1, samples(in_app));
    }
    let _ = writeln!(
        md,
        "\nTime to first byte of the catalog page, first visit (median): {} ms.\n",
        b["wharf"]["catalog_ttfb"]["median"]
    );
    reading(md, r);
    let _ = writeln!(
        md,
        "- **Wharf**: from navigation start (`performance.now()` in the page) to the first task \
         after the animation frame in which the condition holds: 50 rows in `table.catalog`, or \
         every row of `table.tags` with its platforms, size and created filled in. The pages are \
         server-rendered, so the rows arrive with the HTML; loading and hydrating the wasm runs \
         next to it and can hold up the first paint (with the wasm in the cache it often does).\n\
         - **Crawl**: what a static registry UI does for the same view, run in a page of the \
         registry's own origin (the registry sends no CORS headers, so a static UI has to be \
         served next to it): `GET /v2/_catalog` following `Link`, then for the first 50 \
         repositories `GET tags/list` and one manifest `GET` per tag (with the four `Accept` \
         types) for the sizes; for the repository view `GET tags/list`, then per tag the \
         manifest and the config blob (platform, created). All requests are issued at once and \
         Chromium runs six at a time per host; then the table is rendered. Its clock runs from \
         the navigation start of its page, like Wharf's, so the page load counts.\n\
         - **Floor**: the HTML Wharf's server rendered for the view, its scripts and preloads \
         removed, served with Wharf's stylesheet by a plain HTTP server on 127.0.0.1, timed like \
         Wharf's pages: the reference no server-rendered page can beat.\n\
         - **In-app**: the catalog filtered to the repository, hydrated, then a click on its \
         link: from the click to the complete tag table (the app fetches the page's data from the \
         `repository` server function). It is compared with the crawl's repeat visit, which is \
         what a static UI does on the same click.\n\
         - **First and repeat visit**: each run opens a fresh browser context (empty cache) and \
         loads the view twice; the second load uses what the browser kept from the first (Wharf's \
         wasm, JS and CSS; the registry's blobs, which it lets browsers cache).\n"
    );
}

/// Where the time goes, from the figures themselves: the crawl's cost grows with the rows shown,
/// Wharf's server time is in the latency table, the rest is the browser's own work.
fn reading(md: &mut String, r: &Results) {
    let b = &r.browser;
    let server_p50 = r.servers[0].latency["cases"].as_array().and_then(|cases| {
        cases
            .iter()
            .find(|c| {
                c["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("/r/") && !p.contains('@') && !p.contains("big/"))
            })
            .and_then(|c| num(&c["page"]["p50_ms"]))
    });
    let _ = write!(
        md,
        "Reading the figures: the crawl needs {} requests for the catalog view and {} for the \
         repository view, so its time grows with what is shown, while Wharf sends one page whatever \
         the size.",
        b["crawl"]["catalog"]["requests"], b["crawl"]["repository"]["requests"]
    );
    if let Some(p50) = server_p50 {
        let _ = write!(
            md,
            " The server renders a small repository's page in {p50:.1} ms (p50, server-side table); \
             the rest of Wharf's time is the browser's own work: parsing, the stylesheet, and \
             compiling and hydrating the wasm."
        );
    }
    let _ = writeln!(md, "\n");
}

fn reconcile(md: &mut String, r: &Results) {
    let _ = writeln!(md, "## Reconcile\n");
    let first = &r.reconcile["first"];
    if first.is_null() {
        let _ = writeln!(md, "Not measured in this run.\n");
        return;
    }
    let _ = writeln!(
        md,
        "Wharf started with an empty data directory and `--registry-url` on the registry above \
         ({}), `--reconcile-interval 15`; the figures are the server's own start and finish times \
         of the reconcile (`/api/settings`). The second run is *Resync now* right after, which \
         finds nothing to change and asks the registry for every tag (with the digest Wharf \
         knows, `If-None-Match`: 304 Not Modified). The third is the next run on the timer: it \
         reads every tag list (new and removed tags) and asks for the known tags of one slice of \
         the repositories in 6 (`--reconcile-digest-slices`), so each tag's digest is checked every \
         6 timed runs, and at once by the registry's notification when it sends them: the cost of \
         each periodic reconcile.\n",
        registry_size(r)
    );
    let _ = writeln!(
        md,
        "A reconcile makes two passes: first every repository's tag list and, per tag, the manifest \
         (its digest and sizes: what the catalog and the tag tables show), then the config blob of \
         each new image (platform, creation time, labels), which pages mark as still coming \
         meanwhile. {} repositories at a time (`--registry-concurrency`).\n",
        r.reconcile["concurrency"]
    );
    let _ = writeln!(
        md,
        "| run | first pass (index usable) | complete | repositories/s | result | target | met? |\n| --- | ---: | ---: | ---: | --- | --- | --- |"
    );
    // The first reconcile's target is its first pass (the index usable); a periodic one's, all of it.
    for (name, run, target, whole) in [
        ("from an empty database", first, RECONCILE_TARGET_S, false),
        (
            "Resync now, nothing changed (every tag's digest checked)",
            &r.reconcile["second"],
            f64::INFINITY,
            true,
        ),
        (
            "on the timer, nothing changed (tag lists; digests of one slice of the repositories)",
            &r.reconcile["periodic"],
            NOTHING_CHANGED_TARGET_S,
            true,
        ),
    ] {
        if run.is_null() {
            continue;
        }
        let seconds = num(&run["seconds"]).unwrap_or(f64::MAX);
        let ready = num(&run["ready_seconds"]).unwrap_or(seconds);
        let (measured, what) = if whole {
            (seconds, "complete")
        } else {
            (ready, "first pass")
        };
        let outcome = run["error"]
            .as_str()
            .map(|e| format!("error: {e}"))
            .or_else(|| run["result"].as_str().map(str::to_string))
            .unwrap_or_default();
        let (target, met) = if target.is_finite() {
            (
                format!("{what} < {target:.0} s"),
                yes_no(measured < target && run["error"].is_null()),
            )
        } else {
            ("—".to_string(), "—")
        };
        let _ = writeln!(
            md,
            "| {name} | {ready:.1} s | {seconds:.1} s | {:.0} | {outcome} | {target} | {met} |",
            num(&run["repositories_per_second"]).unwrap_or(0.0),
        );
    }
    let walk = &r.reconcile["registry_only"];
    if let Some(seconds) = num(&walk["seconds"]) {
        let _ = writeln!(
            md,
            "| the same requests to the registry alone (no database) | {:.1} s | {seconds:.1} s | {:.0} | {} requests, {} repositories at a time | — | — |",
            num(&walk["ready_seconds"]).unwrap_or(0.0),
            r.push["repositories"].as_f64().unwrap_or(0.0) / seconds.max(0.001),
            walk["requests"],
            walk["concurrency"]
        );
    }
    if let Some(seconds) = num(&walk["unchanged_seconds"]) {
        let _ = writeln!(
            md,
            "| a nothing-changed reconcile's requests to the registry alone | — | {seconds:.1} s | {:.0} | {} requests (tag lists, a conditional manifest GET per tag answered 304) | — | — |",
            r.push["repositories"].as_f64().unwrap_or(0.0) / seconds.max(0.001),
            walk["unchanged_requests"],
        );
    }
    let _ = write!(
        md,
        "\nRepositories in the index afterwards: {}. The last two rows are the floor for this \
         registry on this machine: the same requests (catalog, tag lists, the manifest per tag, \
         then the configs; and for nothing changed the tag lists and one conditional GET per tag, \
         `If-None-Match` with the digest Wharf knows) sent to the registry alone.",
        r.reconcile["repositories_indexed"]
    );
    if let (Some(total), Some(registry)) = (num(&first["seconds"]), num(&walk["seconds"])) {
        let _ = write!(
            md,
            " Answering them took the registry {registry:.0} s, {:.0}% of the {total:.0} s the first \
             reconcile took in all; the rest is Wharf parsing and writing the index.",
            100.0 * registry / total.max(0.001)
        );
    }
    let _ = writeln!(md, "\n");
}

fn transfer(md: &mut String, r: &Results) {
    let _ = writeln!(md, "## First page load transfer\n");
    let Some(assets) = r.transfer["assets"].as_array() else {
        let _ = writeln!(md, "Not measured in this run.\n");
        return;
    };
    let _ = writeln!(
        md,
        "The assets the catalog page references, fetched from the running server with each \
         `Accept-Encoding`, as the server sends them. 1 KB = 1000 bytes.\n"
    );
    let _ = writeln!(
        md,
        "| file | uncompressed | brotli | gzip |\n| --- | ---: | ---: | ---: |"
    );
    let sizes = |v: &Value| {
        format!(
            "{} | {} | {}",
            kb(num(&v["raw"]).unwrap_or(0.0)),
            kb(num(&v["br"]).unwrap_or(0.0)),
            kb(num(&v["gzip"]).unwrap_or(0.0))
        )
    };
    for asset in assets {
        let _ = writeln!(md, "| `{}` | {} |", asset["path"].as_str().unwrap_or("?"), sizes(asset));
    }
    let _ = writeln!(md, "| **wasm + JS + CSS** | {} |", sizes(&r.transfer["total"]));
    let _ = writeln!(md, "| the catalog page's HTML (`/`) | {} |", sizes(&r.transfer["html"]));
    let seen = &r.browser["transfer"];
    if let Some(assets) = num(&seen["assets"]) {
        let _ = writeln!(
            md,
            "\nChromium itself (first catalog load, empty cache; `transferSize`, headers included) \
             downloaded {} for wasm + JS + CSS (wasm {}, JS {}, CSS {}) and {} for the HTML.",
            kb(assets),
            kb(num(&seen["wasm"]).unwrap_or(0.0)),
            kb(num(&seen["js"]).unwrap_or(0.0)),
            kb(num(&seen["css"]).unwrap_or(0.0)),
            kb(num(&seen["html"]).unwrap_or(0.0))
        );
    }
    let _ = writeln!(md);
}

fn method(md: &mut String, args: &ReportArgs) {
    let _ = writeln!(md, "## Reproduce\n");
    let _ = writeln!(
        md,
        "```sh\n{}\n```\n\n\
         `scripts/bench browse` builds the release server and the benchmark program \
         (`server/examples/bench_browse`), then runs every step on free ports in a temporary \
         directory and rewrites this file; the raw figures (JSON) stay in \
         `target/bench/results/`. `scripts/bench browse --quick` runs the same steps \
         on smaller data and writes its report to `target/bench/benchmarks-quick.md` instead. \
         The browser part is `end2end/bench/browse.bench.mjs`.",
        args.command
    );
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(100_990), "100,990");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
