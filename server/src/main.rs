//! The `wharf` binary: the console server and a synthetic image pusher.
#![recursion_limit = "256"]

mod admin_command;
mod backup_command;
mod cli;
mod client_address;
mod data_dir;
mod health;
mod live_stream;
mod metrics_endpoint;
mod push_command;
mod registry_events;
mod registry_maintenance;
mod registry_process;
mod registry_storage;
mod request_id;
mod retention_csv;
mod routes;
mod same_origin;
mod security_headers;
mod serve;
mod sessions;
mod sso_routes;
mod startup_error;
mod token_endpoint;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    if let Some(cli::Command::RenderTemplate) = cli.command {
        // Before any runtime thread: the child limits its own memory and stays single-threaded.
        return app::backend::webhooks::formats::sandbox::run_child();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Some(cli::Command::PushSynthetic(args)) => push_command::run(args).await,
            Some(cli::Command::Admin(args)) => admin_command::run(args).await,
            Some(cli::Command::Backup(args)) => backup_command::backup(&args.data_dir, &args.out).await,
            Some(cli::Command::Restore(args)) => backup_command::restore(&args.from, &args.data_dir),
            Some(cli::Command::Serve(args)) => serve::run(args).await,
            Some(cli::Command::RenderTemplate) => Ok(()),
            None => serve::run(cli.serve).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
