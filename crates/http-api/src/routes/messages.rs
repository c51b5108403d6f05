//! Chat endpoints: send a message, delete one, stop a turn, a conversation's token usage (docs/api.md, "Chat").

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use tabletalk_domain::MessageText;
use tabletalk_ports::MessageId;

use super::resource;
use crate::extract::{ApiJson, CurrentUser, conversation_id};
use crate::openapi::Success;
use crate::{ApiError, ApiState};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/conversations/{conversation_id}/messages", &[Method::POST])
            .route(web::post().to(send)),
    );
    cfg.service(
        resource(
            "/conversations/{conversation_id}/messages/{message_id}",
            &[Method::DELETE],
        )
        .route(web::delete().to(delete_message)),
    );
    cfg.service(
        resource(
            "/conversations/{conversation_id}/messages/{message_id}/redo",
            &[Method::POST],
        )
        .route(web::post().to(redo)),
    );
    cfg.service(
        resource(
            "/conversations/{conversation_id}/explain-sql",
            &[Method::POST],
        )
        .route(web::post().to(explain_sql)),
    );
    cfg.service(
        resource(
            "/conversations/{conversation_id}/generate-sql",
            &[Method::POST],
        )
        .route(web::post().to(generate_sql)),
    );
    cfg.service(
        resource(
            "/conversations/{conversation_id}/prompt-preview",
            &[Method::POST],
        )
        .route(web::post().to(prompt_preview)),
    );
    cfg.service(
        resource("/conversations/{conversation_id}/stop", &[Method::POST])
            .route(web::post().to(stop)),
    );
    cfg.service(
        resource(
            "/conversations/{conversation_id}/token-usage",
            &[Method::GET],
        )
        .route(web::get().to(token_usage)),
    );
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct SendRequest {
    /// 1..10,000 characters, not only whitespace.
    content: String,
}

/// A turn accepted: its answer streams over the WebSocket.
#[derive(Serialize, utoipa::ToSchema)]
struct AcceptedDto {
    message_id: String,
    /// Always `processing`.
    status: &'static str,
    user_message_id: String,
}

impl From<tabletalk_domain::chat::Accepted> for AcceptedDto {
    fn from(accepted: tabletalk_domain::chat::Accepted) -> Self {
        Self {
            message_id: accepted.message_id.to_string(),
            status: "processing",
            user_message_id: accepted.user_message_id.to_string(),
        }
    }
}

#[utoipa::path(
    post,
    path = "/conversations/{conversation_id}/messages",
    tag = "chat",
    summary = "Send a message: the turn runs in the background and streams over the WebSocket",
    params(("conversation_id" = String, Path, description = "The conversation's id")),
    request_body = SendRequest,
    responses((status = 200, body = AcceptedDto)),
    security(("session" = []))
)]
pub(crate) async fn send(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
    body: ApiJson<SendRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let content = MessageText::parse(&body.content)?;
    let conversation = conversation_id(&path)?;
    let accepted = state
        .chat
        .send(user.user.id, conversation, &content)
        .await?;
    Ok(HttpResponse::Ok().json(AcceptedDto::from(accepted)))
}

#[derive(Serialize, utoipa::ToSchema)]
struct StoppedDto {
    success: bool,
    /// Whether a turn was running.
    stopped: bool,
}

#[utoipa::path(
    post,
    path = "/conversations/{conversation_id}/stop",
    tag = "chat",
    summary = "Stop the running turn, keeping what it had",
    params(("conversation_id" = String, Path, description = "The conversation's id")),
    responses((status = 200, body = StoppedDto)),
    security(("session" = []))
)]
pub(crate) async fn stop(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let conversation = conversation_id(&path)?;
    let stopped = state.chat.stop(user.user.id, conversation).await?;
    Ok(HttpResponse::Ok().json(StoppedDto {
        success: true,
        stopped,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct ConversationUsageDto {
    total_input_tokens: i64,
    total_output_tokens: i64,
    total_tokens: i64,
    total_cost: f64,
    request_count: i64,
}

#[utoipa::path(
    get,
    path = "/conversations/{conversation_id}/token-usage",
    tag = "chat",
    summary = "Tokens and cost recorded for the conversation",
    params(("conversation_id" = String, Path, description = "The conversation's id")),
    responses((status = 200, body = ConversationUsageDto)),
    security(("session" = []))
)]
pub(crate) async fn token_usage(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let conversation = conversation_id(&path)?;
    let (input, output, cost, count) = state.chat.token_usage(user.user.id, conversation).await?;
    Ok(HttpResponse::Ok().json(ConversationUsageDto {
        total_input_tokens: input,
        total_output_tokens: output,
        total_tokens: input + output,
        total_cost: (cost * 1e6).round() / 1e6,
        request_count: count,
    }))
}

#[utoipa::path(
    delete,
    path = "/conversations/{conversation_id}/messages/{message_id}",
    tag = "chat",
    summary = "Delete one message (409 while a turn runs)",
    params(("conversation_id" = String, Path, description = "The conversation's id"), ("message_id" = String, Path, description = "A message of that conversation")),
    responses((status = 200, body = Success)),
    security(("session" = []))
)]
pub(crate) async fn delete_message(
    user: CurrentUser,
    path: web::Path<(String, String)>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let conversation = conversation_id(&path.0)?;
    let message = message_id(&path.1);
    state
        .chat
        .delete_message(user.user.id, conversation, message)
        .await?;
    Ok(HttpResponse::Ok().json(Success::YES))
}

