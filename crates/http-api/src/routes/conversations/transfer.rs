//! Import, fork and export of conversations (docs/api.md, "Import", "Fork", "Export").

use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::dto::{ExportDto, export_html, read_import};
use crate::extract::{ApiJson, CurrentUser, LargeJson, conversation_id};
use crate::{ApiError, ApiState};

pub(super) async fn import(
    user: CurrentUser,
    state: web::Data<ApiState>,
    body: LargeJson<Value>,
) -> Result<HttpResponse, ApiError> {
    let imported = read_import(body.into_inner()?)?;
    let conversation = state.transfer.import(user.user.id, imported).await?;
    Ok(HttpResponse::Created().json(json!({
        "id": conversation.id.to_string(),
        "title": conversation.title,
    })))
}

#[derive(Deserialize)]
pub(super) struct ForkRequest {
    message_id: String,
}

pub(super) async fn fork(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
    body: ApiJson<ForkRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let id = conversation_id(&path)?;
    let message = super::super::messages::message_id(&body.message_id);
    let fork = state.transfer.fork(user.user.id, id, message).await?;
    Ok(HttpResponse::Created().json(json!({
        "id": fork.id.to_string(),
        "title": fork.title,
    })))
}

fn attachment(name: String) -> ContentDisposition {
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![DispositionParam::Filename(name)],
    }
}

pub(super) async fn export_json(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let id = conversation_id(&path)?;
    let exported = state.transfer.export(user.user.id, id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(attachment(format!("conversation-{id}.json")))
        .json(ExportDto::new(&exported.detail, exported.exported_at)))
}

pub(super) async fn export_page(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let id = conversation_id(&path)?;
    let exported = state.transfer.export(user.user.id, id).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(attachment(format!("conversation-{id}.html")))
        .body(export_html(&exported.detail, exported.exported_at)))
}
