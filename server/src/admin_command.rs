//! `wharf admin ...`: administration without the web console, for when nobody can sign in (the
//! first admin's generated password is printed once, and there is no other way back in).

use app::backend::db::{redact_url, Db};
use app::backend::{passwords, users};

use crate::cli::{AdminAction, AdminArgs};
use crate::startup_error::StartupError;

pub async fn run(args: AdminArgs) -> Result<(), StartupError> {
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
        AdminAction::ResetPassword { user } => {
            let record = users::find_record_by_name(&db, &user)
                .await
                .map_err(|e| StartupError::Other(format!("database error: {e}")))?
                .ok_or_else(|| StartupError::Other(format!("there is no user named {user:?}")))?;
            let password = passwords::generate();
            let result = async {
                users::set_password(&db, &record.id, &password).await?;
                users::set_disabled(&db, &record.id, false).await
            }
            .await;
            result.map_err(|e| StartupError::Other(format!("cannot set the password: {e}")))?;
            println!("New password for {user}: {password}");
            println!("(shown once; it works at once, also for a running console)");
            Ok(())
        }
    }
}
