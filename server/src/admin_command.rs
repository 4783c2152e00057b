//! `wharf admin ...`: administration without the web console, for when nobody can sign in (the
//! first admin's generated password is printed once, and there is no other way back in).

use std::path::Path;

use app::backend::db::{redact_url, Db, DbKind};
use app::backend::tokens::keys;
use app::backend::{passwords, users};

use crate::cli::{AdminAction, AdminArgs};
use crate::startup_error::StartupError;

pub async fn run(args: AdminArgs) -> Result<(), StartupError> {
    if let AdminAction::RotateTokenKey { promote, drop_previous } = args.action {
        return match args
            .database_url
            .as_deref()
            .filter(|url| DbKind::of_url(url) == Some(DbKind::Postgres))
        {
            Some(url) => rotate_shared_token_key(url, &args.data_dir, promote, drop_previous).await,
            None => rotate_token_key(&args.data_dir, promote, drop_previous),
        };
    }
    let database_url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", args.data_dir.join("wharf.db").display()));
    if database_url.starts_with("sqlite://") && !args.data_dir.join("wharf.db").exists() && args.database_url.is_none()
    {
        return Err(StartupError::Other(format!(
            "no console database in {} (give --data-dir or --database-url)",
            args.data_dir.display()
        )));
    }
    let db = Db::connect(&database_url)
        .await
        .map_err(|e| StartupError::Other(format!("cannot open the database {}: {e}", redact_url(&database_url))))?;
    match args.action {
        AdminAction::ResetPassword { user, enable } => reset_password(&db, &user, enable).await,
        AdminAction::RotateTokenKey { .. } => unreachable!("handled without a database"),
    }
}

/// `wharf admin reset-password`: a new generated password, printed once; the user's sessions and
/// refresh tokens end. A disabled user stays disabled (and is told so) unless `enable`.
async fn reset_password(db: &Db, user: &str, enable: bool) -> Result<(), StartupError> {
    let record = users::find_record_by_name(db, user)
        .await
        .map_err(|e| StartupError::Other(format!("database error: {e}")))?
        .ok_or_else(|| StartupError::Other(format!("there is no user named {user:?}")))?;
    let disabled = record.disabled != 0;
    let password = passwords::generate();
    let result = async {
        users::set_password(db, &record.id, &password).await?;
        if disabled && enable {
            users::set_disabled(db, &record.id, false).await?;
        }
        Ok::<_, sqlx::Error>(())
    }
    .await;
    result.map_err(|e| StartupError::Other(format!("cannot set the password: {e}")))?;
    println!("New password for {user}: {password}");
    println!("(shown once; it works at once, also for a running console; the user's sessions and registry logins have ended)");
    match (disabled, enable) {
        (true, true) => println!("{user} was disabled and is enabled again."),
        (true, false) => println!(
            "{user} is disabled and stays disabled: the password works once the user is enabled \
             (run again with --enable, or enable it on the Access page)."
        ),
        (false, _) => {}
    }
    Ok(())
}

/// `wharf admin rotate-token-key --database-url postgres://…`: the rotation of the ring the
/// replicas share: the database's ring is written to `data_dir`, rotated there, and stored back,
/// under the set-up lock (replicas use it from their next start).
async fn rotate_shared_token_key(
    url: &str,
    data_dir: &Path,
    promote: bool,
    drop_previous: bool,
) -> Result<(), StartupError> {
    let db = Db::connect(url)
        .await
        .map_err(|e| StartupError::Other(format!("cannot open the database {}: {e}", redact_url(url))))?;
    crate::data_dir::with_shared_files(&db, data_dir, &keys::ring_files(), || {
        rotate_token_key(data_dir, promote, drop_previous)
    })
    .await
}

/// `wharf admin rotate-token-key`: stages a key, or promotes the staged one, then shows the ring.
fn rotate_token_key(data_dir: &Path, promote: bool, drop_previous: bool) -> Result<(), StartupError> {
    if !data_dir.join(keys::KEY_FILE).exists() {
        return Err(StartupError::Other(format!(
            "no token signing key in {} (give --data-dir)",
            data_dir.display()
        )));
    }
    if promote {
        match keys::promote(data_dir)? {
            Some(kid) => println!(
                "Promoted {kid}: it signs tokens from the console's next start; the key it replaces stays trusted for an hour."
            ),
            None => return Err(StartupError::Other("no key is staged: run without --promote first".into())),
        }
    } else if !drop_previous {
        let kid = keys::stage(data_dir)?;
        println!("Staged {kid}: trusted from now on, signing nothing yet.");
        println!(
            "- Wharf's own registry: restart the console; it promotes the key as it starts the registry.\n\
             - An external registry: copy {bundle} (and {jwks} for registry 3.x) to its rootcertbundle, restart it, \
             then run `wharf admin rotate-token-key --promote` and restart the console.",
            bundle = data_dir.join(keys::CERT_FILE).display(),
            jwks = data_dir.join(keys::JWKS_FILE).display(),
        );
    }
    if drop_previous {
        if keys::drop_previous(data_dir)? {
            println!("The retired key is trusted no more (the registry reads its bundle when it starts).");
        } else {
            println!("There is no retired key.");
        }
    }
    for key in keys::status(data_dir)? {
        let since = time::OffsetDateTime::from(key.since)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        println!("{:<20} {}  since {since}", key.slot.label(), key.kid);
    }
    Ok(())
}
