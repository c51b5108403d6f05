//! Conversation endpoints: create, list, detail, rename, pin, delete one, delete all, bulk delete and bulk pin,
//! search, import, fork, share and export (docs/api.md, "Conversations").

pub(crate) mod dto;
pub(crate) mod search;
pub(crate) mod sharing;
pub(crate) mod transfer;

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use tabletalk_domain::ConversationIds;
use tabletalk_ports::ConversationTitle;

use super::resource;
use crate::extract::{ApiJson, CurrentUser, OptionalJson, QueryParams, conversation_id};
use crate::openapi::Success;
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
        resource("/conversations/archive-all", &[Method::POST]).route(web::post().to(archive_all)),
    );
    cfg.service(
        resource("/conversations/{conversation_id}/archive", &[Method::PATCH])
            .route(web::patch().to(archive)),
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

/// Optional: without a body (or with `{}`) the conversation starts empty.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct CreateRequest {
    /// Start from this assistant (the caller's own or a shared one): its instructions, model, temperature and
    /// tools apply to every turn, and its datasets load in the background.
    #[serde(default)]
    assistant_id: Option<String>,
}

#[utoipa::path(
    post,
    path = "/conversations",
    tag = "conversations",
    summary = "Start a conversation: empty, or from an assistant",
    request_body(content = Option<CreateRequest>, description = "Optional"),
    responses((status = 201, body = CreatedDto)),
    security(("session" = []))
)]
pub(crate) async fn create(
    user: CurrentUser,
    state: web::Data<ApiState>,
    body: OptionalJson<CreateRequest>,
) -> Result<HttpResponse, ApiError> {
    let assistant = body.into_inner()?.and_then(|b| b.assistant_id);
    let conversation = match assistant {
        Some(raw) => {
            let id = crate::routes::assistants::assistant_id(&raw)?;
            state
                .assistants
                .start_conversation(user.user.id, id)
                .await?
        }
        None => state.conversations.create(user.user.id).await?,
    };
    Ok(HttpResponse::Created().json(CreatedDto::from(&conversation)))
}

#[derive(Serialize, utoipa::ToSchema)]
struct ConversationListDto {
    /// Pinned first, then by `updated_at`, newest first.
    conversations: Vec<ConversationSummaryDto>,
}

#[utoipa::path(
    get,
    path = "/conversations",
    tag = "conversations",
    summary = "The caller's conversations: the archived ones with `?archived=true`, else the others",
    params(("archived" = Option<bool>, Query, description = "true: only archived conversations; default false")),
    responses((status = 200, body = ConversationListDto)),
    security(("session" = []))
)]
pub(crate) async fn list(
    user: CurrentUser,
    req: HttpRequest,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let archived = QueryParams::of(&req).flag("archived")?.unwrap_or(false);
    let summaries = state.conversations.list(user.user.id, archived).await?;
    let conversations: Vec<ConversationSummaryDto> =
        summaries.iter().map(ConversationSummaryDto::from).collect();
    Ok(HttpResponse::Ok().json(ConversationListDto { conversations }))
}

