//! Result export: the rows a client holds as a CSV, XLSX or Parquet download (docs/api.md, "Result export").

use actix_web::http::Method;
use actix_web::http::header::{
    Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::Value;
use tabletalk_domain::export::ExportRequest;
use tabletalk_ports::ExportFormat;

use super::resource;
use crate::extract::{CurrentUser, LargeJson};
use crate::{ApiError, ApiState};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    for (path, format) in [
        ("/export/csv", ExportFormat::Csv),
        ("/export/xlsx", ExportFormat::Xlsx),
        ("/export/parquet", ExportFormat::Parquet),
    ] {
        cfg.service(resource(path, &[Method::POST]).route(web::post().to(
            move |user: CurrentUser, state: web::Data<ApiState>, body: LargeJson<ExportBody>| {
                export(user, state, body, format)
            },
        )));
    }
}

#[derive(Deserialize)]
struct ExportBody {
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
    #[serde(default)]
    filename: Option<String>,
}

/// `attachment` with an ASCII name for old clients and the exact UTF-8 name (RFC 6266 `filename*`).
fn attachment(name: &str) -> ContentDisposition {
    let ascii: String = name
        .chars()
        .map(|c| if c.is_ascii() { c } else { '_' })
        .collect();
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![
            DispositionParam::Filename(ascii),
            DispositionParam::FilenameExt(ExtendedValue {
                charset: Charset::Ext("UTF-8".to_owned()),
                language_tag: None,
                value: name.as_bytes().to_vec(),
            }),
        ],
    }
}

async fn export(
    _user: CurrentUser,
    state: web::Data<ApiState>,
    body: LargeJson<ExportBody>,
    format: ExportFormat,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let request = ExportRequest::parse(body.columns, body.rows, body.filename.as_deref())?;
    let name = request.file_name(format);
    let exports = state.exports.clone();
    // Writing a large file is CPU work: off the async workers.
    let file = web::block(move || exports.write(format, &request))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::internal(&e))?;
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header(attachment(&name))
        .body(file))
}
