//! XLSX: one sheet `Results` with a bold header. Numbers and booleans are typed cells; everything else is a text
//! cell — a value that looks like a formula (`=1+1`) stays text, so opening the file never computes anything. Text
//! is cut to Excel's 32,767 characters. The sheet is written in constant-memory mode (rows go to a temporary file
//! as they are written), so a large result is not held twice.

use rust_xlsxwriter::{Format, Workbook};
use serde_json::Value;
use tabletalk_ports::{ResultTable, cell_text};

/// Excel's longest cell text.
const MAX_CELL_CHARS: usize = 32_767;

fn cut(text: &str) -> &str {
    match text.char_indices().nth(MAX_CELL_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

pub(crate) fn write(table: &ResultTable) -> Result<Vec<u8>, String> {
    let error = |e: rust_xlsxwriter::XlsxError| e.to_string();
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let sheet = workbook
        .add_worksheet_with_constant_memory()
        .map_err(error)?;
    sheet.set_name("Results").map_err(error)?;
    for (col, name) in table.columns.iter().enumerate() {
        let col = u16::try_from(col).map_err(|_| "too many columns".to_owned())?;
        sheet
            .write_string_with_format(0, col, cut(name), &bold)
            .map_err(error)?;
    }
    for (index, row) in table.rows.iter().enumerate() {
        let at = u32::try_from(index + 1).map_err(|_| "too many rows".to_owned())?;
        for (col, value) in row.iter().enumerate() {
            let col = u16::try_from(col).map_err(|_| "too many columns".to_owned())?;
            match value {
                Value::Null => {}
                Value::Bool(b) => {
                    sheet.write_boolean(at, col, *b).map_err(error)?;
                }
                Value::Number(n) => match n.as_f64() {
                    Some(f) if f.is_finite() => {
                        sheet.write_number(at, col, f).map_err(error)?;
                    }
                    _ => {
                        sheet.write_string(at, col, n.to_string()).map_err(error)?;
                    }
                },
                other => {
                    sheet
                        .write_string(at, col, cut(&cell_text(other)))
                        .map_err(error)?;
                }
            }
        }
    }
    workbook.save_to_buffer().map_err(error)
}
