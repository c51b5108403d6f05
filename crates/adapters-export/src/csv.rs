//! CSV as RFC 4180 writes it: a field is quoted when it holds a quote, a comma, CR or LF (quotes doubled), lines end
//! with CRLF, UTF-8 without a byte-order mark.

use tabletalk_ports::{ResultTable, cell_text};

fn field(out: &mut Vec<u8>, text: &str) {
    if text.contains(['"', ',', '\r', '\n']) {
        out.push(b'"');
        out.extend_from_slice(text.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

fn line<'a>(out: &mut Vec<u8>, fields: impl Iterator<Item = std::borrow::Cow<'a, str>>) {
    for (i, text) in fields.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        field(out, &text);
    }
    out.extend_from_slice(b"\r\n");
}

pub(crate) fn write(table: &ResultTable) -> Vec<u8> {
    let mut out = Vec::new();
    line(&mut out, table.columns.iter().map(|c| c.as_str().into()));
    for row in &table.rows {
        line(&mut out, row.iter().map(cell_text));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed_and_lines_end_with_crlf() {
        let table = ResultTable {
            columns: vec!["a".into(), "b,c".into()],
            rows: vec![
                vec![json!("say \"hi\""), json!(null)],
                vec![json!(1.5), json!(["x", {"y": true}])],
                vec![json!("two\nlines"), json!(false)],
            ],
        };
        assert_eq!(
            String::from_utf8(write(&table)).unwrap(),
            "a,\"b,c\"\r\n\"say \"\"hi\"\"\",\r\n1.5,\"[\"\"x\"\",{\"\"y\"\":true}]\"\r\n\"two\nlines\",false\r\n"
        );
    }
}
