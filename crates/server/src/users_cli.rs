//! `tabletalk users`: list the accounts and manage each one's tool overrides (docs/configuration.md, "Tool
//! access"). Runs against the configured database, with or without a server running.

use std::io::Write;
use std::sync::Arc;

use tabletalk_domain::{ModelChoice, SettingsService, ToolChange};
use tabletalk_ports::{SystemClock, User, UserRepository};

use crate::StartupError;
use crate::config::Config;

/// What `tabletalk users` was asked to do.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum UsersAction {
    /// List accounts: email, name, creation and last sign-in, and the tools their chat turns may use.
    List,
    /// Change one account's tools: `--allow` adds to `llm.default_tools`, `--deny` removes (deny wins); prints the
    /// effective tools afterwards.
    Tools {
        /// The account's email (case-insensitive).
        email: String,
        /// A tool to allow (repeatable).
        #[arg(long = "allow", value_name = "NAME")]
        allow: Vec<String>,
        /// A tool to deny (repeatable).
        #[arg(long = "deny", value_name = "NAME")]
        deny: Vec<String>,
        /// Clear the account's overrides first.
        #[arg(long)]
        reset: bool,
    },
}

fn invalid(error: &dyn std::fmt::Display) -> StartupError {
    StartupError::Invalid(error.to_string())
}

/// Exactly one account with `email`, or a message naming the problem.
fn one_with_email(users: Vec<User>, email: &str) -> Result<User, StartupError> {
    let mut found: Vec<User> = users
        .into_iter()
        .filter(|u| u.email.eq_ignore_ascii_case(email))
        .collect();
    match found.len() {
        0 => Err(invalid(&format!("no account with email {email}"))),
        1 => Ok(found.remove(0)),
        n => Err(invalid(&format!(
            "{n} accounts have email {email} (one per identity provider); this command needs exactly one"
        ))),
    }
}

pub(crate) fn run(config: &Config, action: &UsersAction) -> Result<(), StartupError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| invalid(&format!("cannot start a runtime: {e}")))?;
    runtime.block_on(async {
        let for_blocking = config.clone();
        let database = tokio::task::spawn_blocking(move || crate::open_database(&for_blocking))
            .await
            .map_err(|e| invalid(&e))??;
        let database = Arc::new(database);
        let settings = SettingsService::new(
            database.clone(),
            Arc::new(SystemClock),
            ModelChoice {
                default_model: config.llm.model.clone(),
                models: config.llm.models.clone(),
            },
        )
        .with_default_tools(config.llm.default_tools.clone());
        let users = database.list_all().await.map_err(|e| invalid(&e))?;
        let mut stdout = std::io::stdout().lock();
        match action {
            UsersAction::List => {
                for user in users {
                    let tools = settings.tools_for(user.id).await;
                    let _ = writeln!(
                        stdout,
                        "{}\t{}\t{}\t{}\t{}",
                        user.email,
                        user.name,
                        user.created_at,
                        user.last_login_at,
                        tools.join(",")
                    );
                }
            }
            UsersAction::Tools {
                email,
                allow,
                deny,
                reset,
            } => {
                let user = one_with_email(users, email)?;
                let change = ToolChange {
                    reset: *reset,
                    allow: allow.clone(),
                    deny: deny.clone(),
                };
                let tools = settings
                    .change_tools(user.id, &change)
                    .await
                    .map_err(|e| invalid(&e))?;
                let _ = writeln!(stdout, "{}\t{}", user.email, tools.join(","));
            }
        }
        Ok(())
    })
}
