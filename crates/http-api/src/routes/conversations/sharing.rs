//! Sharing a conversation and the public read-only view (docs/api.md, "Sharing").

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use crate::dto::{DatasetDto, MessageDto};
use crate::extract::{CurrentUser, client_address, conversation_id};
use crate::openapi::{ShareLinkDto, Success};
use crate::{ApiError, ApiState};

#[utoipa::path(
    post,
    path = "/conversations/{conversation_id}/share",
    tag = "conversations",
    summary = "Share a read-only snapshot by link",
    params(("conversation_id" = String, Path, description = "The conversation's id")),
    responses((status = 201, body = ShareLinkDto)),
    security(("session" = []))
)]
pub(crate) async fn share(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let id = conversation_id(&path)?;
    let conversation = state.conversations.share(user.user.id, id).await?;
    let token = conversation.share_token.unwrap_or_default();
    Ok(HttpResponse::Created().json(ShareLinkDto {
        share_url: format!("{}/share/{token}", state.settings.frontend_url),
        share_token: token,
    }))
}

#[utoipa::path(
    delete,
    path = "/conversations/{conversation_id}/share",
    tag = "conversations",
    summary = "Revoke the share link",
    params(("conversation_id" = String, Path, description = "The conversation's id")),
    responses((status = 200, body = Success)),
    security(("session" = []))
)]
pub(crate) async fn unshare(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let id = conversation_id(&path)?;
    state.conversations.unshare(user.user.id, id).await?;
    Ok(HttpResponse::Ok().json(Success::YES))
}

/// The snapshot: nothing that would lead from the share to its owner or to anything else.
#[derive(Serialize, utoipa::ToSchema)]
struct SharedDto {
    title: String,
    messages: Vec<MessageDto>,
    datasets: Vec<DatasetDto>,
    shared_at: Option<String>,
}

#[utoipa::path(
    get,
    path = "/shared/{share_token}",
    tag = "conversations",
    summary = "A shared conversation, read-only (no session; rate-limited per address)",
    params(("share_token" = String, Path, description = "From the share link")),
    responses((status = 200, body = SharedDto))
)]
pub(crate) async fn view(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let client = client_address(&req, state.settings.trust_forwarded_headers);
    let shared = state.conversations.view_shared(&client, &path).await?;
    Ok(HttpResponse::Ok()
        // A share can be revoked at any moment: no cache may keep it.
        .insert_header(("Cache-Control", "no-store"))
        .json(SharedDto {
            title: shared.conversation.title.clone(),
            messages: shared.messages.iter().map(MessageDto::from).collect(),
            datasets: shared.datasets.iter().map(DatasetDto::from).collect(),
            shared_at: shared.conversation.shared_at.map(|t| t.to_string()),
        }))
}
