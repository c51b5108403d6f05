//! The SQL runner C22 and the query-history list (api.md §2.6, §3.8).

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use tabletalk_ports::{QueryHistoryFilter, QuerySource};

use super::resource;
use crate::extract::{ApiJson, CurrentUser, QueryParams, conversation_id};
use crate::{ApiError, ApiState};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/conversations/{conversation_id}/query", &[Method::POST])
            .route(web::post().to(run)),
    );
    cfg.service(resource("/query-history", &[Method::GET]).route(web::get().to(history)));
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
    let length = body.sql.chars().count();
    if length == 0 || length > 50_000 || body.sql.trim().is_empty() {
        return Err(ApiError::validation(&[(
            "sql",
            "must be 1 to 50000 characters",
        )]));
    }
    let page = body.page.unwrap_or(1);
    if page < 1 {
        return Err(ApiError::validation(&[("page", "must be at least 1")]));
    }
    let page_size = body.page_size.unwrap_or(100);
    if !(1..=1000).contains(&page_size) {
        return Err(ApiError::validation(&[(
            "page_size",
            "must be from 1 to 1000",
        )]));
    }
    let conversation = conversation_id(&path)?;
    let result = state
        .sql
        .run(user.user.id, conversation, &body.sql, QuerySource::SqlPanel)
        .await?;
    let output = result.output;
    let returned = output.rows.len();
    let size = usize::try_from(page_size).unwrap_or(100);
    let start = usize::try_from(page - 1)
        .unwrap_or(usize::MAX)
        .saturating_mul(size);
    let rows: Vec<_> = output.rows.into_iter().skip(start).take(size).collect();
    Ok(HttpResponse::Ok().json(json!({
        "columns": output.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
        "column_types": output.columns.iter().map(|c| c.sql_type.clone()).collect::<Vec<_>>(),
        "rows": rows,
        "total_rows": output.total_rows,
        "returned_rows": returned,
        "execution_time_ms": result.execution_ms,
        "page": page,
        "page_size": page_size,
        "total_pages": returned.div_ceil(size).max(1),
        "cached": result.cached,
        "limit_applied": output.limit_applied,
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
