//! Schema extraction (docs/api.md, "Datasets"): column names, SQL types, nullability, sample values and statistics.
//! Remote Parquet is described from its footer alone; local files (cache, uploads) with one aggregate pass.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use datafusion::parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
#[allow(deprecated, reason = "see describe_remote_parquet")]
use datafusion::parquet::arrow::async_reader::ParquetObjectReader;
use datafusion::parquet::arrow::async_reader::ParquetRecordBatchStreamBuilder;
use datafusion::prelude::{CsvReadOptions, SessionContext};
use futures_util::StreamExt;
use serde_json::Value;
use tabletalk_ports::{
    ColumnSchema, ColumnStats, DatasetFormat, LoadError, LoadErrorKind, QueryColumn,
};

use crate::engine::cells;
use crate::engine::execute::{fresh_context, raw_message};
use crate::engine::tables::{LocalTable, register_local};
use crate::files::DatasetFiles;
use crate::remote::{GuardedStore, RemoteObject};

const SAMPLE_ROWS: usize = 100;
const SAMPLE_VALUES: usize = 5;
const MAX_WIDENINGS: usize = 3;

/// A described table.
#[derive(Debug, Clone)]
pub struct Described {
    pub row_count: i64,
    pub columns: Vec<ColumnSchema>,
}

pub fn schema_failure(reason: &str) -> LoadError {
    LoadError::new(
        LoadErrorKind::SchemaExtraction,
        format!("Failed to extract schema: {reason}"),
    )
}

/// `"name"` as a SQL identifier.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn display(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > 80 {
        let cut: String = text.chars().take(77).collect();
        format!("{cut}...")
    } else {
        text
    }
}

/// Up to five distinct non-null values per column from the first rows, in file order.
fn samples(batches: &[RecordBatch], columns: usize) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new(); columns];
    let mut seen = 0;
    for batch in batches {
        for row in 0..batch.num_rows() {
            if seen >= SAMPLE_ROWS {
                return out;
            }
            seen += 1;
            for (index, column) in batch.columns().iter().enumerate().take(columns) {
                if column.is_null(row) || out[index].len() >= SAMPLE_VALUES {
                    continue;
                }
                let text = display(&cells::cell(column, row));
                if !out[index].contains(&text) {
                    out[index].push(text);
                }
            }
        }
    }
    out
}

fn is_numeric(data_type: &DataType) -> bool {
    data_type.is_numeric()
}

fn is_temporal(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Date32
            | DataType::Date64
            | DataType::Time32(_)
            | DataType::Time64(_)
            | DataType::Timestamp(..)
    )
}

fn is_string(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) || matches!(data_type, DataType::Dictionary(_, v) if is_string(v))
}

fn column_schema(
    field: &datafusion::arrow::datatypes::Field,
    nullable: bool,
    sample_values: Vec<String>,
    stats: ColumnStats,
) -> ColumnSchema {
    ColumnSchema {
        name: field.name().clone(),
        sql_type: cells::sql_type(field.data_type()),
        nullable,
        sample_values,
        stats,
    }
}

/// The first non-null value of an array.
fn values(array: &ArrayRef) -> impl Iterator<Item = Value> + '_ {
    (0..array.len())
        .filter(|i| !array.is_null(*i))
        .map(|i| cells::cell(array, i))
}

fn pick(values: impl Iterator<Item = Value>, want_max: bool) -> Option<Value> {
    values.reduce(|best, next| {
        let better = match (best.as_f64(), next.as_f64()) {
            (Some(a), Some(b)) => (b > a) == want_max,
            _ => (display(&next) > display(&best)) == want_max,
        };
        if better { next } else { best }
    })
}

