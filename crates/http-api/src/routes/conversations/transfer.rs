//! Import, fork and export of conversations (docs/api.md, "Import", "Fork", "Export").

use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::dto::{ExportDto, export_html, read_import};
use crate::extract::{ApiJson, CurrentUser, LargeJson, conversation_id};
use crate::{ApiError, ApiState};

/// A conversation made by import or fork.
#[derive(Serialize, utoipa::ToSchema)]
struct MadeDto {
    id: String,
    title: String,
}

#[utoipa::path(
    post,
    path = "/conversations/import",
    tag = "conversations",
    summary = "Import a conversation: chatDF's export or Tabletalk's own (`tabletalk.conversation.v1`)",
    description = "Datasets load in the background afterwards, each ending with `dataset_loaded` or `dataset_error` on the WebSocket. Body limit `server.max_large_json_body`.",
    request_body = Object,
    responses((status = 201, body = MadeDto)),
    security(("session" = []))
)]
pub(crate) async fn import(
    user: CurrentUser,
    state: web::Data<ApiState>,
    body: LargeJson<Value>,
) -> Result<HttpResponse, ApiError> {
    let imported = read_import(body.into_inner()?)?;
    let conversation = state.transfer.import(user.user.id, imported).await?;
    Ok(HttpResponse::Created().json(MadeDto {
        id: conversation.id.to_string(),
        title: conversation.title,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct ForkRequest {
    /// The last message the fork keeps.
    message_id: String,
}

#[utoipa::path(
    post,
    path = "/conversations/{conversation_id}/fork",
    tag = "conversations",
    summary = "Copy the conversation up to a message, with all its datasets",
    params(("conversation_id" = String, Path, description = "The conversation's id")),
    request_body = ForkRequest,
    responses((status = 201, body = MadeDto)),
    security(("session" = []))
)]
pub(crate) async fn fork(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
    body: ApiJson<ForkRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let id = conversation_id(&path)?;
    let message = super::super::messages::message_id(&body.message_id);
    let fork = state.transfer.fork(user.user.id, id, message).await?;
    Ok(HttpResponse::Created().json(MadeDto {
        id: fork.id.to_string(),
        title: fork.title,
    }))
}

fn attachment(name: String) -> ContentDisposition {
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![DispositionParam::Filename(name)],
    }
}

#[utoipa::path(
    get,
    path = "/conversations/{conversation_id}/export",
    tag = "conversations",
    summary = "Export as JSON (an import body as it is)",
    params(("conversation_id" = String, Path, description = "The conversation's id")),
    responses((status = 200, body = ExportDto)),
    security(("session" = []))
)]
pub(crate) async fn export_json(
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

#[utoipa::path(
    get,
    path = "/conversations/{conversation_id}/export/html",
    tag = "conversations",
    summary = "Export as one self-contained HTML page (no scripts, nothing external)",
    params(("conversation_id" = String, Path, description = "The conversation's id")),
    responses((status = 200, content_type = "text/html; charset=utf-8", body = String)),
    security(("session" = []))
)]
pub(crate) async fn export_page(
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
