//! Chat endpoints: send a message, delete one, stop a turn, a conversation's token usage (docs/api.md, "Chat").

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use tabletalk_domain::MessageText;
use tabletalk_ports::MessageId;

use super::resource;
use crate::extract::{ApiJson, CurrentUser, conversation_id};
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

#[derive(Deserialize)]
struct SendRequest {
    content: String,
}

async fn send(
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
    Ok(HttpResponse::Ok().json(json!({
        "message_id": accepted.message_id.to_string(),
        "status": "processing",
        "user_message_id": accepted.user_message_id.to_string(),
    })))
}

async fn stop(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let conversation = conversation_id(&path)?;
    let stopped = state.chat.stop(user.user.id, conversation).await?;
    Ok(HttpResponse::Ok().json(json!({"success": true, "stopped": stopped})))
}

async fn token_usage(
    user: CurrentUser,
    path: web::Path<String>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let conversation = conversation_id(&path)?;
    let (input, output, cost, count) = state.chat.token_usage(user.user.id, conversation).await?;
    Ok(HttpResponse::Ok().json(json!({
        "total_input_tokens": input,
        "total_output_tokens": output,
        "total_tokens": input + output,
        "total_cost": (cost * 1e6).round() / 1e6,
        "request_count": count,
    })))
}

async fn delete_message(
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
    Ok(HttpResponse::Ok().json(json!({"success": true})))
}

/// A message id from the path or a body. A malformed id names no message: it answers like an unknown one, after
/// the conversation's checks.
pub(super) fn message_id(raw: &str) -> MessageId {
    raw.parse()
        .unwrap_or_else(|_| MessageId::from_uuid(uuid::Uuid::nil()))
}

async fn redo(
    user: CurrentUser,
    path: web::Path<(String, String)>,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let conversation = conversation_id(&path.0)?;
    let accepted = state
        .chat
        .redo(user.user.id, conversation, message_id(&path.1))
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "message_id": accepted.message_id.to_string(),
        "status": "processing",
        "user_message_id": accepted.user_message_id.to_string(),
    })))
}

async fn prompt_preview(
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
    Ok(HttpResponse::Ok().json(json!({
        "system_prompt": preview.system_prompt,
        "messages": preview.messages.iter().map(|m| json!({"role": m.role.as_str(), "content": m.content})).collect::<Vec<_>>(),
        "tools": preview.tools,
        "new_message": preview.new_message,
        "estimated_tokens": total,
        "token_breakdown": {
            "system_prompt": preview.system_prompt_tokens,
            "messages": preview.messages.iter().map(|m| json!({"role": m.role.as_str(), "tokens": m.tokens})).collect::<Vec<_>>(),
            "tools": preview.tools_tokens,
            "new_message": preview.new_message_tokens,
            "total": total,
        },
    })))
}

#[derive(Deserialize)]
struct ExplainRequest {
    query: String,
    #[serde(default)]
    schema_json: Option<String>,
}

async fn explain_sql(
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
    Ok(HttpResponse::Ok().json(json!({ "explanation": explanation })))
}

#[derive(Deserialize)]
struct GenerateRequest {
    question: String,
}

async fn generate_sql(
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
    Ok(
        HttpResponse::Ok()
            .json(json!({"sql": generated.sql, "explanation": generated.explanation, "validation_error": generated.validation_error})),
    )
}
