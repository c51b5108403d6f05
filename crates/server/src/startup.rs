//! Start-up chores: directories, the local access key, and the errors that stop the server.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use tabletalk_adapters_sqlite::SqliteError;

use crate::config::{Config, ConfigErrors, Problem, Source};

/// Starting the server failed. Messages name the step; the causes hang off `source()` and are printed as one
/// chain by [`StartupError::report`].
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    #[error("database")]
    Database(#[from] SqliteError),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot listen on {address}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("cannot generate the local access key")]
    Randomness(#[source] getrandom::Error),
    #[error("server stopped with an error")]
    Server(#[source] std::io::Error),
}

impl StartupError {
    /// The error and each of its causes, `: `-separated: what the operator reads.
    pub fn report(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }

    /// Exit code: 2 for configuration problems, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        if matches!(self, Self::Config(_)) {
            2
        } else {
            1
        }
    }
}

/// The local-mode access key: configured, or generated at this start.
#[derive(Debug)]
pub struct AccessKey {
    secret: SecretString,
    generated: bool,
}

impl AccessKey {
    /// `auth.local_access_key`, or 24 fresh random bytes (base64url, 32 characters).
    pub fn resolve(config: &Config) -> Result<Self, StartupError> {
        if let Some(secret) = &config.auth.local_access_key {
            return Ok(Self {
                secret: secret.clone(),
                generated: false,
            });
        }
        let mut bytes = [0_u8; 24];
        getrandom::fill(&mut bytes).map_err(StartupError::Randomness)?;
        Ok(Self {
            secret: SecretString::from(URL_SAFE_NO_PAD.encode(bytes)),
            generated: true,
        })
    }

    pub fn secret(&self) -> &SecretString {
        &self.secret
    }

    /// Whether the key was generated (and so may be printed).
    pub fn is_generated(&self) -> bool {
        self.generated
    }
}

fn ensure_writable_dir(key: &'static str, dir: &Path, config: &Config) -> Result<(), Problem> {
    let problem = |message: String| Problem {
        key: key.to_owned(),
        source: config
            .effective
            .get(key)
            .map(|(_, source)| source.clone())
            .or(Some(Source::Default)),
        message,
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| problem(format!("cannot create {}: {e}", dir.display())))?;
    let probe = dir.join(format!(".tabletalk-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .map_err(|e| problem(format!("{} is not writable: {e}", dir.display())))?;
    std::fs::remove_file(&probe)
        .map_err(|e| problem(format!("{} is not writable: {e}", dir.display())))?;
    Ok(())
}

/// Creates the data, upload and cache directories and checks they are writable.
pub fn prepare_directories(config: &Config) -> Result<(), ConfigErrors> {
    let storage = &config.storage;
    let problems: Vec<Problem> = [
        ("storage.data_dir", &storage.data_dir),
        ("storage.upload_dir", &storage.upload_dir),
        ("storage.cache_dir", &storage.cache_dir),
    ]
    .into_iter()
    .filter_map(|(key, dir)| ensure_writable_dir(key, dir, config).err())
    .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors(problems))
    }
}
