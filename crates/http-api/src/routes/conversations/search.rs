//! Search over the caller's messages and titles (docs/api.md, "Search").

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use tabletalk_domain::conversations::{MatchedIn, SearchQuery, SearchResult};

use crate::extract::{CurrentUser, QueryParams};
use crate::{ApiError, ApiState};

#[derive(Serialize, utoipa::ToSchema)]
struct ResultDto {
    conversation_id: String,
    conversation_title: String,
    message_id: String,
    message_role: &'static str,
    snippet: String,
    created_at: String,
    /// `content` or `title` (an addition: chatDF's results are content matches only).
    matched: &'static str,
}

impl From<SearchResult> for ResultDto {
    fn from(r: SearchResult) -> Self {
        Self {
            conversation_id: r.conversation_id.to_string(),
            conversation_title: r.conversation_title,
            message_id: r.message_id.to_string(),
            message_role: r.message_role.as_str(),
            snippet: r.snippet,
            created_at: r.created_at.to_string(),
            matched: match r.matched {
                MatchedIn::Content => "content",
                MatchedIn::Title => "title",
            },
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct SearchDto {
    total: usize,
    results: Vec<ResultDto>,
}

#[utoipa::path(
    get,
    path = "/conversations/search",
    tag = "conversations",
    summary = "Search the caller's messages and titles (case-insensitive substring)",
    params(("q" = String, Query, description = "1..200 characters after trimming"), ("limit" = Option<i64>, Query, description = "1..50, default 20")),
    responses((status = 200, body = SearchDto)),
    security(("session" = []))
)]
pub(crate) async fn search(
    user: CurrentUser,
    req: HttpRequest,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let params = QueryParams::of(&req);
    let limit = params.number::<i64>("limit", 20, |_| true, "must be an integer")?;
    let query = SearchQuery::parse(params.get("q"), Some(limit))?;
    let results: Vec<ResultDto> = state
        .conversations
        .search(user.user.id, &query)
        .await?
        .into_iter()
        .map(ResultDto::from)
        .collect();
    Ok(HttpResponse::Ok().json(SearchDto {
        total: results.len(),
        results,
    }))
}
