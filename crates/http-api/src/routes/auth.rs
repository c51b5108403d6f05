//! `GET /auth/me`, `POST /auth/logout`, `POST /auth/dev-login` (local mode only).

use crate::openapi::Success;
use actix_web::http::Method;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::resource;
use crate::cookies::CookieAction;
use crate::extract::{ApiJson, CurrentUser, LoggedUser, OriginChecked, client_address};
use crate::{ApiError, ApiState};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/auth/me", &[Method::GET]).route(web::get().to(me)));
    cfg.service(resource("/auth/logout", &[Method::POST]).route(web::post().to(logout)));
    cfg.service(resource("/auth/dev-login", &[Method::POST]).route(web::post().to(dev_login)));
}

#[derive(Serialize, utoipa::ToSchema)]
struct UserResponse {
    user_id: String,
    email: String,
    name: String,
    avatar_url: Option<String>,
    auth_mode: &'static str,
}

#[utoipa::path(
    get,
    path = "/auth/me",
    tag = "auth",
    summary = "Who is signed in",
    responses((status = 200, body = UserResponse)),
    security(("session" = []))
)]
pub(crate) async fn me(user: CurrentUser, state: web::Data<ApiState>) -> HttpResponse {
    let user = user.user;
    HttpResponse::Ok().json(UserResponse {
        user_id: user.id.to_string(),
        email: user.email,
        name: user.name,
        avatar_url: user.avatar_url,
        auth_mode: if state.auth.is_local_mode() {
            "local"
        } else {
            "oidc"
        },
    })
}

#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "auth",
    summary = "End this session (its WebSockets close with 4001)",
    responses((status = 200, body = Success)),
    security(("session" = []))
)]
pub(crate) async fn logout(
    req: HttpRequest,
    user: CurrentUser,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    state.auth.logout(user.session_id).await?;
    state.connections.end_session(user.user.id, user.session_id);
    req.extensions_mut().insert(CookieAction::Clear);
    Ok(HttpResponse::Ok().json(Success::YES))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct DevLoginRequest {
    referral_key: String,
}

#[utoipa::path(
    post,
    path = "/auth/dev-login",
    tag = "auth",
    summary = "Local mode: sign in with the access key (sets the session cookie)",
    request_body = DevLoginRequest,
    responses((status = 200, body = Success))
)]
pub(crate) async fn dev_login(
    _origin: OriginChecked,
    req: HttpRequest,
    state: web::Data<ApiState>,
    body: ApiJson<DevLoginRequest>,
) -> Result<HttpResponse, ApiError> {
    if !state.auth.is_local_mode() {
        return Err(ApiError::not_found());
    }
    let body = body.into_inner()?;
    let key = body.referral_key.trim();
    match key.chars().count() {
        0 => {
            return Err(ApiError::validation(&[(
                "referral_key",
                "must not be empty",
            )]));
        }
        n if n > 256 => {
            return Err(ApiError::validation(&[(
                "referral_key",
                "must be at most 256 characters",
            )]));
        }
        _ => {}
    }
    let client = client_address(&req, state.settings.trust_forwarded_headers);
    let issued = state.auth.dev_login(key, &client).await?;
    req.extensions_mut().insert(LoggedUser(issued.user.id));
    req.extensions_mut()
        .insert(CookieAction::Set(issued.token.expose().to_owned()));
    Ok(HttpResponse::Ok().json(Success::YES))
}
