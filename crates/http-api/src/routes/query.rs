//! The SQL runner and the query-history list (docs/api.md, "SQL runner and history").

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tabletalk_domain::datasets::DatasetError;
use tabletalk_domain::{Page, SqlText};
use tabletalk_ports::HistoryId;
use tabletalk_ports::{QueryHistoryFilter, QuerySource};

use super::resource;
use crate::extract::{ApiJson, CurrentUser, QueryParams, conversation_id};
use crate::{ApiError, ApiState};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/conversations/{conversation_id}/query", &[Method::POST])
            .route(web::post().to(run)),
    );
    cfg.service(
        resource("/query-history", &[Method::GET, Method::DELETE])
            .route(web::get().to(history))
            .route(web::delete().to(clear_history)),
    );
    cfg.service(
        resource("/query-history/{id}/star", &[Method::PATCH]).route(web::patch().to(toggle_star)),
    );
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct QueryRequest {
    /// One read-only statement, 1..50,000 characters.
    sql: String,
    #[serde(default)]
    page: Option<i64>,
    #[serde(default)]
    page_size: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct QueryPageDto {
    columns: Vec<String>,
    column_types: Vec<String>,
    /// The page's rows; cells as JSON values (docs/api.md, "Result cells").
    rows: Vec<Vec<Value>>,
    total_rows: u64,
    returned_rows: u64,
    execution_time_ms: f64,
    page: u64,
    page_size: u64,
    total_pages: u64,
    cached: bool,
    limit_applied: bool,
}

#[utoipa::path(
    post,
    path = "/conversations/{conversation_id}/query",
    tag = "sql",
    summary = "Run read-only SQL over the conversation's datasets",
    params(("conversation_id" = String, Path, description = "The conversation's id")),
    request_body = QueryRequest,
    responses((status = 200, body = QueryPageDto)),
    security(("session" = []))
)]
pub(crate) async fn run(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
    body: ApiJson<QueryRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let sql = SqlText::parse(&body.sql)?;
    let page = Page::parse(body.page, body.page_size)?;
    let conversation = conversation_id(&path)?;
    let result = state
        .sql
        .run_page(user.user.id, conversation, &sql, page)
        .await?;
    Ok(HttpResponse::Ok().json(QueryPageDto {
        columns: result.columns.iter().map(|c| c.name.clone()).collect(),
        column_types: result.columns.iter().map(|c| c.sql_type.clone()).collect(),
        rows: result.rows,
        total_rows: result.total_rows,
        returned_rows: result.returned_rows,
        execution_time_ms: result.execution_ms,
        page: result.page.number(),
        page_size: result.page.size(),
        total_pages: result.total_pages,
        cached: result.cached,
        limit_applied: result.limit_applied,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct HistoryEntryDto {
    id: String,
    conversation_id: Option<String>,
    query: String,
    execution_time_ms: Option<f64>,
    row_count: Option<i64>,
    /// `success` or `error`.
    status: &'static str,
    error_message: Option<String>,
    /// `sql_panel` or `llm`.
    source: &'static str,
    created_at: String,
    is_starred: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
struct HistoryDto {
    /// Newest first.
    history: Vec<HistoryEntryDto>,
    /// Entries matching the filters.
    total: u64,
}

#[utoipa::path(
    get,
    path = "/query-history",
    tag = "sql",
    summary = "The caller's query history",
    params(("limit" = Option<u32>, Query, description = "1..200, default 50"), ("offset" = Option<u64>, Query, description = "Default 0"), ("starred" = Option<bool>, Query, description = "Only starred (true) or unstarred (false)"), ("source" = Option<String>, Query, description = "sql_panel or llm")),
    responses((status = 200, body = HistoryDto)),
    security(("session" = []))
)]
pub(crate) async fn history(
    user: CurrentUser,
    req: HttpRequest,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let params = QueryParams::of(&req);
    let limit = params.number(
        "limit",
        50_u32,
        |n| (1..=200).contains(n),
        "must be from 1 to 200",
    )?;
    let offset = params.number("offset", 0_u64, |_| true, "must be 0 or more")?;
    let starred = params.flag("starred")?;
    let source = match params.get("source") {
        None => None,
        Some(v) => Some(
            QuerySource::parse(v)
                .ok_or_else(|| ApiError::validation(&[("source", "must be sql_panel or llm")]))?,
        ),
    };
    let filter = QueryHistoryFilter {
        limit,
        offset,
        starred,
        source,
    };
    let (entries, total) = state.sql.history(user.user.id, &filter).await?;
    let history = entries
        .into_iter()
        .map(|e| HistoryEntryDto {
            id: e.id.to_string(),
            conversation_id: e.conversation_id.map(|c| c.to_string()),
            status: e.status(),
            source: e.source.as_str(),
            created_at: e.created_at.to_string(),
            query: e.query,
            execution_time_ms: e.execution_time_ms,
            row_count: e.row_count,
            error_message: e.error_message,
            is_starred: e.is_starred,
        })
        .collect();
    Ok(HttpResponse::Ok().json(HistoryDto { history, total }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct StarDto {
    id: String,
    is_starred: bool,
}

#[utoipa::path(
    patch,
    path = "/query-history/{id}/star",
    tag = "sql",
    summary = "Star or unstar a history entry (toggles)",
    params(("id" = String, Path, description = "A history entry of the caller")),
    responses((status = 200, body = StarDto)),
    security(("session" = []))
)]
pub(crate) async fn toggle_star(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    // A malformed id names no entry: it answers like an unknown one.
    let id: HistoryId = path
        .parse()
        .map_err(|_| ApiError::from(DatasetError::HistoryEntryNotFound))?;
    let starred = state.sql.toggle_star(user.user.id, id).await?;
    Ok(HttpResponse::Ok().json(StarDto {
        id: id.to_string(),
        is_starred: starred,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct ClearedDto {
    success: bool,
    deleted: u64,
}

#[utoipa::path(
    delete,
    path = "/query-history",
    tag = "sql",
    summary = "Delete all the caller's history, starred entries too",
    responses((status = 200, body = ClearedDto)),
    security(("session" = []))
)]
pub(crate) async fn clear_history(
    user: CurrentUser,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let deleted = state.sql.clear_history(user.user.id).await?;
    Ok(HttpResponse::Ok().json(ClearedDto {
        success: true,
        deleted,
    }))
}
