//! Configuration exactly per docs/configuration.md: defaults → TOML file → chatDF aliases → `TABLETALK__…` variables,
//! validated once, every problem reported with its key and source.

mod build;
mod keys;
mod model;
mod resolver;
mod sources;
mod values;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

pub use model::{
    AuthConfig, BudgetConfig, DatasetsConfig, HistoryConfig, LlmConfig, LlmProviderKind, LogFormat,
    ObservabilityConfig, OidcConfig, QueryConfig, SecureCookies, ServerConfig, StorageConfig,
    WebsocketConfig,
};
pub use sources::{Problem, Source};

use resolver::Resolver;
use sources::Layered;

/// What configuration is read from: the named file (if any) and the process environment.
#[derive(Debug, Clone, Default)]
pub struct ConfigInputs {
    /// `--config <path>`; when absent, `TABLETALK_CONFIG` from `env` is used.
    pub file: Option<PathBuf>,
    pub env: BTreeMap<String, String>,
}

impl ConfigInputs {
    /// The real process environment.
    pub fn from_process(file: Option<PathBuf>) -> Self {
        Self {
            file,
            env: std::env::vars().collect(),
        }
    }
}

/// Every problem found; printed one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<Problem>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for ConfigErrors {}

/// The validated configuration, loaded once and passed down.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub auth: AuthConfig,
    pub llm: LlmConfig,
    pub budget: BudgetConfig,
    pub datasets: DatasetsConfig,
    pub query: QueryConfig,
    pub websocket: WebsocketConfig,
    pub history: HistoryConfig,
    pub observability: ObservabilityConfig,
    /// Each key's effective value (secrets as `***`) and source, for `tabletalk config check`.
    pub effective: BTreeMap<&'static str, (String, Source)>,
    /// Settings that are valid but probably not what was meant; logged once logging is set up, and printed by
    /// `tabletalk config check`.
    pub warnings: Vec<String>,
}

impl Config {
    /// Layers and validates the configuration.
    pub fn load(inputs: &ConfigInputs) -> Result<Self, ConfigErrors> {
        let mut layered = Layered::default();
        let file = inputs
            .file
            .clone()
            .or_else(|| inputs.env.get("TABLETALK_CONFIG").map(PathBuf::from));
        if let Some(path) = &file {
            layered.add_file(path);
        }
        layered.add_aliases(&inputs.env);
        layered.add_canonical_env(&inputs.env);
        build::build(Resolver::new(layered))
    }

    /// The effective configuration as `key = value  (source)` lines.
    pub fn describe(&self) -> String {
        let width = self.effective.keys().map(|k| k.len()).max().unwrap_or(0);
        self.effective
            .iter()
            .map(|(key, (value, source))| format!("{key:width$} = {value}  ({source})"))
            .chain(self.warnings.iter().map(|w| format!("warning: {w}")))
            .collect::<Vec<_>>()
            .join("\n")
    }
}
