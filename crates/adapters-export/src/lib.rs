//! Tabletalk's result files: CSV (written here, RFC 4180), XLSX (`rust_xlsxwriter`) and Parquet (arrow-rs, through
//! DataFusion's re-exports, so the workspace builds one arrow), behind the `ResultWriter` port.
//!
//! Must not import the domain, http-api or any other adapter.

mod csv;
mod parquet;
mod xlsx;

use tabletalk_ports::{ExportError, ExportFormat, ResultTable, ResultWriter};

/// The writer of every format.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileWriter;

impl ResultWriter for FileWriter {
    fn write(&self, format: ExportFormat, table: &ResultTable) -> Result<Vec<u8>, ExportError> {
        let failed = |reason: String| ExportError { format, reason };
        match format {
            ExportFormat::Csv => Ok(csv::write(table)),
            ExportFormat::Xlsx => xlsx::write(table).map_err(failed),
            ExportFormat::Parquet => parquet::write(table).map_err(failed),
        }
    }
}
