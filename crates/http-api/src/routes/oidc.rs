//! `POST /auth/google` and `GET /auth/google/callback`: OpenID Connect sign-in (docs/api.md, "Sign-in").

use actix_web::http::Method;
use actix_web::http::header::LOCATION;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use serde::Deserialize;
use tabletalk_domain::auth::{CallbackError, CallbackParams, CallbackRejection};

use super::resource;
use crate::cookies::CookieAction;
use crate::extract::{LoggedUser, OptionalJson, OriginChecked};
use crate::{ApiError, ApiState};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/auth/google", &[Method::POST]).route(web::post().to(start)));
    cfg.service(resource("/auth/google/callback", &[Method::GET]).route(web::get().to(callback)));
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct StartRequest {
    referral_key: Option<String>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct StartResponse {
    /// The identity provider's authorization URL to send the browser to.
    redirect_url: String,
}

#[utoipa::path(
    post,
    path = "/auth/google",
    tag = "auth",
    summary = "OpenID Connect: start a sign-in (body optional)",
    request_body(content = Option<StartRequest>),
    responses((status = 200, body = StartResponse))
)]
pub(crate) async fn start(
    _origin: OriginChecked,
    state: web::Data<ApiState>,
    body: OptionalJson<StartRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let referral_key = body
        .and_then(|b| b.referral_key)
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty());
    if referral_key
        .as_ref()
        .is_some_and(|k| k.chars().count() > 256)
    {
        return Err(ApiError::validation(&[(
            "referral_key",
            "must be at most 256 characters",
        )]));
    }
    let Some(oidc) = &state.oidc else {
        return Err(ApiError::oidc_not_configured());
    };
    let redirect_url = oidc.start(referral_key.as_deref()).await?;
    Ok(HttpResponse::Ok().json(StartResponse { redirect_url }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

fn redirect(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((LOCATION, location.to_owned()))
        .finish()
}

/// Always a redirect: to the frontend with a session, or to its sign-in page with the reason.
#[utoipa::path(
    get,
    path = "/auth/google/callback",
    tag = "auth",
    summary = "OpenID Connect: the provider's redirect back; sets the session cookie",
    description = "Redirects to `<frontend_url>/` when signed in, else to `<frontend_url>/sign-in?error=<reason>`.",
    params(CallbackQuery),
    responses((status = 302, description = "To the web client"))
)]
pub(crate) async fn callback(
    req: HttpRequest,
    state: web::Data<ApiState>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    let Some(oidc) = &state.oidc else {
        return Err(ApiError::not_found());
    };
    let query = query.into_inner();
    let params = CallbackParams {
        code: query.code,
        state: query.state,
        error: query.error,
    };
    let frontend = &state.settings.frontend_url;
    let rejection = match oidc.complete(&params).await {
        Ok(issued) => {
            req.extensions_mut().insert(LoggedUser(issued.user.id));
            req.extensions_mut()
                .insert(CookieAction::Set(issued.token.expose().to_owned()));
            return Ok(redirect(&format!("{frontend}/")));
        }
        Err(CallbackError::Rejected(rejection)) => rejection,
        Err(error) => {
            // Storage or randomness failure: the user sees a retryable sign-in error, the cause goes to the log.
            tracing::error!(
                error = &error as &dyn std::error::Error,
                "sign-in callback failed"
            );
            CallbackRejection::OauthError
        }
    };
    Ok(redirect(&format!(
        "{frontend}/sign-in?error={}",
        rejection.reason()
    )))
}
