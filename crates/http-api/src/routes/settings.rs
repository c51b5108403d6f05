//! The caller's settings: developer mode and the chat model (docs/api.md, "Settings").

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use tabletalk_domain::EffectiveSettings;

use super::resource;
use crate::extract::{ApiJson, CurrentUser};
use crate::{ApiError, ApiState};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/capabilities", &[Method::GET]).route(web::get().to(capabilities)));
    cfg.service(
        resource("/settings", &[Method::GET, Method::PUT])
            .route(web::get().to(get))
            .route(web::put().to(put)),
    );
}

#[derive(Serialize, utoipa::ToSchema)]
struct SettingsDto {
    dev_mode: bool,
    selected_model: String,
    available_models: Vec<String>,
}

impl From<EffectiveSettings> for SettingsDto {
    fn from(s: EffectiveSettings) -> Self {
        Self {
            dev_mode: s.dev_mode,
            selected_model: s.selected_model,
            available_models: s.available_models,
        }
    }
}

#[utoipa::path(
    get,
    path = "/settings",
    tag = "settings",
    summary = "The caller's settings and the models they may choose",
    responses((status = 200, body = SettingsDto)),
    security(("session" = []))
)]
pub(crate) async fn get(
    user: CurrentUser,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let settings = state.user_settings.get(user.user.id).await?;
    Ok(HttpResponse::Ok().json(SettingsDto::from(settings)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct SettingsUpdate {
    dev_mode: Option<bool>,
    selected_model: Option<String>,
}

#[utoipa::path(
    put,
    path = "/settings",
    tag = "settings",
    summary = "Change developer mode or the chat model (one of `available_models`)",
    request_body = SettingsUpdate,
    responses((status = 200, body = SettingsDto)),
    security(("session" = []))
)]
pub(crate) async fn put(
    user: CurrentUser,
    state: web::Data<ApiState>,
    body: ApiJson<SettingsUpdate>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let settings = state
        .user_settings
        .update(user.user.id, body.dev_mode, body.selected_model.as_deref())
        .await?;
    Ok(HttpResponse::Ok().json(SettingsDto::from(settings)))
}

#[derive(Serialize, utoipa::ToSchema)]
struct LimitsDto {
    /// Tokens per rolling 24 hours.
    token_limit: i64,
    max_datasets_per_conversation: u32,
    max_upload_bytes: u64,
    query_timeout_s: u64,
}

/// What the caller can do on this deployment.
#[derive(Serialize, utoipa::ToSchema)]
struct CapabilitiesDto {
    /// The tools the caller's chat turns may use: `llm.default_tools` plus their allow list minus their deny list.
    tools: Vec<String>,
    /// The models `PUT /settings` accepts (empty without an LLM).
    models: Vec<String>,
    default_model: String,
    limits: LimitsDto,
}

#[utoipa::path(
    get,
    path = "/capabilities",
    tag = "settings",
    summary = "The caller's tools, the models and the deployment's limits",
    responses((status = 200, body = CapabilitiesDto)),
    security(("session" = []))
)]
pub(crate) async fn capabilities(
    user: CurrentUser,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let choice = state.user_settings.model_choice();
    let limits = &state.settings.limits;
    Ok(HttpResponse::Ok().json(CapabilitiesDto {
        tools: state.user_settings.tools_for(user.user.id).await,
        models: choice.models.clone(),
        default_model: choice.default_model.clone(),
        limits: LimitsDto {
            token_limit: state.usage.status(user.user.id).await?.token_limit,
            max_datasets_per_conversation: limits.max_datasets_per_conversation,
            max_upload_bytes: limits.max_upload_bytes,
            query_timeout_s: limits.query_timeout_s,
        },
    }))
}