/// A message id from the path or a body. A malformed id names no message: it answers like an unknown one, after
/// the conversation's checks.
pub(super) fn message_id(raw: &str) -> MessageId {
    raw.parse()
        .unwrap_or_else(|_| MessageId::from_uuid(uuid::Uuid::nil()))
}

#[utoipa::path(
    post,
    path = "/conversations/{conversation_id}/messages/{message_id}/redo",
    tag = "chat",
    summary = "Answer the question before an assistant message again, replacing that answer",
    params(("conversation_id" = String, Path, description = "The conversation's id"), ("message_id" = String, Path, description = "A message of that conversation")),
    responses((status = 200, body = AcceptedDto)),
    security(("session" = []))
)]
pub(crate) async fn redo(
    user: CurrentUser,
    path: web::Path<(String, String)>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let conversation = conversation_id(&path.0)?;
    let accepted = state
        .chat
        .redo(user.user.id, conversation, message_id(&path.1))
        .await?;
    Ok(HttpResponse::Ok().json(AcceptedDto::from(accepted)))
}

#[derive(Serialize, utoipa::ToSchema)]
struct PreviewMessageDto {
    role: &'static str,
    content: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct MessageTokensDto {
    role: &'static str,
    tokens: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
struct TokenBreakdownDto {
    system_prompt: u64,
    messages: Vec<MessageTokensDto>,
    tools: u64,
    new_message: u64,
    total: u64,
}

/// Exactly what the next turn would send; estimates are ceil(characters / 4).
#[derive(Serialize, utoipa::ToSchema)]
struct PromptPreviewDto {
    system_prompt: String,
    messages: Vec<PreviewMessageDto>,
    tools: Vec<String>,
    new_message: String,
    estimated_tokens: u64,
    token_breakdown: TokenBreakdownDto,
}

#[utoipa::path(
    post,
    path = "/conversations/{conversation_id}/prompt-preview",
    tag = "chat",
    summary = "What the next turn would send for this message (no model call)",
    params(("conversation_id" = String, Path, description = "The conversation's id")),
    request_body = SendRequest,
    responses((status = 200, body = PromptPreviewDto)),
    security(("session" = []))
)]
pub(crate) async fn prompt_preview(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
    body: ApiJson<SendRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let content = MessageText::parse(&body.content)?;
    let conversation = conversation_id(&path)?;
    let preview = state
        .chat
        .prompt_preview(user.user.id, conversation, &content)
        .await?;
    let total = preview.total_tokens();
    Ok(HttpResponse::Ok().json(PromptPreviewDto {
        token_breakdown: TokenBreakdownDto {
            system_prompt: preview.system_prompt_tokens,
            messages: preview
                .messages
                .iter()
                .map(|m| MessageTokensDto {
                    role: m.role.as_str(),
                    tokens: m.tokens,
                })
                .collect(),
            tools: preview.tools_tokens,
            new_message: preview.new_message_tokens,
            total,
        },
        messages: preview
            .messages
            .into_iter()
            .map(|m| PreviewMessageDto {
                role: m.role.as_str(),
                content: m.content,
            })
            .collect(),
        system_prompt: preview.system_prompt,
        tools: preview.tools,
        new_message: preview.new_message,
        estimated_tokens: total,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct ExplainRequest {
    /// 1..50,000 characters.
    query: String,
    #[serde(default)]
    schema_json: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ExplanationDto {
    explanation: String,
}

#[utoipa::path(
    post,
    path = "/conversations/{conversation_id}/explain-sql",
    tag = "chat",
    summary = "Two to four plain sentences on what a query returns (one model call, counted in the budget)",
    params(("conversation_id" = String, Path, description = "The conversation's id")),
    request_body = ExplainRequest,
    responses((status = 200, body = ExplanationDto)),
    security(("session" = []))
)]
pub(crate) async fn explain_sql(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
    body: ApiJson<ExplainRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let query = tabletalk_domain::SqlText::parse(&body.query)
        .map_err(|_| ApiError::validation(&[("query", "must be 1 to 50000 characters")]))?;
    let schema = body.schema_json.unwrap_or_else(|| "{}".to_owned());
    if schema.chars().count() > 200_000 {
        return Err(ApiError::validation(&[(
            "schema_json",
            "must be at most 200000 characters",
        )]));
    }
    let conversation = conversation_id(&path)?;
    let explanation = state
        .chat
        .explain_sql(user.user.id, conversation, query.as_str(), &schema)
        .await?;
    Ok(HttpResponse::Ok().json(ExplanationDto { explanation }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct GenerateRequest {
    /// 1..5,000 characters, not only whitespace.
    question: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct GeneratedDto {
    sql: String,
    explanation: String,
    /// Why the query still does not plan after one correction; `null` when it plans.
    validation_error: Option<String>,
}

#[utoipa::path(
    post,
    path = "/conversations/{conversation_id}/generate-sql",
    tag = "chat",
    summary = "Write a query for a question, planned against the conversation's tables (not run)",
    params(("conversation_id" = String, Path, description = "The conversation's id")),
    request_body = GenerateRequest,
    responses((status = 200, body = GeneratedDto)),
    security(("session" = []))
)]
pub(crate) async fn generate_sql(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
    body: ApiJson<GenerateRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    if body.question.trim().is_empty() || body.question.chars().count() > 5_000 {
        return Err(ApiError::validation(&[(
            "question",
            "must be 1 to 5000 characters",
        )]));
    }
    let conversation = conversation_id(&path)?;
    let generated = state
        .chat
        .generate_sql(user.user.id, conversation, &body.question)
        .await?;
    Ok(HttpResponse::Ok().json(GeneratedDto {
        sql: generated.sql,
        explanation: generated.explanation,
        validation_error: generated.validation_error,
    }))
}
