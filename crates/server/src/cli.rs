//! The command line (docs/configuration.md).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigErrors, ConfigInputs, Problem};
use crate::{StartupError, logging, serve};

/// Tabletalk: chat with your data.
#[derive(Debug, Parser)]
#[command(name = "tabletalk", version, about)]
pub struct Cli {
    /// A TOML configuration file (else `TABLETALK_CONFIG`; no file is read implicitly).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default); migrations are applied first.
    Serve,
    /// Apply pending database migrations, or revert the latest one, and exit.
    Migrate {
        /// Revert the latest applied migration instead.
        #[arg(long)]
        revert: bool,
    },
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Referral keys: single-use invitations for new accounts in OIDC mode.
    Referral {
        #[command(subcommand)]
        action: ReferralAction,
    },
    /// Accounts and their tool access.
    Users {
        #[command(subcommand)]
        action: crate::users_cli::UsersAction,
    },
    /// One query worker on stdin and stdout; the server starts these itself (docs/architecture.md).
    #[command(hide = true)]
    Worker,
}

#[derive(Debug, Subcommand)]
enum ReferralAction {
    /// Print N new referral keys, one per line.
    Create {
        /// How many keys (1..=1000).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
        count: u32,
    },
    /// List referral keys: key, creation time, use time and the email of the user who used it.
    List {
        /// Only keys nobody has used.
        #[arg(long)]
        unused: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigAction {
    /// Validate and print the effective configuration (secrets masked).
    Check,
}

fn fail(error: &StartupError) -> ExitCode {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{}", error.report());
    ExitCode::from(error.exit_code())
}

/// Parses the arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Some(Command::Worker)) {
        // A worker reads no configuration and writes no logs: everything it needs comes from its server.
        return tabletalk_query_engine::isolation::worker::serve_stdio();
    }
    let config = match Config::load(&ConfigInputs::from_process(cli.config.clone())) {
        Ok(config) => config,
        Err(errors) => return fail(&StartupError::Config(errors)),
    };
    // Query workers apply the operator's DATAFUSION_* variables to every query; a refused one stops the start.
    if let Err(error) = tabletalk_query_engine::engine::check_engine_environment() {
        return fail(&StartupError::Config(ConfigErrors(vec![Problem {
            key: error.variable,
            source: None,
            message: error.message,
        }])));
    }
    logging::init(&config);
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => actix_web::rt::System::new().block_on(serve(config)),
        Command::Migrate { revert } => migrate(&config, revert),
        Command::Referral { action } => referral(&config, &action),
        Command::Users { action } => crate::users_cli::run(&config, &action),
        Command::Worker => Ok(()),
        Command::Config {
            action: ConfigAction::Check,
        } => {
            let _ = writeln!(std::io::stdout().lock(), "{}", config.describe());
            Ok(())
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

fn migrate(config: &Config, revert: bool) -> Result<(), StartupError> {
    let database = tabletalk_adapters_sqlite::SqliteDatabase::open(
        &tabletalk_adapters_sqlite::SqliteOptions::new(&config.storage.database_path),
    )?;
    let mut stdout = std::io::stdout().lock();
    if revert {
        let report = database.revert_latest()?;
        let _ = writeln!(stdout, "reverted migration {}", report.versions.join(", "));
        return Ok(());
    }
    let report = database.migrate()?;
    if report.versions.is_empty() {
        let _ = writeln!(stdout, "database is up to date");
    } else {
        let _ = writeln!(stdout, "applied migrations {}", report.versions.join(", "));
    }
    Ok(())
}

fn referral(config: &Config, action: &ReferralAction) -> Result<(), StartupError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StartupError::Invalid(format!("cannot start a runtime: {e}")))?;
    runtime.block_on(async {
        let for_blocking = config.clone();
        let database = tokio::task::spawn_blocking(move || crate::open_database(&for_blocking))
            .await
            .map_err(|e| StartupError::Invalid(e.to_string()))??;
        let service = crate::referral_service(std::sync::Arc::new(database));
        let mut stdout = std::io::stdout().lock();
        match action {
            ReferralAction::Create { count } => {
                let keys = service
                    .create(*count)
                    .await
                    .map_err(|e| StartupError::Invalid(e.to_string()))?;
                for key in keys {
                    let _ = writeln!(stdout, "{key}");
                }
            }
            ReferralAction::List { unused } => {
                let keys = service
                    .list(*unused)
                    .await
                    .map_err(|e| StartupError::Invalid(e.to_string()))?;
                for key in keys {
                    let used_at = key
                        .used_at
                        .map_or_else(|| "-".to_owned(), |t| t.to_string());
                    let email = key.used_by_email.as_deref().unwrap_or("-");
                    let _ = writeln!(
                        stdout,
                        "{}\t{}\t{used_at}\t{email}",
                        key.key, key.created_at
                    );
                }
            }
        }
        Ok(())
    })
}
