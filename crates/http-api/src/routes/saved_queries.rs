//! Saved queries and the public shared-result page (docs/api.md, "Saved queries").

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tabletalk_domain::saved_queries::{NewSavedQuery, SavedQueryError, folder_name};
use tabletalk_ports::{SavedQuery, SavedQueryId};

use super::resource;
use crate::extract::{ApiJson, CurrentUser, client_address};
use crate::openapi::{ShareLinkDto, Success};
use crate::{ApiError, ApiState};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/saved-queries", &[Method::GET, Method::POST])
            .route(web::get().to(list))
            .route(web::post().to(create)),
    );
    // Before `/saved-queries/{id}`, which would otherwise take this path as an id.
    cfg.service(resource("/saved-queries/folders", &[Method::GET]).route(web::get().to(folders)));
    cfg.service(resource("/saved-queries/{id}", &[Method::DELETE]).route(web::delete().to(delete)));
    cfg.service(
        resource("/saved-queries/{id}/folder", &[Method::PATCH]).route(web::patch().to(set_folder)),
    );
    cfg.service(
        resource("/saved-queries/{id}/pin", &[Method::PATCH]).route(web::patch().to(toggle_pin)),
    );
    cfg.service(
        resource("/saved-queries/{id}/share", &[Method::POST, Method::DELETE])
            .route(web::post().to(share))
            .route(web::delete().to(unshare)),
    );
    cfg.service(
        resource("/shared/result/{token}", &[Method::GET]).route(web::get().to(shared_result)),
    );
    cfg.service(
        resource("/api/shared/result/{token}", &[Method::GET])
            .route(web::get().to(shared_result_alias)),
    );
}

#[derive(Serialize, utoipa::ToSchema)]
struct SavedQueryDto {
    id: String,
    name: String,
    query: String,
    created_at: String,
    result_json: Option<String>,
    execution_time_ms: Option<f64>,
    folder: String,
    is_pinned: bool,
    share_token: Option<String>,
}

impl From<SavedQuery> for SavedQueryDto {
    fn from(q: SavedQuery) -> Self {
        Self {
            id: q.id.to_string(),
            name: q.name,
            query: q.query,
            created_at: q.created_at.to_string(),
            result_json: q.result_json,
            execution_time_ms: q.execution_time_ms,
            folder: q.folder,
            is_pinned: q.is_pinned,
            share_token: q.share_token,
        }
    }
}

/// A malformed id names no saved query: it answers like an unknown one.
fn saved_query_id(raw: &str) -> Result<SavedQueryId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::from(SavedQueryError::NotFound))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct CreateRequest {
    /// 1..100 characters.
    name: String,
    query: String,
    #[serde(default)]
    result_json: Option<String>,
    #[serde(default)]
    execution_time_ms: Option<f64>,
    #[serde(default)]
    folder: Option<String>,
}

#[utoipa::path(
    post,
    path = "/saved-queries",
    tag = "saved queries",
    summary = "Save a query (with an optional result snapshot)",
    request_body = CreateRequest,
    responses((status = 201, body = SavedQueryDto)),
    security(("session" = []))
)]
pub(crate) async fn create(
    user: CurrentUser,
    state: web::Data<ApiState>,
    body: ApiJson<CreateRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let new = NewSavedQuery::parse(
        &body.name,
        &body.query,
        body.result_json,
        body.execution_time_ms,
        body.folder.as_deref(),
    )?;
    let saved = state.saved_queries.create(user.user.id, new).await?;
    Ok(HttpResponse::Created().json(SavedQueryDto::from(saved)))
}

#[derive(Serialize, utoipa::ToSchema)]
struct SavedQueriesDto {
    /// Pinned first, then newest first.
    queries: Vec<SavedQueryDto>,
}

