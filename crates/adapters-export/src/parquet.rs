//! Parquet: each column's type is inferred from its values — all integers `Int64`, all numbers `Float64`, all
//! booleans `Boolean`, anything else (or a mix) text as CSV writes it; nulls stay nulls.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use serde_json::Value;
use tabletalk_ports::{ResultTable, cell_text};

/// Rows per written batch (and at most per row group).
const BATCH_ROWS: usize = 64 * 1024;

fn column_type(table: &ResultTable, col: usize) -> DataType {
    let values = || table.rows.iter().map(|r| &r[col]).filter(|v| !v.is_null());
    if values().next().is_none() {
        DataType::Utf8
    } else if values().all(Value::is_boolean) {
        DataType::Boolean
    } else if values().all(Value::is_i64) {
        DataType::Int64
    } else if values().all(Value::is_number) {
        DataType::Float64
    } else {
        DataType::Utf8
    }
}

fn array(rows: &[Vec<Value>], col: usize, data_type: &DataType) -> ArrayRef {
    let values = rows.iter().map(|r| &r[col]);
    match data_type {
        DataType::Boolean => Arc::new(values.map(Value::as_bool).collect::<BooleanArray>()),
        DataType::Int64 => Arc::new(values.map(Value::as_i64).collect::<Int64Array>()),
        DataType::Float64 => Arc::new(values.map(Value::as_f64).collect::<Float64Array>()),
        _ => Arc::new(
            values
                .map(|v| (!v.is_null()).then(|| cell_text(v).into_owned()))
                .collect::<StringArray>(),
        ),
    }
}

pub(crate) fn write(table: &ResultTable) -> Result<Vec<u8>, String> {
    let types: Vec<DataType> = (0..table.columns.len())
        .map(|col| column_type(table, col))
        .collect();
    let schema = Arc::new(Schema::new(
        table
            .columns
            .iter()
            .zip(&types)
            .map(|(name, t)| Field::new(name, t.clone(), true))
            .collect::<Vec<_>>(),
    ));
    let mut out = Vec::new();
    let mut writer =
        ArrowWriter::try_new(&mut out, schema.clone(), None).map_err(|e| e.to_string())?;
    for rows in table.rows.chunks(BATCH_ROWS) {
        let arrays: Vec<ArrayRef> = types
            .iter()
            .enumerate()
            .map(|(col, t)| array(rows, col, t))
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| e.to_string())?;
        writer.write(&batch).map_err(|e| e.to_string())?;
    }
    writer.close().map_err(|e| e.to_string())?;
    Ok(out)
}
