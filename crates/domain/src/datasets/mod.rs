//! Dataset rules and use cases (docs/api.md, "Datasets" and "SQL runner and history"): URL normalisation, table
//! names, the dataset service, profiles and previews, the SQL runner with its result cache and history, and the
//! wording of refused statements (docs/api.md, "SQL errors").

mod background;
mod dataset_url;
mod errors;
mod metered;
mod names;
mod profile;
mod query_errors;
mod result_cache;
mod running;
mod service;
#[cfg(test)]
mod service_tests;
mod sql_runner;
mod tables;

pub use background::INTERRUPTED_LOAD;
pub use dataset_url::{DatasetUrl, DatasetUrlError};
pub use errors::{DatasetError, QueryFailure, QueryFailureKind, query_failure, size_text};
pub use names::validate_table_name;
pub use profile::{
    ColumnProfile, ColumnStatistics, HistogramBin, PreviewRequest, ProfileDetail, Profiles,
    StatisticsDetail,
};
pub use query_errors::{TableColumns, sql_identifier, translate};
pub use service::{
    DatasetService, DatasetSettings, PendingUpload, StagedDatasetUpload, sanitise_file_name,
    upload_format,
};
pub use sql_runner::{SqlPage, SqlResult, SqlRunner, SqlRunnerSettings};
pub use tables::{query_table, query_tables, schema_columns, table_columns};