/// Describes a remote Parquet file from its footer (read with range requests through the guard).
///
/// # Errors
/// `InvalidFile` when the footer does not decode or is over 64 MiB.
#[allow(
    deprecated,
    reason = "ParquetObjectReader is what DataFusion 55 itself reads object stores with; its replacement is not \
              released with DataFusion yet"
)]
pub async fn describe_remote_parquet(
    files: &DatasetFiles,
    object: RemoteObject,
    version: &str,
    metadata_length: u64,
) -> Result<Described, LoadError> {
    const MAX_METADATA: u64 = 64 << 20;
    if metadata_length > MAX_METADATA {
        return Err(LoadError::new(
            LoadErrorKind::InvalidFile,
            "Parquet metadata is too large (max 64 MB)",
        ));
    }
    let size = object.size;
    // The path queries use too: the footer read here is kept for them (`remote::TailCache`).
    let path = crate::remote::object_path(object.url.as_str(), version);
    let store = Arc::new(GuardedStore::new(
        files.fetcher.clone(),
        files.settings.probe_timeout,
        vec![(path.clone(), object)],
        files.tails.clone(),
        files.ranges.clone(),
    ));
    let hint = usize::try_from(metadata_length + 8).unwrap_or(usize::MAX);
    let mut reader = ParquetObjectReader::new(store.clone(), path.clone().into())
        .with_file_size(size)
        .with_footer_size_hint(hint);
    let invalid = |error: datafusion::parquet::errors::ParquetError| {
        tracing::info!(%error, "parquet footer could not be decoded");
        LoadError::new(LoadErrorKind::InvalidFile, "Not a valid parquet file")
    };
    let metadata = ArrowReaderMetadata::load_async(&mut reader, ArrowReaderOptions::new())
        .await
        .map_err(invalid)?;
    let schema = metadata.schema().clone();
    let parquet = metadata.metadata().clone();
    let row_count = parquet.file_metadata().num_rows();
    if schema.fields().is_empty() {
        return Err(schema_failure("the file has no columns"));
    }
    // Sample values come from the first row group only when it is small: adding must read a tiny part of the file.
    let first_group_bytes = parquet.row_groups().first().map_or(
        0,
        datafusion::parquet::file::metadata::RowGroupMetaData::compressed_size,
    );
    let budget = i64::try_from((size / 200).min(8 << 20)).unwrap_or(i64::MAX);
    let mut sample_values = vec![Vec::new(); schema.fields().len()];
    if parquet.num_row_groups() > 0 && first_group_bytes <= budget {
        let reader = ParquetObjectReader::new(store, path.into()).with_file_size(size);
        if let Ok(builder) =
            ParquetRecordBatchStreamBuilder::new_with_metadata(reader, metadata.clone())
                .with_row_groups(vec![0])
                .with_limit(SAMPLE_ROWS)
                .build()
        {
            let batches: Vec<RecordBatch> =
                builder.filter_map(|b| async { b.ok() }).collect().await;
            sample_values = samples(&batches, schema.fields().len());
        }
    }
    let groups = parquet.row_groups();
    let columns = schema
        .fields()
        .iter()
        .zip(sample_values)
        .map(|(field, sample)| {
            let mut stats = ColumnStats::default();
            if let Ok(converter) = StatisticsConverter::try_new(
                field.name(),
                &schema,
                parquet.file_metadata().schema_descr(),
            ) {
                let nulls = converter.row_group_null_counts(groups.iter()).ok();
                if let Some(nulls) = nulls.filter(|n| n.null_count() == 0 && !n.is_empty()) {
                    stats.null_count = i64::try_from(nulls.values().iter().sum::<u64>()).ok();
                }
                let data_type = field.data_type();
                if is_numeric(data_type) || is_temporal(data_type) {
                    let mins = converter.row_group_mins(groups.iter()).ok();
                    let maxes = converter.row_group_maxes(groups.iter()).ok();
                    if let (Some(mins), Some(maxes)) = (mins, maxes)
                        && mins.null_count() == 0
                        && maxes.null_count() == 0
                    {
                        stats.min = pick(values(&mins), false);
                        stats.max = pick(values(&maxes), true);
                    }
                }
            }
            column_schema(field, field.is_nullable(), sample, stats)
        })
        .collect();
    Ok(Described { row_count, columns })
}

/// Splits a CSV header line honouring `"` quoting with doubling.
fn header_fields(line: &str, delimiter: char) -> Vec<String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            c if c == delimiter && !quoted => fields.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    fields.push(current);
    fields
}

/// Header names: empty → `column_<i>`, repeats → `_2`, `_3`, ….
pub fn header_names(raw: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(raw.len());
    for (index, name) in raw.iter().enumerate() {
        let base = if name.trim().is_empty() {
            format!("column_{}", index + 1)
        } else {
            name.trim().to_owned()
        };
        let mut candidate = base.clone();
        let mut n = 2;
        while names.iter().any(|existing| existing == &candidate) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        names.push(candidate);
    }
    names
}

