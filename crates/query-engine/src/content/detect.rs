//! Format detection and verification (docs/api.md, "Datasets").

use std::io::Read;

use tabletalk_ports::{Compression, DatasetFormat, LoadError, LoadErrorKind};

/// Bytes of a file's start used for sniffing and verification.
pub const SNIFF_BYTES: u64 = 4096;

pub fn unsupported_format() -> LoadError {
    LoadError::new(
        LoadErrorKind::UnsupportedFormat,
        "Unsupported file format. Supported formats: Parquet, CSV, TSV and NDJSON (optionally gzip-compressed).",
    )
}

fn invalid(message: impl Into<String>) -> LoadError {
    LoadError::new(LoadErrorKind::InvalidFile, message)
}

/// Format and compression from a path's extension (case-insensitive).
pub fn by_extension(path: &str) -> Option<(DatasetFormat, Compression)> {
    let lower = path.to_lowercase();
    let (stem, compression) = match lower.strip_suffix(".gz") {
        Some(stem) => (stem, Compression::Gzip),
        None => (lower.as_str(), Compression::None),
    };
    let extension = stem.rsplit_once('.').map(|(_, e)| e)?;
    let format = match extension {
        "parquet" | "pq" if compression == Compression::None => DatasetFormat::Parquet,
        "csv" => DatasetFormat::Csv,
        "tsv" | "tab" => DatasetFormat::Tsv,
        "ndjson" | "jsonl" => DatasetFormat::Ndjson,
        _ => return None,
    };
    Some((format, compression))
}

/// Result of the `Content-Type` rule.
pub enum ByContentType {
    Format(DatasetFormat),
    Html,
    Unknown,
}

pub fn by_content_type(content_type: Option<&str>) -> ByContentType {
    let Some(content_type) = content_type else {
        return ByContentType::Unknown;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_lowercase();
    match essence.as_str() {
        "application/vnd.apache.parquet" | "application/x-parquet" => {
            ByContentType::Format(DatasetFormat::Parquet)
        }
        "text/csv" | "application/csv" => ByContentType::Format(DatasetFormat::Csv),
        "text/tab-separated-values" => ByContentType::Format(DatasetFormat::Tsv),
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" => {
            ByContentType::Format(DatasetFormat::Ndjson)
        }
        "text/html" => ByContentType::Html,
        _ => ByContentType::Unknown,
    }
}

/// The first bytes after gzip decompression (as many as the sample allows).
fn gunzip_prefix(sample: &[u8]) -> Vec<u8> {
    let mut decoder = flate2::read::MultiGzDecoder::new(sample);
    let mut out = Vec::new();
    let mut buffer = [0_u8; 1024];
    while out.len() < 4096 {
        match decoder.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buffer[..n]),
        }
    }
    out
}

/// Text kind from the first bytes: `{` → NDJSON; a tab and no comma on the first line → TSV; else CSV.
fn text_kind(text: &[u8]) -> DatasetFormat {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let first = text.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        return DatasetFormat::Ndjson;
    }
    let line = text.split(|b| *b == b'\n').next().unwrap_or_default();
    if line.contains(&b'\t') && !line.contains(&b',') {
        DatasetFormat::Tsv
    } else {
        DatasetFormat::Csv
    }
}

/// Well-known binary containers that are certainly not data files we read.
fn foreign_binary(sample: &[u8]) -> bool {
    const SIGNATURES: &[&[u8]] = &[
        b"PK\x03\x04",
        b"%PDF",
        b"\x89PNG",
        b"\xFF\xD8\xFF",
        b"GIF8",
        b"7z\xBC\xAF",
        b"BZh",
    ];
    SIGNATURES.iter().any(|s| sample.starts_with(s))
}

/// Format from magic bytes.
pub fn by_magic(sample: &[u8]) -> Result<(DatasetFormat, Compression), LoadError> {
    if sample.starts_with(b"PAR1") {
        return Ok((DatasetFormat::Parquet, Compression::None));
    }
    if sample.starts_with(&[0x1F, 0x8B]) {
        return Ok((text_kind(&gunzip_prefix(sample)), Compression::Gzip));
    }
    if foreign_binary(sample) {
        return Err(unsupported_format());
    }
    Ok((text_kind(sample), Compression::None))
}

fn format_label(format: DatasetFormat) -> &'static str {
    match format {
        DatasetFormat::Parquet => "Parquet",
        DatasetFormat::Csv => "CSV",
        DatasetFormat::Tsv => "TSV",
        DatasetFormat::Ndjson => "NDJSON",
    }
}

/// Verification of a file's first bytes (the Parquet tail is checked separately).
pub fn verify_start(
    sample: &[u8],
    format: DatasetFormat,
    compression: Compression,
) -> Result<(), LoadError> {
    if format == DatasetFormat::Parquet {
        return if sample.starts_with(b"PAR1") {
            Ok(())
        } else {
            Err(invalid("Not a valid parquet file"))
        };
    }
    let text = if compression == Compression::Gzip {
        if !sample.starts_with(&[0x1F, 0x8B]) {
            return Err(invalid("Not a valid gzip file"));
        }
        gunzip_prefix(sample)
    } else {
        sample.to_vec()
    };
    verify_text(&text, format)
}

/// Text must be UTF-8 without NUL bytes in its first 4 KiB (a BOM is skipped; a character cut at the end of the
/// sample is fine).
pub fn verify_text(text: &[u8], format: DatasetFormat) -> Result<(), LoadError> {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let text = &text[..text.len().min(4096)];
    let valid = match std::str::from_utf8(text) {
        Ok(_) => true,
        Err(error) => error.error_len().is_none() && text.len() - error.valid_up_to() < 4,
    };
    if valid && !text.contains(&0) {
        Ok(())
    } else {
        Err(invalid(format!(
            "The file does not look like {} text",
            format_label(format)
        )))
    }
}

/// Parquet files end with `PAR1`.
pub fn verify_parquet_tail(tail: &[u8]) -> Result<(), LoadError> {
    if tail.ends_with(b"PAR1") {
        Ok(())
    } else {
        Err(invalid("Not a valid parquet file"))
    }
}
