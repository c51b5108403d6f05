//! Layering (docs/configuration.md): built-in defaults, then the TOML file, then chatDF's environment variables, then
//! `TABLETALK__SECTION__KEY` variables. Unknown keys and unknown `TABLETALK__` variables are problems.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use config::{FileFormat, ValueKind};

use super::keys::{ALIASES, AliasKind, KEYS, env_name};
use super::values::{Raw, parse_bool};

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::File(path) => write!(f, "file {}", path.display()),
            Self::Env(var) => write!(f, "env {var}"),
        }
    }
}

/// One configuration problem; printed as one line naming the key and its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub source: Option<Source>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(
                f,
                "configuration error: {} ({source}): {}",
                self.key, self.message
            ),
            None => write!(f, "configuration error: {}: {}", self.key, self.message),
        }
    }
}

/// Every explicitly set value with its source, after layering.
#[derive(Debug, Default)]
pub(crate) struct Layered {
    pub values: BTreeMap<&'static str, (Raw, Source)>,
    pub problems: Vec<Problem>,
}

fn known_key(key: &str) -> Option<&'static str> {
    KEYS.iter().copied().find(|k| *k == key)
}

fn raw_from_toml(value: config::Value) -> Option<Raw> {
    Some(match value.kind {
        ValueKind::String(s) => Raw::Str(s),
        ValueKind::I64(i) => Raw::Int(i),
        ValueKind::U64(u) => Raw::Int(i64::try_from(u).ok()?),
        ValueKind::I128(i) => Raw::Int(i64::try_from(i).ok()?),
        ValueKind::U128(u) => Raw::Int(i64::try_from(u).ok()?),
        ValueKind::Float(x) => Raw::Float(x),
        ValueKind::Boolean(b) => Raw::Bool(b),
        ValueKind::Array(items) => Raw::List(
            items
                .into_iter()
                .map(raw_from_toml)
                .collect::<Option<_>>()?,
        ),
        ValueKind::Nil | ValueKind::Table(_) => return None,
    })
}

fn flatten(
    prefix: &str,
    table: config::Map<String, config::Value>,
    out: &mut Vec<(String, config::Value)>,
) {
    for (name, value) in table {
        let key = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}.{name}")
        };
        match value.kind {
            ValueKind::Table(inner) if known_key(&key).is_none() => flatten(&key, inner, out),
            _ => out.push((key, value)),
        }
    }
}

impl Layered {
    fn problem(&mut self, key: &str, source: Source, message: impl Into<String>) {
        self.problems.push(Problem {
            key: key.to_owned(),
            source: Some(source),
            message: message.into(),
        });
    }

    /// Reads the TOML file; a missing or unparsable file is a problem.
    pub(crate) fn add_file(&mut self, path: &Path) {
        let source = Source::File(path.to_owned());
        if !path.is_file() {
            self.problem("--config", source, "the configuration file does not exist");
            return;
        }
        let parsed = config::Config::builder()
            .add_source(config::File::from(path).format(FileFormat::Toml))
            .build()
            .and_then(config::Config::try_deserialize::<config::Map<String, config::Value>>);
        let table = match parsed {
            Ok(table) => table,
            Err(error) => {
                self.problem("--config", source, format!("cannot read the file: {error}"));
                return;
            }
        };
        let mut entries = Vec::new();
        flatten("", table, &mut entries);
        for (key, value) in entries {
            let Some(known) = known_key(&key) else {
                self.problem(&key, source.clone(), "unknown key");
                continue;
            };
            match raw_from_toml(value) {
                Some(raw) => {
                    self.values.insert(known, (raw, source.clone()));
                }
                None => self.problem(
                    &key,
                    source.clone(),
                    "expected a value, got a table or nothing",
                ),
            }
        }
    }

    /// chatDF's variables, converted to the canonical keys' syntax.
    pub(crate) fn add_aliases(&mut self, env: &BTreeMap<String, String>) {
        for alias in ALIASES {
            let Some(text) = env.get(alias.var) else {
                continue;
            };
            let source = Source::Env(alias.var.to_owned());
            let trimmed = text.trim();
            let converted = match alias.kind {
                AliasKind::Bool => match trimmed {
                    "" => Some(Raw::Bool(false)),
                    other => parse_bool(other).map(Raw::Bool),
                },
                _ if trimmed.is_empty() => continue,
                AliasKind::Plain => Some(Raw::Str(text.clone())),
                AliasKind::Days => trimmed
                    .parse::<u64>()
                    .ok()
                    .map(|n| Raw::Str(format!("{n}d"))),
                AliasKind::Mebibytes => trimmed
                    .parse::<u64>()
                    .ok()
                    .map(|n| Raw::Str(format!("{n}MiB"))),
                AliasKind::BoolText => parse_bool(trimmed).map(|b| Raw::Str(b.to_string())),
            };
            match converted {
                Some(raw) => {
                    self.values.insert(alias.key, (raw, source));
                }
                None => self.problem(
                    alias.key,
                    source,
                    format!("{} cannot be read from {text:?}", alias.expected()),
                ),
            }
        }
    }

    /// `TABLETALK__SECTION__KEY` variables; an unknown one is a problem.
    pub(crate) fn add_canonical_env(&mut self, env: &BTreeMap<String, String>) {
        for (var, text) in env.iter().filter(|(var, _)| var.starts_with("TABLETALK__")) {
            let source = Source::Env(var.clone());
            let Some(key) = KEYS.iter().copied().find(|k| env_name(k) == *var) else {
                self.problem(var, source, "unknown setting");
                continue;
            };
            self.values.insert(key, (Raw::Str(text.clone()), source));
        }
    }
}
