//! `wharf push-synthetic`: push a generated image like any registry client, or write it as an
//! OCI image layout.

use crate::cli::PushArgs;
use crate::startup_error::StartupError;
use app::backend::registry::{RegistryAuth, RegistryClient};
use app::backend::synthetic::{self, Flavor, ImageSpec, Platform};

pub async fn run(args: PushArgs) -> Result<(), StartupError> {
    let bad = StartupError::Other;
    let platforms = args
        .platforms
        .iter()
        .map(|p| p.parse::<Platform>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    if platforms.is_empty() {
        return Err(bad("give at least one platform".into()));
    }
    let flavor: Flavor = args.format.parse().map_err(bad)?;
    let mut labels: std::collections::BTreeMap<String, String> = args
        .labels
        .iter()
        .map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("label {l:?} is not KEY=VALUE"))
        })
        .collect::<Result<_, _>>()
        .map_err(bad)?;
    if args.config_padding > 0 {
        labels.insert("org.example.padding".into(), "x".repeat(args.config_padding));
    }
    let spec = ImageSpec {
        platforms,
        layers: args.layers,
        layer_size: args.layer_size,
        flavor,
        labels,
        seed: args.seed.unwrap_or_else(rand::random),
    };
    let image = synthetic::generate(&spec);
    if let Some(dir) = &args.oci_layout {
        synthetic::write_oci_layout(dir, &args.tag, &image)
            .map_err(|e| bad(format!("cannot write the OCI layout to {}: {e}", dir.display())))?;
        println!("{} written to {} as {}", image.top.digest, dir.display(), args.tag);
        return Ok(());
    }
    let auth = match (args.username, args.password) {
        (Some(username), Some(password)) => RegistryAuth::Credentials { username, password },
        (None, None) => RegistryAuth::Anonymous,
        _ => {
            return Err(bad(
                "give both --username and --password (or WHARF_PUSH_PASSWORD)".into()
            ))
        }
    };
    let client = RegistryClient::new(args.registry.clone(), auth);
    let digest = synthetic::push(&client, &args.repository, &args.tag, &image)
        .await
        .map_err(|e| bad(format!("push to {} failed: {e}", args.registry)))?;
    println!("{}:{} {digest}", args.repository, args.tag);
    Ok(())
}
