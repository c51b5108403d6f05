//! Validation and results of `create_chart` and `suggest_followups` (docs/api.md, "Chat"). `execute_sql` and
//! `load_dataset` run in the turn, which owns the services they need.

use serde_json::{Map, Value, json};

pub const CHART_TYPES: [&str; 9] = [
    "bar",
    "horizontal_bar",
    "line",
    "scatter",
    "histogram",
    "pie",
    "box",
    "heatmap",
    "choropleth",
];

const ENUMS: &[(&str, &[&str])] = &[
    ("chart_type", &CHART_TYPES),
    ("orientation", &["vertical", "horizontal"]),
    (
        "aggregation",
        &["none", "sum", "avg", "count", "min", "max"],
    ),
    ("bar_mode", &["group", "stack", "relative"]),
    (
        "color_scale",
        &["default", "diverging", "sequential", "categorical"],
    ),
    (
        "location_type",
        &["state_name", "state_abbr", "country_name", "country_iso3"],
    ),
];

/// Checks `create_chart` arguments against the latest successful execution's columns.
///
/// # Errors
/// The message of the failure result.
pub fn validate_chart(args: &Map<String, Value>, columns: Option<&[String]>) -> Result<(), String> {
    let Some(columns) = columns else {
        return Err("No successful query in this answer to chart; run a query first.".to_owned());
    };
    for (key, allowed) in ENUMS {
        match args.get(*key) {
            None | Some(Value::Null) if *key != "chart_type" => {}
            Some(Value::String(value)) if allowed.contains(&value.as_str()) => {}
            _ => {
                return Err(format!(
                    "Invalid {key}: must be one of {}",
                    allowed.join(", ")
                ));
            }
        }
    }
    let title = args
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if title.trim().is_empty() || title.chars().count() > 200 {
        return Err("title must be 1 to 200 characters".to_owned());
    }
    let mut named: Vec<&str> = ["x_column", "color_column", "z_column", "location_column"]
        .iter()
        .filter_map(|k| args.get(*k).and_then(Value::as_str))
        .collect();
    if let Some(ys) = args.get("y_columns").and_then(Value::as_array) {
        named.extend(ys.iter().filter_map(Value::as_str));
    }
    if let Some(missing) = named.iter().find(|n| !columns.iter().any(|c| c == *n)) {
        return Err(format!(
            "Column '{missing}' is not in the latest result. Available columns: {}",
            columns.join(", ")
        ));
    }
    Ok(())
}

/// Trimmed, non-empty, unique suggestions, each at most 80 characters (77 + `...`), first 3.
pub fn clean_suggestions(args: &Map<String, Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in args
        .get("suggestions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(text) = item.as_str().map(str::trim).filter(|t| !t.is_empty()) else {
            continue;
        };
        let text = if text.chars().count() > 80 {
            format!("{}...", text.chars().take(77).collect::<String>())
        } else {
            text.to_owned()
        };
        if !out.contains(&text) {
            out.push(text);
        }
    }
    out.truncate(3);
    out
}

/// `{"ok": false, "error": …}`.
pub fn failure(message: &str) -> Value {
    json!({"ok": false, "error": message})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(value: &Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn charts_need_a_result_valid_enums_a_title_and_known_columns() {
        let columns = vec!["species".to_owned(), "n".to_owned()];
        let ok = args(
            &json!({"chart_type": "bar", "title": "Rows", "x_column": "species", "y_columns": ["n"]}),
        );
        assert_eq!(validate_chart(&ok, Some(&columns)), Ok(()));
        assert!(
            validate_chart(&ok, None)
                .unwrap_err()
                .contains("No successful query")
        );
        let bad_type = args(&json!({"chart_type": "donut", "title": "x"}));
        assert!(
            validate_chart(&bad_type, Some(&columns))
                .unwrap_err()
                .starts_with("Invalid chart_type")
        );
        let no_title = args(&json!({"chart_type": "bar", "title": " "}));
        assert!(validate_chart(&no_title, Some(&columns)).is_err());
        let unknown = args(&json!({"chart_type": "bar", "title": "t", "y_columns": ["count"]}));
        assert_eq!(
            validate_chart(&unknown, Some(&columns)),
            Err(
                "Column 'count' is not in the latest result. Available columns: species, n"
                    .to_owned()
            )
        );
    }

    #[test]
    fn suggestions_are_cleaned() {
        let long = "x".repeat(90);
        let cleaned = clean_suggestions(&args(
            &json!({"suggestions": [" a ", "", "a", long, "b", "c"]}),
        ));
        assert_eq!(
            cleaned,
            vec![
                "a".to_owned(),
                format!("{}...", "x".repeat(77)),
                "b".to_owned()
            ]
        );
    }
}
