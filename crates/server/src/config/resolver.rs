//! Reads each key as its type, checks its bounds, and remembers the effective value and its source for
//! `tabletalk config check`. Problems are collected, never fatal one by one, so every bad key is reported.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::time::Duration;

use secrecy::SecretString;

use super::sources::{Layered, Problem, Source};
use super::values::{Raw, parse_bool, parse_duration, parse_list, parse_size, show_duration};

pub(crate) struct Resolver {
    layered: Layered,
    pub effective: BTreeMap<&'static str, (String, Source)>,
}

impl Resolver {
    pub(crate) fn new(layered: Layered) -> Self {
        Self {
            layered,
            effective: BTreeMap::new(),
        }
    }

    pub(crate) fn into_parts(self) -> (Vec<Problem>, BTreeMap<&'static str, (String, Source)>) {
        (self.layered.problems, self.effective)
    }

    /// Reports a problem not tied to one value's syntax (cross-key rules, required keys).
    pub(crate) fn problem(&mut self, key: &str, message: impl Into<String>) {
        let source = self.source_of(key);
        self.layered.problems.push(Problem {
            key: key.to_owned(),
            source,
            message: message.into(),
        });
    }

    pub(crate) fn is_set(&self, key: &str) -> bool {
        self.layered.values.contains_key(key)
    }

    fn source_of(&self, key: &str) -> Option<Source> {
        self.layered
            .values
            .get(key)
            .map(|(_, source)| source.clone())
    }

    /// Reads `key` with `read`; on a problem, records it and falls back to `default`.
    fn read<T: Clone>(
        &mut self,
        key: &'static str,
        default: Option<T>,
        read: impl Fn(&Raw) -> Result<T, String>,
        show: impl Fn(&T) -> String,
    ) -> Option<T> {
        let Some((raw, source)) = self.layered.values.get(key).cloned() else {
            if let Some(value) = &default {
                self.effective.insert(key, (show(value), Source::Default));
            }
            return default;
        };
        match read(&raw) {
            Ok(value) => {
                self.effective.insert(key, (show(&value), source));
                Some(value)
            }
            Err(message) => {
                self.layered.problems.push(Problem {
                    key: key.to_owned(),
                    source: Some(source),
                    message,
                });
                default
            }
        }
    }

    pub(crate) fn string(&mut self, key: &'static str, default: Option<String>) -> Option<String> {
        self.read(
            key,
            default,
            |raw| match raw {
                Raw::Str(s) => Ok(s.clone()),
                other => Err(format!("expected a string, got {}", other.shown())),
            },
            |s| format!("{s:?}"),
        )
    }

    pub(crate) fn secret(&mut self, key: &'static str) -> Option<SecretString> {
        let value = self.read(
            key,
            None,
            |raw| match raw {
                Raw::Str(s) => Ok(s.clone()),
                other => Err(format!("expected a string, got {}", other.shown())),
            },
            |_| "***".to_owned(),
        );
        value.map(SecretString::from)
    }

    pub(crate) fn int(
        &mut self,
        key: &'static str,
        default: i64,
        range: RangeInclusive<i64>,
    ) -> i64 {
        self.read(
            key,
            Some(default),
            |raw| {
                let value = match raw {
                    Raw::Int(i) => *i,
                    Raw::Str(s) => s
                        .trim()
                        .parse()
                        .map_err(|_| format!("expected an integer, got {s:?}"))?,
                    other => return Err(format!("expected an integer, got {}", other.shown())),
                };
                in_range(value, &range, ToString::to_string)
            },
            ToString::to_string,
        )
        .unwrap_or(default)
    }

    pub(crate) fn float(&mut self, key: &'static str, default: f64, min: f64) -> f64 {
        self.read(
            key,
            Some(default),
            |raw| {
                let value = match raw {
                    #[expect(
                        clippy::cast_precision_loss,
                        reason = "configuration numbers are small"
                    )]
                    Raw::Int(i) => *i as f64,
                    Raw::Float(f) => *f,
                    Raw::Str(s) => s
                        .trim()
                        .parse()
                        .map_err(|_| format!("expected a number, got {s:?}"))?,
                    other => return Err(format!("expected a number, got {}", other.shown())),
                };
                if value.is_finite() && value >= min {
                    Ok(value)
                } else {
                    Err(format!("must be at least {min}, got {value}"))
                }
            },
            ToString::to_string,
        )
        .unwrap_or(default)
    }

    pub(crate) fn bool(&mut self, key: &'static str, default: bool) -> bool {
        self.read(
            key,
            Some(default),
            |raw| match raw {
                Raw::Bool(b) => Ok(*b),
                Raw::Str(s) => parse_bool(s)
                    .ok_or_else(|| format!("expected a boolean (true/false), got {s:?}")),
                other => Err(format!("expected a boolean, got {}", other.shown())),
            },
            ToString::to_string,
        )
        .unwrap_or(default)
    }

    pub(crate) fn duration(
        &mut self,
        key: &'static str,
        default: Duration,
        range: RangeInclusive<Duration>,
    ) -> Duration {
        self.read(
            key,
            Some(default),
            |raw| {
                let value = match raw {
                    Raw::Int(i) => Duration::from_secs(
                        u64::try_from(*i).map_err(|_| format!("must not be negative, got {i}"))?,
                    ),
                    Raw::Str(s) => parse_duration(s)
                        .ok_or_else(|| format!("expected a duration such as \"60s\", got {s:?}"))?,
                    other => {
                        return Err(format!(
                            "expected a duration such as \"60s\", got {}",
                            other.shown()
                        ));
                    }
                };
                in_range(value, &range, |d| show_duration(*d))
            },
            |d| show_duration(*d),
        )
        .unwrap_or(default)
    }

    pub(crate) fn size(
        &mut self,
        key: &'static str,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> u64 {
        self.read(
            key,
            Some(default),
            |raw| {
                let value = match raw {
                    Raw::Int(i) => {
                        u64::try_from(*i).map_err(|_| format!("must not be negative, got {i}"))?
                    }
                    Raw::Str(s) => parse_size(s)
                        .ok_or_else(|| format!("expected a size such as \"500MiB\", got {s:?}"))?,
                    other => {
                        return Err(format!(
                            "expected a size such as \"500MiB\", got {}",
                            other.shown()
                        ));
                    }
                };
                in_range(value, &range, ToString::to_string)
            },
            |b| format!("{b} bytes"),
        )
        .unwrap_or(default)
    }

    pub(crate) fn list(&mut self, key: &'static str, default: Vec<String>) -> Vec<String> {
        self.read(
            key,
            Some(default.clone()),
            |raw| match raw {
                Raw::Str(s) => Ok(parse_list(s)),
                Raw::List(items) => items
                    .iter()
                    .map(|item| match item {
                        Raw::Str(s) => Ok(s.trim().to_owned()),
                        other => Err(format!(
                            "expected a list of strings, got item {}",
                            other.shown()
                        )),
                    })
                    .collect(),
                other => Err(format!("expected a list, got {}", other.shown())),
            },
            |items| format!("{items:?}"),
        )
        .unwrap_or(default)
    }

    /// Validates a value already read, reporting against its key.
    pub(crate) fn check(&mut self, key: &str, ok: bool, message: impl FnOnce() -> String) {
        if !ok {
            self.problem(key, message());
        }
    }
}

fn in_range<T: PartialOrd + Copy>(
    value: T,
    range: &RangeInclusive<T>,
    show: impl Fn(&T) -> String,
) -> Result<T, String> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "must be between {} and {}, got {}",
            show(range.start()),
            show(range.end()),
            show(&value)
        ))
    }
}