/// Reads the header row of a CSV/TSV file.
async fn read_header(path: &Path, delimiter: char) -> Result<Vec<String>, LoadError> {
    use tokio::io::AsyncBufReadExt;
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| schema_failure(&e.to_string()))?;
    let mut reader = tokio::io::BufReader::new(file);
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .await
        .map_err(|_| schema_failure("the file is not valid UTF-8"))?;
    let line = line
        .trim_start_matches('\u{feff}')
        .trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return Err(schema_failure("the file has no columns"));
    }
    Ok(header_names(&header_fields(line, delimiter)))
}

/// Types the CSV reader infers for the first `infer_rows` rows, restricted to what text formats store.
async fn infer_text_types(
    context: &SessionContext,
    path: &Path,
    delimiter: u8,
    infer_rows: usize,
) -> Result<Vec<String>, LoadError> {
    let options = CsvReadOptions::new()
        .has_header(true)
        .delimiter(delimiter)
        .file_extension("")
        .schema_infer_max_records(infer_rows);
    let frame = context
        .read_csv(path.to_string_lossy().as_ref(), options)
        .await
        .map_err(|e| schema_failure(&raw_message(&e)))?;
    Ok(frame
        .schema()
        .fields()
        .iter()
        .map(|f| {
            match f.data_type() {
                DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => "BIGINT",
                DataType::Float16 | DataType::Float32 | DataType::Float64 => "DOUBLE",
                DataType::Boolean => "BOOLEAN",
                DataType::Date32 | DataType::Date64 => "DATE",
                DataType::Timestamp(..) => "TIMESTAMP",
                _ => "VARCHAR",
            }
            .to_owned()
        })
        .collect())
}

/// The next wider type: integer → float → string; boolean, date, timestamp → string.
fn widen(sql_type: &str) -> &'static str {
    if sql_type == "BIGINT" {
        "DOUBLE"
    } else {
        "VARCHAR"
    }
}

/// `… for column N …` in an arrow-csv parse error.
fn failing_column(message: &str) -> Option<usize> {
    let rest = message.split("for column ").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The statistics query of a table named `t`.
fn stats_sql(schema: &Schema) -> String {
    let mut select = vec!["count(*)".to_owned()];
    for field in schema.fields() {
        let column = quote(field.name());
        select.push(format!("count({column})"));
        let data_type = field.data_type();
        if is_numeric(data_type) || is_temporal(data_type) {
            select.push(format!("min({column})"));
            select.push(format!("max({column})"));
        } else if is_string(data_type) {
            select.push(format!("approx_distinct(CAST({column} AS VARCHAR))"));
        }
    }
    format!("SELECT {} FROM t", select.join(", "))
}

async fn collect(
    context: &SessionContext,
    sql: &str,
) -> datafusion::error::Result<Vec<RecordBatch>> {
    context.sql(sql).await?.collect().await
}

fn column_stats(schema: &Schema, row: &RecordBatch) -> (i64, Vec<ColumnStats>) {
    let mut index = 0;
    let mut next = || {
        let column = row.column(index).clone();
        index += 1;
        cells::cell(&column, 0)
    };
    let total = next().as_i64().unwrap_or(0);
    let mut out = Vec::new();
    for field in schema.fields() {
        let non_null = next().as_i64().unwrap_or(0);
        let mut stats = ColumnStats {
            null_count: Some(total - non_null),
            ..ColumnStats::default()
        };
        let data_type = field.data_type();
        if is_numeric(data_type) || is_temporal(data_type) {
            stats.min = Some(next()).filter(|v| !v.is_null());
            stats.max = Some(next()).filter(|v| !v.is_null());
        } else if is_string(data_type) {
            stats.unique_count = next().as_i64();
        }
        out.push(stats);
    }
    (total, out)
}

/// Settings of a local description.
#[derive(Debug, Clone, Copy)]
pub struct LocalLimits {
    pub memory_limit: usize,
    pub infer_rows: usize,
    pub timeout: Duration,
}

/// Names and inferred types of a CSV/TSV file (empty for other formats, which carry their own schema).
async fn text_columns(
    files: &DatasetFiles,
    path: &Path,
    format: DatasetFormat,
    limits: LocalLimits,
) -> Result<Vec<QueryColumn>, LoadError> {
    let fail = |e: datafusion::error::DataFusionError| schema_failure(&raw_message(&e));
    let mut columns: Vec<QueryColumn> = Vec::new();
    if matches!(format, DatasetFormat::Csv | DatasetFormat::Tsv) {
        let delimiter = if format == DatasetFormat::Tsv {
            '\t'
        } else {
            ','
        };
        let names = read_header(path, delimiter).await?;
        let context = fresh_context(limits.memory_limit, &files.file_caches).map_err(fail)?;
        let types = infer_text_types(
            &context,
            path,
            u8::try_from(delimiter).unwrap_or(b','),
            limits.infer_rows,
        )
        .await?;
        if types.len() != names.len() {
            return Err(schema_failure(
                "the header and the rows have different numbers of columns",
            ));
        }
        columns = names
            .into_iter()
            .zip(types)
            .map(|(name, sql_type)| QueryColumn { name, sql_type })
            .collect();
    }
    Ok(columns)
}

/// A Parquet file whose statistics pass failed: the row count only.
async fn count_only(context: &SessionContext, schema: &Schema) -> Result<Described, LoadError> {
    let counted = collect(context, "SELECT count(*) FROM t")
        .await
        .map_err(|e| schema_failure(&raw_message(&e)))?;
    let row_count = counted
        .first()
        .filter(|b| b.num_rows() > 0)
        .and_then(|b| cells::cell(b.column(0), 0).as_i64())
        .unwrap_or(0);
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            column_schema(
                field,
                field.is_nullable(),
                Vec::new(),
                ColumnStats::default(),
            )
        })
        .collect();
    Ok(Described { row_count, columns })
}

