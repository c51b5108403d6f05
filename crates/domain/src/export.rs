//! Result export (docs/api.md, "Result export"): a result the client holds, checked and written as CSV, XLSX or
//! Parquet through the result-writer port.

use std::sync::Arc;

use serde_json::Value;
use tabletalk_ports::{ExportError, ExportFormat, ResultTable, ResultWriter};

use crate::input::InvalidInput;

/// Why a result was not exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportRequestError {
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// Row `0` has more values than there are columns.
    #[error("rows[{0}] has more values than columns")]
    RowTooLong(usize),
}

/// A result to export, checked: 1 to 1,000 columns, at most 100,000 rows none longer than the columns (shorter
/// ones padded with nulls), and a file name reduced to safe characters.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRequest {
    table: ResultTable,
    file_stem: String,
}

const fn invalid(field: &'static str, message: &'static str) -> InvalidInput {
    InvalidInput { field, message }
}

/// `filename` keeping only letters, digits, `-`, `_` and spaces, trimmed; `export` when nothing is left.
pub fn safe_file_stem(filename: &str) -> String {
    let kept: String = filename
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .collect();
    let trimmed = kept.trim();
    if trimmed.is_empty() {
        "export".to_owned()
    } else {
        trimmed.to_owned()
    }
}

impl ExportRequest {
    pub const MAX_COLUMNS: usize = 1_000;
    pub const MAX_ROWS: usize = 100_000;

    /// # Errors
    /// The first rule broken, naming its field.
    pub fn parse(
        columns: Vec<String>,
        mut rows: Vec<Vec<Value>>,
        filename: Option<&str>,
    ) -> Result<Self, ExportRequestError> {
        if columns.is_empty() || columns.len() > Self::MAX_COLUMNS {
            return Err(invalid("columns", "must hold 1 to 1000 column names").into());
        }
        if rows.len() > Self::MAX_ROWS {
            return Err(invalid("rows", "must hold at most 100000 rows").into());
        }
        let filename = filename.unwrap_or("query-results");
        if filename.chars().count() > 200 {
            return Err(invalid("filename", "must be at most 200 characters").into());
        }
        for (index, row) in rows.iter_mut().enumerate() {
            if row.len() > columns.len() {
                return Err(ExportRequestError::RowTooLong(index));
            }
            row.resize(columns.len(), Value::Null);
        }
        Ok(Self {
            table: ResultTable { columns, rows },
            file_stem: safe_file_stem(filename),
        })
    }

    /// The file's name with the format's extension.
    pub fn file_name(&self, format: ExportFormat) -> String {
        format!("{}.{}", self.file_stem, format.extension())
    }
}

/// Writes checked results as files.
pub struct ExportService {
    writer: Arc<dyn ResultWriter>,
}

impl std::fmt::Debug for ExportService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportService").finish_non_exhaustive()
    }
}

impl ExportService {
    pub fn new(writer: Arc<dyn ResultWriter>) -> Self {
        Self { writer }
    }

    /// The file's bytes. CPU-bound: run it off the async executor.
    ///
    /// # Errors
    /// When the writer refuses the data.
    pub fn write(
        &self,
        format: ExportFormat,
        request: &ExportRequest,
    ) -> Result<Vec<u8>, ExportError> {
        self.writer.write(format, &request.table)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn requests_are_checked_padded_and_named_safely() {
        let ok = ExportRequest::parse(
            vec!["a".into(), "b".into()],
            vec![vec![json!(1)], vec![json!(1), json!(2)]],
            Some("../Q3 réport: *final*.csv"),
        )
        .unwrap();
        assert_eq!(ok.table.rows[0], [json!(1), Value::Null]);
        assert_eq!(ok.file_name(ExportFormat::Xlsx), "Q3 réport finalcsv.xlsx");
        assert_eq!(safe_file_stem("../../"), "export");
        assert_eq!(
            ExportRequest::parse(vec!["a".into()], vec![], None)
                .unwrap()
                .file_name(ExportFormat::Csv),
            "query-results.csv"
        );
        let too_long = ExportRequest::parse(
            vec!["a".into()],
            vec![vec![], vec![json!(1), json!(2)]],
            None,
        );
        assert_eq!(
            too_long.unwrap_err().to_string(),
            "rows[1] has more values than columns"
        );
        assert!(ExportRequest::parse(vec![], vec![], None).is_err());
        assert!(ExportRequest::parse(vec!["a".into()], vec![vec![]; 100_001], None).is_err());
        assert!(ExportRequest::parse(vec!["a".into()], vec![], Some(&"x".repeat(201))).is_err());
    }
}