#[utoipa::path(
    get,
    path = "/conversations/{conversation_id}",
    tag = "conversations",
    summary = "One conversation with its messages and datasets",
    params(("conversation_id" = String, Path, description = "The conversation's id")),
    responses((status = 200, body = ConversationDetailDto)),
    security(("session" = []))
)]
pub(crate) async fn detail(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let id = conversation_id(&path)?;
    let detail = state.conversations.detail(user.user.id, id).await?;
    Ok(HttpResponse::Ok().json(ConversationDetailDto::from(&detail)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct RenameRequest {
    /// 1..100 characters after trimming.
    title: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct RenamedDto {
    id: String,
    title: String,
    updated_at: String,
}

#[utoipa::path(
    patch,
    path = "/conversations/{conversation_id}",
    tag = "conversations",
    summary = "Rename",
    params(("conversation_id" = String, Path, description = "The conversation's id")),
    request_body = RenameRequest,
    responses((status = 200, body = RenamedDto)),
    security(("session" = []))
)]
pub(crate) async fn rename(
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
    Ok(HttpResponse::Ok().json(RenamedDto {
        id: conversation.id.to_string(),
        title: conversation.title,
        updated_at: conversation.updated_at.to_string(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct PinRequest {
    is_pinned: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
struct PinnedDto {
    id: String,
    is_pinned: bool,
    updated_at: String,
}

#[utoipa::path(
    patch,
    path = "/conversations/{conversation_id}/pin",
    tag = "conversations",
    summary = "Pin or unpin",
    params(("conversation_id" = String, Path, description = "The conversation's id")),
    request_body = PinRequest,
    responses((status = 200, body = PinnedDto)),
    security(("session" = []))
)]
pub(crate) async fn pin(
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
    Ok(HttpResponse::Ok().json(PinnedDto {
        id: conversation.id.to_string(),
        is_pinned: conversation.is_pinned,
        updated_at: conversation.updated_at.to_string(),
    }))
}

#[utoipa::path(
    delete,
    path = "/conversations/{conversation_id}",
    tag = "conversations",
    summary = "Delete a conversation (its running turn is stopped first)",
    params(("conversation_id" = String, Path, description = "The conversation's id")),
    responses((status = 200, body = Success)),
    security(("session" = []))
)]
pub(crate) async fn delete(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let id = conversation_id(&path)?;
    state.removal.delete(user.user.id, id).await?;
    Ok(HttpResponse::Ok().json(Success::YES))
}

#[derive(Serialize, utoipa::ToSchema)]
struct DeletedAllDto {
    success: bool,
    deleted_count: usize,
}

#[utoipa::path(
    delete,
    path = "/conversations",
    tag = "conversations",
    summary = "Delete all the caller's conversations",
    responses((status = 200, body = DeletedAllDto)),
    security(("session" = []))
)]
pub(crate) async fn delete_all(
    user: CurrentUser,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let deleted = state.removal.delete_all(user.user.id).await?;
    Ok(HttpResponse::Ok().json(DeletedAllDto {
        success: true,
        deleted_count: deleted,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct BulkDeleteRequest {
    /// 1..100 conversation ids.
    ids: Vec<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct BulkDeletedDto {
    /// How many of the ids were the caller's and are gone.
    deleted: usize,
}

#[utoipa::path(
    post,
    path = "/conversations/bulk-delete",
    tag = "conversations",
    summary = "Delete several conversations",
    request_body = BulkDeleteRequest,
    responses((status = 200, body = BulkDeletedDto)),
    security(("session" = []))
)]
pub(crate) async fn bulk_delete(
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
    Ok(HttpResponse::Ok().json(BulkDeletedDto { deleted }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct BulkPinRequest {
    /// 1..100 conversation ids.
    ids: Vec<String>,
    /// Default `true`.
    #[serde(default = "pinned_by_default")]
    is_pinned: bool,
}

const fn pinned_by_default() -> bool {
    true
}

#[derive(Serialize, utoipa::ToSchema)]
struct BulkPinnedDto {
    updated: u64,
}

#[utoipa::path(
    post,
    path = "/conversations/bulk-pin",
    tag = "conversations",
    summary = "Pin or unpin several conversations",
    request_body = BulkPinRequest,
    responses((status = 200, body = BulkPinnedDto)),
    security(("session" = []))
)]
pub(crate) async fn bulk_pin(
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
    Ok(HttpResponse::Ok().json(BulkPinnedDto { updated }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct ArchiveRequest {
    is_archived: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ArchivedDto {
    id: String,
    is_archived: bool,
    updated_at: String,
}

#[utoipa::path(
    patch,
    path = "/conversations/{conversation_id}/archive",
    tag = "conversations",
    summary = "Archive or unarchive (archived ones stay readable, searchable and exportable)",
    params(("conversation_id" = String, Path, description = "The conversation's id")),
    request_body = ArchiveRequest,
    responses((status = 200, body = ArchivedDto)),
    security(("session" = []))
)]
pub(crate) async fn archive(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
    body: ApiJson<ArchiveRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let id = conversation_id(&path)?;
    let conversation = state
        .conversations
        .set_archived(user.user.id, id, body.is_archived)
        .await?;
    Ok(HttpResponse::Ok().json(ArchivedDto {
        id: conversation.id.to_string(),
        is_archived: conversation.is_archived,
        updated_at: conversation.updated_at.to_string(),
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct ArchivedAllDto {
    /// How many conversations were archived now.
    archived: u64,
}

#[utoipa::path(
    post,
    path = "/conversations/archive-all",
    tag = "conversations",
    summary = "Archive every conversation of the caller",
    responses((status = 200, body = ArchivedAllDto)),
    security(("session" = []))
)]
pub(crate) async fn archive_all(
    user: CurrentUser,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let archived = state.conversations.archive_all(user.user.id).await?;
    Ok(HttpResponse::Ok().json(ArchivedAllDto { archived }))
}
