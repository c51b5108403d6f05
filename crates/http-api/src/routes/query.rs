//! The SQL runner and the query-history list (docs/api.md, "SQL runner and history").

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
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

#[derive(Deserialize)]
struct QueryRequest {
    sql: String,
    #[serde(default)]
    page: Option<i64>,
    #[serde(default)]
    page_size: Option<i64>,
}

async fn run(
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
    Ok(HttpResponse::Ok().json(json!({
        "columns": result.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
        "column_types": result.columns.iter().map(|c| c.sql_type.clone()).collect::<Vec<_>>(),
        "rows": result.rows,
        "total_rows": result.total_rows,
        "returned_rows": result.returned_rows,
        "execution_time_ms": result.execution_ms,
        "page": result.page.number(),
        "page_size": result.page.size(),
        "total_pages": result.total_pages,
        "cached": result.cached,
        "limit_applied": result.limit_applied,
    })))
}

async fn history(
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
    let history: Vec<_> = entries
        .iter()
        .map(|e| {
            json!({
                "id": e.id.to_string(),
                "conversation_id": e.conversation_id.map(|c| c.to_string()),
                "query": e.query,
                "execution_time_ms": e.execution_time_ms,
                "row_count": e.row_count,
                "status": e.status(),
                "error_message": e.error_message,
                "source": e.source.as_str(),
                "created_at": e.created_at.to_string(),
                "is_starred": e.is_starred,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"history": history, "total": total})))
}

async fn toggle_star(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    // A malformed id names no entry: it answers like an unknown one.
    let id: HistoryId = path
        .parse()
        .map_err(|_| ApiError::from(DatasetError::HistoryEntryNotFound))?;
    let starred = state.sql.toggle_star(user.user.id, id).await?;
    Ok(HttpResponse::Ok().json(json!({"id": id.to_string(), "is_starred": starred})))
}

async fn clear_history(
    user: CurrentUser,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let deleted = state.sql.clear_history(user.user.id).await?;
    Ok(HttpResponse::Ok().json(json!({"success": true, "deleted": deleted})))
}
