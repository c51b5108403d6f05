//! Turning the port's table list into what one query's context registers: local files (uploads, cache entries
//! leased for the query's lifetime) and remote Parquet objects served by the guarded store.

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::prelude::{CsvReadOptions, JsonReadOptions, ParquetReadOptions, SessionContext};
use tabletalk_ports::{
    Compression, DatasetFormat, LoadError, LoadErrorKind, QueryColumn, QueryError, QueryTable,
    TableLocation,
};
use url::Url;

use super::eager::KeyRanges;
use super::execute::RemoteAccess;
use super::local_files::{LOCAL_URL, LocalFiles};
use crate::files::DatasetFiles;
use crate::files::cache::{CacheLease, remote_key};
use crate::remote::{GuardedStore, RemoteObject, STORE_URL, object_path};

/// A table whose content is a file on this machine.
pub(crate) struct LocalTable {
    pub name: String,
    pub path: PathBuf,
    pub format: DatasetFormat,
    pub columns: Vec<QueryColumn>,
}

/// A remote Parquet table: registered name, object path in the guarded store, and the object.
pub(crate) type RemoteTable = (String, String, RemoteObject);

/// What one context registers. The leases keep cache files from eviction until the query ends.
#[derive(Default)]
pub(crate) struct Prepared {
    pub leases: Vec<CacheLease>,
    pub local: Vec<LocalTable>,
    pub remote: Vec<RemoteTable>,
    /// The stored integer ranges of every table's columns, for the eager-aggregation rule.
    pub key_ranges: KeyRanges,
    /// Recorded row counts by registered name, for the join limit.
    pub row_counts: Vec<(String, u64)>,
}

fn load_failure(table: &QueryTable, url: &str, error: &LoadError) -> QueryError {
    if error.kind == LoadErrorKind::Changed {
        QueryError::DatasetChanged {
            url: url.to_owned(),
        }
    } else {
        QueryError::DatasetUnavailable {
            name: table.name.clone(),
            reason: error
                .message
                .trim_start_matches("Could not access URL: ")
                .to_owned(),
        }
    }
}

/// Resolves every table; a remote file that is not in the cache (and is not range-readable Parquet) is downloaded
/// again here, before the query's own timeout starts.
pub(crate) async fn prepare(
    files: &DatasetFiles,
    tables: &[QueryTable],
) -> Result<Prepared, QueryError> {
    let mut prepared = Prepared::default();
    for table in tables {
        let name = table.name.to_lowercase();
        if let Some(rows) = table.row_count {
            prepared.row_counts.push((name.clone(), rows));
        }
        for (column, min, max) in &table.integer_ranges {
            prepared
                .key_ranges
                .insert((name.clone(), column.clone()), (*min, *max));
        }
        let gzip = table.compression == Compression::Gzip;
        let local = |path: PathBuf| LocalTable {
            name: name.clone(),
            path,
            format: table.format,
            columns: table.columns.clone(),
        };
        match &table.location {
            TableLocation::File(path) => prepared.local.push(local(path.clone())),
            TableLocation::Upload(id) if gzip => {
                let lease = files
                    .expanded_upload(*id)
                    .await
                    .map_err(|e| load_failure(table, &table.name, &e))?;
                prepared.local.push(local(lease.path().to_owned()));
                prepared.leases.push(lease);
            }
            TableLocation::Upload(id) => prepared.local.push(local(files.upload_path(*id))),
            TableLocation::Remote {
                url,
                etag,
                size,
                version,
            } => {
                let parsed = Url::parse(url).map_err(|e| QueryError::DatasetUnavailable {
                    name: table.name.clone(),
                    reason: e.to_string(),
                })?;
                if let Some(lease) = files.cache.lookup(&remote_key(url, version)) {
                    prepared.local.push(local(lease.path().to_owned()));
                    prepared.leases.push(lease);
                    continue;
                }
                match (table.format, size) {
                    (DatasetFormat::Parquet, Some(size)) if !gzip => {
                        let object = RemoteObject {
                            table: table.name.clone(),
                            url: parsed,
                            etag: etag.clone(),
                            size: *size,
                            last_modified: chrono::DateTime::UNIX_EPOCH,
                        };
                        prepared
                            .remote
                            .push((name.clone(), object_path(url, version), object));
                    }
                    _ => {
                        let (lease, _) = files
                            .cached_remote(&parsed, version, gzip, true, None)
                            .await
                            .map_err(|e| load_failure(table, url, &e))?;
                        prepared.local.push(local(lease.path().to_owned()));
                        prepared.leases.push(lease);
                    }
                }
            }
        }
    }
    Ok(prepared)
}

