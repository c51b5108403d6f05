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
    cfg.service(resource("/export/csv", &[Method::POST]).route(web::post().to(export_csv)));
    cfg.service(resource("/export/xlsx", &[Method::POST]).route(web::post().to(export_xlsx)));
    cfg.service(resource("/export/parquet", &[Method::POST]).route(web::post().to(export_parquet)));
}

/// The rows to write: `columns` names them; each row's cells line up with them (missing cells are empty).
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct ExportBody {
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

#[utoipa::path(
    post,
    path = "/export/csv",
    tag = "sql",
    summary = "The rows as CSV (RFC 4180)",
    request_body = ExportBody,
    responses((status = 200, content_type = "text/csv; charset=utf-8", body = String)),
    security(("session" = []))
)]
pub(crate) async fn export_csv(
    user: CurrentUser,
    state: web::Data<ApiState>,
    body: LargeJson<ExportBody>,
) -> Result<HttpResponse, ApiError> {
    export(user, state, body, ExportFormat::Csv).await
}

#[utoipa::path(
    post,
    path = "/export/xlsx",
    tag = "sql",
    summary = "The rows as an Excel workbook (typed cells, never formulas)",
    request_body = ExportBody,
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>)),
    security(("session" = []))
)]
pub(crate) async fn export_xlsx(
    user: CurrentUser,
    state: web::Data<ApiState>,
    body: LargeJson<ExportBody>,
) -> Result<HttpResponse, ApiError> {
    export(user, state, body, ExportFormat::Xlsx).await
}

#[utoipa::path(
    post,
    path = "/export/parquet",
    tag = "sql",
    summary = "The rows as Parquet (column types inferred from the values)",
    request_body = ExportBody,
    responses((status = 200, content_type = "application/vnd.apache.parquet", body = Vec<u8>)),
    security(("session" = []))
)]
pub(crate) async fn export_parquet(
    user: CurrentUser,
    state: web::Data<ApiState>,
    body: LargeJson<ExportBody>,
) -> Result<HttpResponse, ApiError> {
    export(user, state, body, ExportFormat::Parquet).await
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
