//! `transfer`: what the first page load downloads, as the server sends it: the wasm, JS and CSS
//! the catalog page references (found in its HTML), each fetched uncompressed, with brotli and
//! with gzip. The page's own HTML is reported next to them.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde_json::json;

use crate::http::Session;

#[derive(Debug, Args)]
pub struct TransferArgs {
    #[arg(long)]
    url: String,
    #[arg(long)]
    password: String,
    #[arg(long)]
    out: PathBuf,
}

/// Sizes of one resource in each encoding.
struct Sizes {
    raw: usize,
    br: usize,
    gzip: usize,
}

pub async fn run(args: TransferArgs) -> Result<(), String> {
    crate::http::wait_healthy(&args.url, Duration::from_secs(60)).await?;
    let session = Session::sign_in(&args.url, &args.password).await?;
    let page = session.get("/", None).await?;
    if page.status != 200 {
        return Err(format!("/ answered {}", page.status));
    }
    let mut assets = asset_paths(&page.text());
    // The modules the page's scripts import statically load with them (the wasm split's loader).
    for script in assets.clone().iter().filter(|a| a.ends_with(".js")) {
        let answer = session.get(script, None).await?;
        for import in static_imports(script, &answer.text()) {
            if !assets.contains(&import) {
                assets.push(import);
            }
        }
    }
    if !assets.iter().any(|a| a.ends_with(".wasm")) || !assets.iter().any(|a| a.ends_with(".js")) {
        return Err(format!(
            "the catalog page references no wasm or no JS under /pkg/: {assets:?}"
        ));
    }
    let mut rows = Vec::new();
    let (mut raw, mut br, mut gzip) = (0, 0, 0);
    for path in &assets {
        let sizes = sizes(&session, path).await?;
        println!(
            "{path:<32} raw {:>9} B  br {:>9} B  gzip {:>9} B",
            sizes.raw, sizes.br, sizes.gzip
        );
        raw += sizes.raw;
        br += sizes.br;
        gzip += sizes.gzip;
        rows.push(json!({"path": path, "raw": sizes.raw, "br": sizes.br, "gzip": sizes.gzip}));
    }
    let html = sizes(&session, "/").await?;
    println!("total (wasm + JS + CSS)          raw {raw:>9} B  br {br:>9} B  gzip {gzip:>9} B");
    crate::write_json(
        &args.out,
        &json!({
            "assets": rows,
            "total": {"raw": raw, "br": br, "gzip": gzip},
            "html": {"path": "/", "raw": html.raw, "br": html.br, "gzip": html.gzip},
        }),
    )
}

/// Every distinct `/pkg/…` URL of a JS, wasm or CSS file the page mentions, in order.
fn asset_paths(html: &str) -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    for (start, _) in html.match_indices("/pkg/") {
        let path: String = html[start..]
            .chars()
            .take_while(|c| !matches!(c, '"' | '\'' | ' ' | ')' | '>' | '<' | '?' | '#'))
            .collect();
        let wanted = [".js", ".wasm", ".css"].iter().any(|ext| path.ends_with(ext));
        if wanted && !paths.contains(&path) {
            paths.push(path);
        }
    }
    paths
}

/// The paths of the modules `js` (served at `script`) imports statically with a relative
/// path (`import … from "./x.js"` or `import "./x.js"`), minified or not; dynamic `import()`
/// calls load later and are left out.
fn static_imports(script: &str, js: &str) -> Vec<String> {
    let dir = &script[..script.rfind('/').map_or(0, |i| i + 1)];
    let mut imports = Vec::new();
    for keyword in ["from", "import"] {
        for (start, _) in js.match_indices(keyword) {
            let rest = js[start + keyword.len()..].trim_start();
            let Some(quote) = rest.chars().next().filter(|c| matches!(c, '"' | '\'')) else {
                continue;
            };
            let Some(end) = rest[1..].find(quote) else {
                continue;
            };
            let Some(relative) = rest[1..1 + end].strip_prefix("./") else {
                continue;
            };
            let path = format!("{dir}{relative}");
            if path.ends_with(".js") && !imports.contains(&path) {
                imports.push(path);
            }
        }
    }
    imports
}

async fn sizes(session: &Session, path: &str) -> Result<Sizes, String> {
    let fetch = |encoding: Option<&'static str>| async move {
        let answer = session.get(path, encoding).await?;
        if answer.status != 200 {
            return Err(format!("{path} answered {}", answer.status));
        }
        if let Some(wanted) = encoding {
            if answer.content_encoding.as_deref() != Some(wanted) {
                eprintln!(
                    "note: {path} was not sent with {wanted} (Content-Encoding: {:?})",
                    answer.content_encoding
                );
            }
        }
        Ok::<_, String>(answer.body.len())
    };
    Ok(Sizes {
        raw: fetch(None).await?,
        br: fetch(Some("br")).await?,
        gzip: fetch(Some("gzip")).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::{asset_paths, static_imports};

    #[test]
    fn follows_static_imports_only() {
        let js = r#"import{a as b}from"./__wasm_split.js";import "./side.js";
            import * as c from './other.js'; const d = import("./lazy.js"); from"../up.js""#;
        assert_eq!(
            static_imports("/pkg/wharf.js", js),
            vec!["/pkg/__wasm_split.js", "/pkg/other.js", "/pkg/side.js"]
        );
    }

    #[test]
    fn finds_each_asset_once() {
        let html = r#"<link rel="modulepreload" href="/pkg/wharf.js"><link rel="preload" href="/pkg/wharf_bg.wasm">
            <script type="module">import('/pkg/wharf.js').then(m => m.default('/pkg/wharf_bg.wasm'))</script>
            <link rel="stylesheet" href="/pkg/wharf.css"><a href="/pkg/">x</a>"#;
        assert_eq!(
            asset_paths(html),
            vec!["/pkg/wharf.js", "/pkg/wharf_bg.wasm", "/pkg/wharf.css"]
        );
    }
}