/// The Arrow type a stored SQL type name stands for (text formats only produce these).
fn arrow_type(sql_type: &str) -> DataType {
    match sql_type {
        "BIGINT" | "INT" | "SMALLINT" | "TINYINT" => DataType::Int64,
        "DOUBLE" | "REAL" => DataType::Float64,
        "BOOLEAN" => DataType::Boolean,
        "DATE" => DataType::Date32,
        "TIMESTAMP" => DataType::Timestamp(TimeUnit::Nanosecond, None),
        _ => DataType::Utf8,
    }
}

/// The schema a CSV/TSV file is read with: the stored names (deduplicated, empty headers named) and types.
pub(crate) fn text_schema(columns: &[QueryColumn]) -> Schema {
    Schema::new(
        columns
            .iter()
            .map(|c| Field::new(&c.name, arrow_type(&c.sql_type), true))
            .collect::<Vec<_>>(),
    )
}

/// Registers a local file under `name`.
pub(crate) async fn register_local(
    context: &SessionContext,
    table: &LocalTable,
) -> datafusion::error::Result<()> {
    let path = table.path.to_string_lossy();
    match table.format {
        DatasetFormat::Parquet => {
            let options = ParquetReadOptions {
                file_extension: "",
                ..ParquetReadOptions::default()
            };
            context
                .register_parquet(table.name.as_str(), path.as_ref(), options)
                .await
        }
        DatasetFormat::Csv | DatasetFormat::Tsv => {
            let delimiter = if table.format == DatasetFormat::Tsv {
                b'\t'
            } else {
                b','
            };
            let schema = text_schema(&table.columns);
            let mut options = CsvReadOptions::new()
                .has_header(true)
                .delimiter(delimiter)
                .file_extension("");
            if !table.columns.is_empty() {
                options = options.schema(&schema);
            }
            context
                .register_csv(table.name.as_str(), path.as_ref(), options)
                .await
        }
        DatasetFormat::Ndjson => {
            let options = JsonReadOptions::default().file_extension("");
            context
                .register_json(table.name.as_str(), path.as_ref(), options)
                .await
        }
    }
}

/// Registers every table of a job; remote objects through one guarded store for this context only.
pub(crate) async fn register(
    context: &SessionContext,
    access: &RemoteAccess,
    local: &[LocalTable],
    remote: &[RemoteTable],
) -> datafusion::error::Result<()> {
    if !remote.is_empty() {
        let objects = remote
            .iter()
            .map(|(_, path, object)| (path.clone(), object.clone()))
            .collect();
        let store = GuardedStore::new(
            access.fetcher.clone(),
            access.probe_timeout,
            objects,
            access.tails.clone(),
            access.ranges.clone(),
        );
        let base = Url::parse(STORE_URL)
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        context
            .runtime_env()
            .register_object_store(&base, Arc::new(store));
    }
    if !local.is_empty() {
        let base = Url::parse(LOCAL_URL)
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        context
            .runtime_env()
            .register_object_store(&base, Arc::new(LocalFiles::default()));
    }
    for table in local {
        register_local(context, table).await?;
    }
    for (name, path, _) in remote {
        let options = ParquetReadOptions {
            file_extension: "",
            ..ParquetReadOptions::default()
        };
        context
            .register_parquet(name.as_str(), &format!("{STORE_URL}/{path}"), options)
            .await?;
    }
    Ok(())
}
