//! The one middleware every request passes: request id, CORS (preflight and response headers), the error
//! body's `request_id`, session-cookie changes, security headers and the request log line.

mod cors;
mod request_id;

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, web};
use tracing::Instrument;

use crate::cookies::{self, CookieAction, SESSION_COOKIE};
use crate::error::ErrorBody;
use crate::extract::LoggedUser;
use crate::{ApiError, ApiState};

pub(crate) async fn api_middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = request_id::from_headers(req.headers());
    let state = req
        .app_data::<web::Data<ApiState>>()
        .map(|data| data.get_ref().clone());
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let span = tracing::info_span!("request", request_id = %request_id, method = %req.method(), path = %req.path());

    let response = if cors::is_preflight(&req) {
        let (http_req, _) = req.into_parts();
        cors::preflight(http_req, state.as_ref(), origin.as_deref())
    } else {
        // Routing needs the only reference to the request, so it is not cloned before this call. Our handlers
        // and extractors render their errors as responses; an `Err` here could only come from actix itself.
        next.call(req)
            .instrument(span.clone())
            .await?
            .map_into_boxed_body()
    };
    let http_req = response.request().clone();
    let response = finish(
        response,
        &http_req,
        &request_id,
        state.as_ref(),
        origin.as_deref(),
    );
    log_request(&span, &http_req, response.status(), started);
    if let Some(state) = &state {
        // The matched pattern keeps the label set small: ids never become labels.
        let route = http_req.match_pattern();
        state.metrics.telemetry.http_request(
            http_req.method().as_str(),
            route.as_deref().unwrap_or("unmatched"),
            response.status().as_u16(),
            started.elapsed(),
        );
    }
    Ok(response)
}

fn finish(
    response: ServiceResponse<BoxBody>,
    req: &HttpRequest,
    request_id: &str,
    state: Option<&ApiState>,
    origin: Option<&str>,
) -> ServiceResponse<BoxBody> {
    let status = response.status();
    let mut response = if status.is_client_error() || status.is_server_error() {
        with_error_body(response, request_id)
    } else {
        response
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(header::HeaderName::from_static("x-request-id"), value);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let is_json = content_type.starts_with("application/json");
    if content_type == "application/json" {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    if is_json {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(state) = state {
        if let Some(origin) = origin {
            cors::add_response_headers(headers, &state.settings.origins, origin);
        }
        if let Some(cookie) = cookie_change(req, status) {
            let cookie = cookies::build(&cookie, &state.settings);
            if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
                headers.append(header::SET_COOKIE, value);
            }
        }
    }
    response
}

/// Whatever a handler asked for; otherwise a 401 to a request that presented a cookie clears it.
fn cookie_change(req: &HttpRequest, status: StatusCode) -> Option<CookieAction> {
    if let Some(action) = req.extensions().get::<CookieAction>() {
        return Some(action.clone());
    }
    (status == StatusCode::UNAUTHORIZED && req.cookie(SESSION_COOKIE).is_some())
        .then_some(CookieAction::Clear)
}

/// Renders the error body with the request id: ours (left in the response's extensions by `ApiError`) or, for
/// responses actix produced itself, the generic body for the status.
fn with_error_body(
    response: ServiceResponse<BoxBody>,
    request_id: &str,
) -> ServiceResponse<BoxBody> {
    let status = response.status();
    let known = response.response().extensions().get::<ErrorBody>().cloned();
    let mut body = known.unwrap_or_else(|| ApiError::for_status(status).body());
    body.request_id = Some(request_id.to_owned());
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut response = response.map_body(|_, _| BoxBody::new(bytes));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

fn log_request(span: &tracing::Span, req: &HttpRequest, status: StatusCode, started: Instant) {
    let route = req.match_pattern().unwrap_or_else(|| "-".to_owned());
    let user_id = req
        .extensions()
        .get::<LoggedUser>()
        .map_or_else(|| "-".to_owned(), |u| u.0.to_string());
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let _entered = span.enter();
    if status.is_server_error() {
        tracing::error!(
            route,
            status = status.as_u16(),
            duration_ms,
            user_id,
            "request"
        );
    } else {
        tracing::info!(
            route,
            status = status.as_u16(),
            duration_ms,
            user_id,
            "request"
        );
    }
}
