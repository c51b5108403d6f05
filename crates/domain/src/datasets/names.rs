//! Custom table names (docs/api.md, "Datasets").

/// Words the SQL parser cannot take as an unquoted table name.
const RESERVED: &[&str] = &[
    "all",
    "and",
    "as",
    "between",
    "by",
    "case",
    "cross",
    "distinct",
    "else",
    "end",
    "except",
    "false",
    "from",
    "full",
    "group",
    "having",
    "ilike",
    "in",
    "inner",
    "intersect",
    "is",
    "join",
    "lateral",
    "left",
    "like",
    "limit",
    "natural",
    "not",
    "null",
    "offset",
    "on",
    "or",
    "order",
    "outer",
    "qualify",
    "right",
    "select",
    "table",
    "then",
    "true",
    "union",
    "using",
    "values",
    "when",
    "where",
    "window",
    "with",
    "asc",
    "desc",
    "create",
    "drop",
    "insert",
    "update",
    "delete",
    "into",
    "set",
    "over",
    "partition",
    "interval",
    "cast",
    "array",
    "exists",
    "any",
    "some",
];

/// Checks a custom table name; the error is the `validation_failed` message.
///
/// # Errors
/// The message for the field.
pub fn validate_table_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !first_ok || !rest_ok || name.len() > 63 {
        return Err(
            "must start with a letter or underscore and contain only letters, digits and underscores (at most 63 \
             characters)"
                .to_owned(),
        );
    }
    if RESERVED.contains(&name.to_lowercase().as_str()) {
        return Err(format!(
            "'{name}' is a reserved SQL word; choose another table name"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_pattern_and_avoid_reserved_words() {
        assert!(validate_table_name("sales_2024").is_ok());
        assert!(validate_table_name("_x").is_ok());
        assert!(validate_table_name(&"a".repeat(63)).is_ok());
        assert!(validate_table_name(&"a".repeat(64)).is_err());
        assert!(validate_table_name("2024sales").is_err());
        assert!(validate_table_name("my-table").is_err());
        assert!(validate_table_name("").is_err());
        let reserved = validate_table_name("Select").unwrap_err();
        assert_eq!(
            reserved,
            "'Select' is a reserved SQL word; choose another table name"
        );
    }
}
