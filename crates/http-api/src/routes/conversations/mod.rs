//! Conversation endpoints: create, list, detail, rename, pin, delete one, delete all, bulk delete and bulk pin,
//! search, import, fork, share and export (docs/api.md, "Conversations").

mod dto;
mod search;
mod sharing;
mod transfer;

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use tabletalk_domain::ConversationIds;
use tabletalk_ports::ConversationTitle;

use super::resource;
use crate::extract::{ApiJson, CurrentUser, conversation_id};
use crate::{ApiError, ApiState};
use dto::{ConversationDetailDto, ConversationSummaryDto, CreatedDto};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource(
            "/conversations",
            &[Method::GET, Method::POST, Method::DELETE],
        )
        .route(web::post().to(create))
        .route(web::get().to(list))
        .route(web::delete().to(delete_all)),
    );
    // Before `/conversations/{conversation_id}`, which would otherwise take these paths as ids.
    cfg.service(
        resource("/conversations/bulk-delete", &[Method::POST]).route(web::post().to(bulk_delete)),
    );
    cfg.service(
        resource("/conversations/bulk-pin", &[Method::POST]).route(web::post().to(bulk_pin)),
    );
    cfg.service(
        resource("/conversations/search", &[Method::GET]).route(web::get().to(search::search)),
    );
    cfg.service(
        resource("/conversations/import", &[Method::POST]).route(web::post().to(transfer::import)),
    );
    cfg.service(
        resource(
            "/conversations/{conversation_id}",
            &[Method::GET, Method::PATCH, Method::DELETE],
        )
        .route(web::get().to(detail))
        .route(web::patch().to(rename))
        .route(web::delete().to(delete)),
    );
    cfg.service(
        resource("/conversations/{conversation_id}/pin", &[Method::PATCH])
            .route(web::patch().to(pin)),
    );
    cfg.service(
        resource("/conversations/{conversation_id}/fork", &[Method::POST])
            .route(web::post().to(transfer::fork)),
    );
    cfg.service(
        resource(
            "/conversations/{conversation_id}/share",
            &[Method::POST, Method::DELETE],
        )
        .route(web::post().to(sharing::share))
        .route(web::delete().to(sharing::unshare)),
    );
    cfg.service(
        resource("/shared/{share_token}", &[Method::GET]).route(web::get().to(sharing::view)),
    );
    cfg.service(
        resource("/conversations/{conversation_id}/export", &[Method::GET])
            .route(web::get().to(transfer::export_json)),
    );
    cfg.service(
        resource(
            "/conversations/{conversation_id}/export/html",
            &[Method::GET],
        )
        .route(web::get().to(transfer::export_page)),
    );
}

async fn create(user: CurrentUser, state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let conversation = state.conversations.create(user.user.id).await?;
    Ok(HttpResponse::Created().json(CreatedDto::from(&conversation)))
}

async fn list(user: CurrentUser, state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let summaries = state.conversations.list(user.user.id).await?;
    let conversations: Vec<ConversationSummaryDto> =
        summaries.iter().map(ConversationSummaryDto::from).collect();
    Ok(HttpResponse::Ok().json(json!({ "conversations": conversations })))
}

async fn detail(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let id = conversation_id(&path)?;
    let detail = state.conversations.detail(user.user.id, id).await?;
    Ok(HttpResponse::Ok().json(ConversationDetailDto::from(&detail)))
}

#[derive(Deserialize)]
struct RenameRequest {
    title: String,
}

async fn rename(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
    body: ApiJson<RenameRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let title = ConversationTitle::parse(&body.title)
        .map_err(|e| ApiError::validation(&[("title", &e.to_string())]))?;
    let id = conversation_id(&path)?;
    let conversation = state.conversations.rename(user.user.id, id, &title).await?;
    Ok(HttpResponse::Ok().json(json!({
        "id": conversation.id.to_string(),
        "title": conversation.title,
        "updated_at": conversation.updated_at.to_string(),
    })))
}

#[derive(Deserialize)]
struct PinRequest {
    is_pinned: bool,
}

async fn pin(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
    body: ApiJson<PinRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let id = conversation_id(&path)?;
    let conversation = state
        .conversations
        .set_pinned(user.user.id, id, body.is_pinned)
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "id": conversation.id.to_string(),
        "is_pinned": conversation.is_pinned,
        "updated_at": conversation.updated_at.to_string(),
    })))
}

async fn delete(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let id = conversation_id(&path)?;
    state.removal.delete(user.user.id, id).await?;
    Ok(HttpResponse::Ok().json(json!({"success": true})))
}

async fn delete_all(
    user: CurrentUser,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let deleted = state.removal.delete_all(user.user.id).await?;
    Ok(HttpResponse::Ok().json(json!({"success": true, "deleted_count": deleted})))
}

#[derive(Deserialize)]
struct BulkDeleteRequest {
    ids: Vec<String>,
}

async fn bulk_delete(
    user: CurrentUser,
    state: web::Data<ApiState>,
    body: ApiJson<BulkDeleteRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let ids = ConversationIds::parse(&body.ids)?;
    let deleted = state
        .removal
        .delete_many(user.user.id, ids.as_slice())
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "deleted": deleted })))
}

#[derive(Deserialize)]
struct BulkPinRequest {
    ids: Vec<String>,
    #[serde(default = "pinned_by_default")]
    is_pinned: bool,
}

const fn pinned_by_default() -> bool {
    true
}

async fn bulk_pin(
    user: CurrentUser,
    state: web::Data<ApiState>,
    body: ApiJson<BulkPinRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let ids = ConversationIds::parse(&body.ids)?;
    let updated = state
        .conversations
        .set_pinned_many(user.user.id, ids.as_slice(), body.is_pinned)
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "updated": updated })))
}
