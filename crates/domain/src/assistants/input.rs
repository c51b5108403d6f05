//! The fields of an assistant as a request gives them, and their rules (docs/api.md, "Assistants"). Checks that need
//! no I/O live here; the service adds the model list, the caller's tools and the SSRF guard.

use std::collections::BTreeMap;

use tabletalk_ports::{AssistantDataset, Temperature};

use super::AssistantError;
use crate::datasets::{DatasetUrl, validate_table_name};

/// Most datasets an assistant may bring (a deployment may allow fewer per conversation).
pub const MAX_DATASETS: usize = 20;
const MAX_NAME_CHARS: usize = 100;
const MAX_DESCRIPTION_CHARS: usize = 500;
const MAX_INSTRUCTIONS_CHARS: usize = 10_000;
const MAX_COLUMN_DESCRIPTIONS: usize = 2000;
const MAX_COLUMN_DESCRIPTION_CHARS: usize = 500;

/// One dataset as a request gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatasetSpec {
    pub url: String,
    pub name: Option<String>,
    pub column_descriptions: BTreeMap<String, String>,
}

/// A nullable field of a change: left alone, cleared (back to its default), or set.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Patch<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

impl<T> From<Option<T>> for Patch<T> {
    /// A field a create names or leaves out: absent and `null` both mean the default.
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Clear, Self::Set)
    }
}

/// A create (every field but `name` optional) or a partial update (only the given fields change).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssistantChange {
    pub name: Option<String>,
    pub description: Option<String>,
    pub instructions: Option<String>,
    pub model: Patch<String>,
    pub temperature: Patch<f64>,
    pub tools: Patch<Vec<String>>,
    pub datasets: Option<Vec<DatasetSpec>>,
}

pub(super) fn invalid(field: impl Into<String>, message: impl Into<String>) -> AssistantError {
    AssistantError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// Trimmed, 1..=100 characters.
pub(super) fn name(raw: &str) -> Result<String, AssistantError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(invalid("name", "must be 1 to 100 characters"));
    }
    Ok(name.to_owned())
}

pub(super) fn description(raw: &str) -> Result<String, AssistantError> {
    if raw.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(invalid("description", "must be at most 500 characters"));
    }
    Ok(raw.trim().to_owned())
}

pub(super) fn instructions(raw: &str) -> Result<String, AssistantError> {
    if raw.chars().count() > MAX_INSTRUCTIONS_CHARS {
        return Err(invalid("instructions", "must be at most 10000 characters"));
    }
    Ok(raw.trim().to_owned())
}

pub(super) fn temperature(raw: f64) -> Result<Temperature, AssistantError> {
    Temperature::new(raw).ok_or_else(|| invalid("temperature", "must be a number from 0 to 2"))
}

/// URLs normalised and unique, names valid and unique ignoring case, descriptions within the limits of a dataset's
/// own (`limit`: the smaller of 20 and the deployment's datasets per conversation).
pub(super) fn datasets(
    specs: &[DatasetSpec],
    limit: usize,
) -> Result<Vec<AssistantDataset>, AssistantError> {
    if specs.len() > limit {
        return Err(invalid(
            "datasets",
            format!("at most {limit} datasets per assistant"),
        ));
    }
    let mut out: Vec<AssistantDataset> = Vec::with_capacity(specs.len());
    for (index, spec) in specs.iter().enumerate() {
        let url = DatasetUrl::parse(&spec.url)
            .map_err(|e| invalid(format!("datasets[{index}].url"), e.to_string()))?;
        if out.iter().any(|d| d.url == url.as_str()) {
            return Err(invalid(
                format!("datasets[{index}].url"),
                "This URL is already among the assistant's datasets",
            ));
        }
        let name = spec
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        if let Some(name) = name {
            validate_table_name(name)
                .map_err(|message| invalid(format!("datasets[{index}].name"), message))?;
            if out
                .iter()
                .filter_map(|d| d.name.as_deref())
                .any(|n| n.eq_ignore_ascii_case(name))
            {
                return Err(invalid(
                    format!("datasets[{index}].name"),
                    format!(
                        "The name '{name}' is already used by another of the assistant's datasets"
                    ),
                ));
            }
        }
        if spec.column_descriptions.len() > MAX_COLUMN_DESCRIPTIONS {
            return Err(invalid(
                format!("datasets[{index}].column_descriptions"),
                "at most 2000 descriptions",
            ));
        }
        if let Some((column, _)) = spec
            .column_descriptions
            .iter()
            .find(|(_, text)| text.chars().count() > MAX_COLUMN_DESCRIPTION_CHARS)
        {
            return Err(invalid(
                format!("datasets[{index}].column_descriptions"),
                format!("Description for '{column}' exceeds 500 chars"),
            ));
        }
        out.push(AssistantDataset {
            url: url.as_str().to_owned(),
            name: name.map(str::to_owned),
            column_descriptions: spec
                .column_descriptions
                .iter()
                .filter(|(_, text)| !text.is_empty())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(result: Result<Vec<AssistantDataset>, AssistantError>) -> String {
        match result {
            Err(AssistantError::Invalid { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    fn spec(url: &str, name: Option<&str>) -> DatasetSpec {
        DatasetSpec {
            url: url.to_owned(),
            name: name.map(str::to_owned),
            column_descriptions: BTreeMap::new(),
        }
    }

    #[test]
    fn dataset_specs_are_normalised_and_each_problem_names_its_field() {
        let ok = datasets(
            &[
                spec("HTTPS://Data.Example:443/a.parquet#x", Some(" sales ")),
                spec("https://data.example/b.csv", None),
            ],
            20,
        )
        .unwrap();
        assert_eq!(ok[0].url, "https://data.example/a.parquet");
        assert_eq!(ok[0].name.as_deref(), Some("sales"));
        assert_eq!(ok[1].name, None);

        assert_eq!(
            field(datasets(&[spec("ftp://x/a", None)], 20)),
            "datasets[0].url"
        );
        assert_eq!(
            field(datasets(
                &[spec("https://x/a", None), spec("https://X/a#frag", None)],
                20
            )),
            "datasets[1].url"
        );
        assert_eq!(
            field(datasets(
                &[
                    spec("https://x/a", Some("t")),
                    spec("https://x/b", Some("T"))
                ],
                20
            )),
            "datasets[1].name"
        );
        assert_eq!(
            field(datasets(&[spec("https://x/a", Some("1bad name"))], 20)),
            "datasets[0].name"
        );
        let many: Vec<DatasetSpec> = (0..3)
            .map(|i| spec(&format!("https://x/{i}"), None))
            .collect();
        assert_eq!(field(datasets(&many, 2)), "datasets");
    }

    #[test]
    fn scalar_fields_keep_to_their_limits() {
        assert_eq!(name("  Sales analyst ").unwrap(), "Sales analyst");
        assert!(name("   ").is_err());
        assert!(name(&"x".repeat(101)).is_err());
        assert!(description(&"x".repeat(500)).is_ok());
        assert!(description(&"x".repeat(501)).is_err());
        assert!(instructions(&"x".repeat(10_001)).is_err());
        assert!(temperature(2.5).is_err());
        assert!(temperature(-0.1).is_err());
        assert_eq!(temperature(0.5).unwrap(), Temperature::new(0.5).unwrap());
    }
}