/// Describes a local file (cache entry or upload), widening text columns whose values do not fit.
///
/// # Errors
/// `SchemaExtraction` with the translated reason.
pub async fn describe_local(
    files: &DatasetFiles,
    path: &Path,
    format: DatasetFormat,
    limits: LocalLimits,
) -> Result<Described, LoadError> {
    let fail = |e: datafusion::error::DataFusionError| schema_failure(&raw_message(&e));
    let mut columns = text_columns(files, path, format, limits).await?;
    let mut widenings = 0;
    loop {
        let context = fresh_context(limits.memory_limit, &files.file_caches).map_err(fail)?;
        let table = LocalTable {
            name: "t".to_owned(),
            path: path.to_owned(),
            format,
            columns: columns.clone(),
        };
        register_local(&context, &table).await.map_err(fail)?;
        let schema: Schema = match context.table("t").await {
            Ok(frame) => frame.schema().as_arrow().clone(),
            Err(error) => return Err(fail(error)),
        };
        if schema.fields().is_empty() {
            return Err(schema_failure("the file has no columns"));
        }
        let pass = tokio::time::timeout(limits.timeout, async {
            let stats = collect(&context, &stats_sql(&schema)).await?;
            let sample = collect(&context, &format!("SELECT * FROM t LIMIT {SAMPLE_ROWS}")).await?;
            Ok::<_, datafusion::error::DataFusionError>((stats, sample))
        })
        .await
        .map_err(|_| {
            schema_failure(&format!(
                "the file could not be read within {} s",
                limits.timeout.as_secs()
            ))
        })?;
        match pass {
            Ok((stats, sample)) => {
                let Some(row) = stats.into_iter().find(|b| b.num_rows() > 0) else {
                    return Err(schema_failure("no statistics"));
                };
                let (row_count, stats) = column_stats(&schema, &row);
                let sample_values = samples(&sample, schema.fields().len());
                let columns = schema
                    .fields()
                    .iter()
                    .zip(sample_values)
                    .zip(stats)
                    .map(|((field, sample), stats)| {
                        // Text formats have no declared nullability: any value may be missing.
                        let nullable = format == DatasetFormat::Parquet && !field.is_nullable();
                        column_schema(field, !nullable, sample, stats)
                    })
                    .collect();
                return Ok(Described { row_count, columns });
            }
            // Statistics are best effort for Parquet: the footer gave the schema, a count always works.
            Err(_) if format == DatasetFormat::Parquet => {
                return count_only(&context, &schema).await;
            }
            Err(error) => {
                let message = raw_message(&error);
                let textual = !columns.is_empty();
                let parse_error = message.to_lowercase().contains("pars")
                    || message.to_lowercase().contains("cast");
                if !textual || !parse_error || widenings >= MAX_WIDENINGS {
                    return Err(schema_failure(&message));
                }
                widenings += 1;
                match failing_column(&message).filter(|i| *i < columns.len()) {
                    Some(index) => {
                        widen(&columns[index].sql_type).clone_into(&mut columns[index].sql_type);
                    }
                    None => {
                        for column in &mut columns {
                            "VARCHAR".clone_into(&mut column.sql_type);
                        }
                    }
                }
            }
        }
    }
}
