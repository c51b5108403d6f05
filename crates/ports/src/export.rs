//! Writing a query result as a file (docs/api.md, "Result export"): the formats and the port that writes them.

use serde_json::Value;

/// A file format for results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// RFC 4180: quoted where needed, CRLF line ends, UTF-8 without BOM.
    Csv,
    /// One sheet `Results`, bold header, numbers and booleans typed, everything else text (never formulas).
    Xlsx,
    /// One row group per 64 K rows; column types inferred from the values (integers, floats, booleans, text).
    Parquet,
}

impl ExportFormat {
    pub const fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
            Self::Parquet => "parquet",
        }
    }

    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Self::Parquet => "application/vnd.apache.parquet",
        }
    }
}

/// A result to write: every row has exactly one value per column (short rows were padded with nulls).
#[derive(Debug, Clone, PartialEq)]
pub struct ResultTable {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// The text of a cell where a format has only text: `null` empty, booleans `true`/`false`, numbers as written,
/// strings as they are, arrays and objects as compact JSON.
pub fn cell_text(value: &Value) -> std::borrow::Cow<'_, str> {
    match value {
        Value::Null => "".into(),
        Value::String(s) => s.as_str().into(),
        Value::Bool(b) => if *b { "true" } else { "false" }.into(),
        other => other.to_string().into(),
    }
}

/// Writing the file failed (a writer library refused the data).
#[derive(Debug, thiserror::Error)]
#[error("could not write the {format:?} file: {reason}")]
pub struct ExportError {
    pub format: ExportFormat,
    pub reason: String,
}

/// Writes result files. Synchronous and CPU-bound: callers run it off the async executor.
pub trait ResultWriter: Send + Sync + 'static {
    /// The whole file.
    ///
    /// # Errors
    /// When the writer library refuses the data.
    fn write(&self, format: ExportFormat, table: &ResultTable) -> Result<Vec<u8>, ExportError>;
}
