//! What the query engine sees of a conversation's datasets: the `ready` ones, under their names.

use tabletalk_ports::{
    Dataset, DatasetSource, DatasetStatus, QueryColumn, QueryTable, TableLocation,
};

use super::query_errors::TableColumns;

/// `(name, type)` of every column in a dataset's stored schema.
pub fn schema_columns(dataset: &Dataset) -> Vec<QueryColumn> {
    dataset
        .columns
        .iter()
        .map(|c| QueryColumn {
            name: c.name.clone(),
            sql_type: c.sql_type.clone(),
        })
        .collect()
}

/// The engine's table for a ready dataset.
pub fn query_table(dataset: &Dataset) -> Option<QueryTable> {
    if dataset.status != DatasetStatus::Ready {
        return None;
    }
    let location = match (dataset.source, dataset.upload_id) {
        (DatasetSource::Upload, Some(id)) => TableLocation::Upload(id),
        (DatasetSource::Url, _) => TableLocation::Remote {
            url: dataset.url.clone(),
            etag: dataset.etag.clone(),
            size: dataset.file_size_bytes.and_then(|s| u64::try_from(s).ok()),
            version: dataset.version.clone().unwrap_or_default(),
        },
        (DatasetSource::Upload, None) => return None,
    };
    Some(QueryTable {
        name: dataset.name.clone(),
        location,
        format: dataset.format,
        compression: dataset.compression,
        columns: schema_columns(dataset),
        integer_ranges: integer_ranges(dataset),
        row_count: u64::try_from(dataset.row_count).ok(),
    })
}

/// `(column, min, max)` of the integer columns whose stored statistics have both bounds.
pub fn integer_ranges(dataset: &Dataset) -> Vec<(String, i64, i64)> {
    const INTEGER_TYPES: [&str; 9] = [
        "BIGINT",
        "INTEGER",
        "INT",
        "SMALLINT",
        "TINYINT",
        "BIGINT UNSIGNED",
        "INTEGER UNSIGNED",
        "SMALLINT UNSIGNED",
        "TINYINT UNSIGNED",
    ];
    dataset
        .columns
        .iter()
        .filter(|c| INTEGER_TYPES.contains(&c.sql_type.as_str()))
        .filter_map(|c| {
            Some((
                c.name.clone(),
                c.stats.min.as_ref()?.as_i64()?,
                c.stats.max.as_ref()?.as_i64()?,
            ))
        })
        .collect()
}

/// The ready datasets as engine tables.
pub fn query_tables(datasets: &[Dataset]) -> Vec<QueryTable> {
    datasets.iter().filter_map(query_table).collect()
}

/// Table and column names for error guidance.
pub fn table_columns(datasets: &[Dataset]) -> Vec<TableColumns> {
    datasets
        .iter()
        .filter(|d| d.status == DatasetStatus::Ready)
        .map(|d| TableColumns {
            name: d.name.clone(),
            columns: schema_columns(d).into_iter().map(|c| c.name).collect(),
        })
        .collect()
}