#[utoipa::path(
    get,
    path = "/saved-queries",
    tag = "saved queries",
    summary = "The caller's saved queries",
    responses((status = 200, body = SavedQueriesDto)),
    security(("session" = []))
)]
pub(crate) async fn list(
    user: CurrentUser,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let queries: Vec<SavedQueryDto> = state
        .saved_queries
        .list(user.user.id)
        .await?
        .into_iter()
        .map(SavedQueryDto::from)
        .collect();
    Ok(HttpResponse::Ok().json(SavedQueriesDto { queries }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct FoldersDto {
    /// Distinct non-empty folder names, sorted.
    folders: Vec<String>,
}

#[utoipa::path(
    get,
    path = "/saved-queries/folders",
    tag = "saved queries",
    summary = "The caller's folders",
    responses((status = 200, body = FoldersDto)),
    security(("session" = []))
)]
pub(crate) async fn folders(
    user: CurrentUser,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let folders = state.saved_queries.folders(user.user.id).await?;
    Ok(HttpResponse::Ok().json(FoldersDto { folders }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct FolderRequest {
    /// At most 50 characters; empty for none.
    #[serde(default)]
    folder: String,
}

#[utoipa::path(
    patch,
    path = "/saved-queries/{id}/folder",
    tag = "saved queries",
    summary = "Move to a folder",
    params(("id" = String, Path, description = "One of the caller's saved queries")),
    request_body = FolderRequest,
    responses((status = 200, body = Success)),
    security(("session" = []))
)]
pub(crate) async fn set_folder(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
    body: ApiJson<FolderRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let folder = folder_name(&body.folder)?;
    let id = saved_query_id(&path)?;
    state
        .saved_queries
        .set_folder(user.user.id, id, &folder)
        .await?;
    Ok(HttpResponse::Ok().json(Success::YES))
}

#[utoipa::path(
    patch,
    path = "/saved-queries/{id}/pin",
    tag = "saved queries",
    summary = "Pin or unpin (toggles)",
    params(("id" = String, Path, description = "One of the caller's saved queries")),
    responses((status = 200, body = SavedQueryDto)),
    security(("session" = []))
)]
pub(crate) async fn toggle_pin(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let id = saved_query_id(&path)?;
    let saved = state.saved_queries.toggle_pin(user.user.id, id).await?;
    Ok(HttpResponse::Ok().json(SavedQueryDto::from(saved)))
}

#[utoipa::path(
    post,
    path = "/saved-queries/{id}/share",
    tag = "saved queries",
    summary = "Share the result by link (the token is reused while shared)",
    params(("id" = String, Path, description = "One of the caller's saved queries")),
    responses((status = 200, body = ShareLinkDto)),
    security(("session" = []))
)]
pub(crate) async fn share(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let id = saved_query_id(&path)?;
    let saved = state.saved_queries.share(user.user.id, id).await?;
    let token = saved.share_token.unwrap_or_default();
    Ok(HttpResponse::Ok().json(ShareLinkDto {
        share_url: format!("{}/shared/result/{token}", state.settings.public_url),
        share_token: token,
    }))
}

#[utoipa::path(
    delete,
    path = "/saved-queries/{id}/share",
    tag = "saved queries",
    summary = "Revoke the share link (idempotent)",
    params(("id" = String, Path, description = "One of the caller's saved queries")),
    responses((status = 200, body = Success)),
    security(("session" = []))
)]
pub(crate) async fn unshare(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let id = saved_query_id(&path)?;
    state.saved_queries.unshare(user.user.id, id).await?;
    Ok(HttpResponse::Ok().json(Success::YES))
}

#[utoipa::path(
    delete,
    path = "/saved-queries/{id}",
    tag = "saved queries",
    summary = "Delete a saved query",
    params(("id" = String, Path, description = "One of the caller's saved queries")),
    responses((status = 200, body = Success)),
    security(("session" = []))
)]
pub(crate) async fn delete(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let id = saved_query_id(&path)?;
    state.saved_queries.delete(user.user.id, id).await?;
    Ok(HttpResponse::Ok().json(Success::YES))
}

/// The public page of a shared result: the stored snapshot parsed (`null` when absent or not JSON), never the
/// owner or anything else of theirs.
#[derive(Serialize, utoipa::ToSchema)]
struct SharedResultDto {
    name: String,
    query: String,
    /// The saved `result_json` parsed; `null` when absent or not a JSON object.
    #[schema(value_type = Option<Object>)]
    result_data: Option<Value>,
    execution_time_ms: Option<f64>,
    created_at: String,
}

#[utoipa::path(
    get,
    path = "/shared/result/{token}",
    tag = "saved queries",
    summary = "A shared query result (no session; rate-limited per address; also at /api/shared/result/{token})",
    params(("token" = String, Path, description = "From the share link")),
    responses((status = 200, body = SharedResultDto))
)]
pub(crate) async fn shared_result(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let client = client_address(&req, state.settings.trust_forwarded_headers);
    let saved = state.saved_queries.view_shared(&client, &path).await?;
    let result_data = saved
        .result_json
        .as_deref()
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .filter(Value::is_object);
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(SharedResultDto {
            name: saved.name,
            query: saved.query,
            result_data,
            execution_time_ms: saved.execution_time_ms,
            created_at: saved.created_at.to_string(),
        }))
}

#[utoipa::path(
    get,
    path = "/api/shared/result/{token}",
    tag = "saved queries",
    summary = "The same as GET /shared/result/{token}",
    params(("token" = String, Path, description = "From the share link")),
    responses((status = 200, body = SharedResultDto))
)]
pub(crate) async fn shared_result_alias(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    shared_result(req, path, state).await
}
