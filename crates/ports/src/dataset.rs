//! Datasets attached to a conversation (their content lives outside the database).

use std::collections::BTreeMap;

use crate::{ConversationId, DatasetId, Timestamp, UploadId, UserId};

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// The stored and wire spelling.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// Reads the stored spelling.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

text_enum!(
    /// Where a dataset's content comes from.
    DatasetSource { Url => "url", Upload => "upload" }
);
text_enum!(
    /// The file format of a dataset.
    DatasetFormat { Parquet => "parquet", Csv => "csv", Tsv => "tsv", Ndjson => "ndjson" }
);
text_enum!(
    /// Whole-file compression of a dataset.
    Compression { None => "none", Gzip => "gzip" }
);
text_enum!(
    /// Loading state of a dataset.
    DatasetStatus { Loading => "loading", Ready => "ready", Error => "error" }
);

/// One column of a dataset as described when it was added.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSchema {
    pub name: String,
    /// The SQL type name (`BIGINT`, `VARCHAR`, `TIMESTAMP`, …).
    pub sql_type: String,
    pub nullable: bool,
    /// Up to five distinct values from the first rows, as text.
    pub sample_values: Vec<String>,
    pub stats: ColumnStats,
}

/// What the description pass learnt about a column; each figure only when it was affordable to learn.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnStats {
    pub null_count: Option<i64>,
    /// Smallest and largest value of numeric and temporal columns, encoded as result cells.
    pub min: Option<serde_json::Value>,
    pub max: Option<serde_json::Value>,
    /// Distinct values of text columns.
    pub unique_count: Option<i64>,
}

/// A stored dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub id: DatasetId,
    pub conversation_id: ConversationId,
    /// The SQL table name.
    pub name: String,
    pub source: DatasetSource,
    /// Normalised URL, or `upload://<original name>`.
    pub url: String,
    pub upload_id: Option<UploadId>,
    pub format: DatasetFormat,
    pub compression: Compression,
    pub status: DatasetStatus,
    pub error_message: Option<String>,
    pub row_count: i64,
    pub column_count: i64,
    /// The columns in file order, as described when the dataset was added or refreshed.
    pub columns: Vec<ColumnSchema>,
    /// People's descriptions of columns, by column name (only columns that exist).
    pub column_descriptions: BTreeMap<String, String>,
    pub file_size_bytes: Option<i64>,
    pub etag: Option<String>,
    pub last_modified: Option<Timestamp>,
    pub version: Option<String>,
    pub created_at: Timestamp,
    pub loaded_at: Option<Timestamp>,
}

/// One stored upload file, shared by every dataset of its user that has the same content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// Also the file's name inside the upload directory.
    pub id: UploadId,
    pub user_id: UserId,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
    pub size_bytes: i64,
    /// The client's file name without path components.
    pub original_name: String,
    pub format: DatasetFormat,
    pub compression: Compression,
    pub created_at: Timestamp,
}
