//! CORS (docs/api.md, "Conventions"): exact origins only, credentials allowed.

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use crate::{ApiError, ApiState, OriginPolicy};

pub(super) fn is_preflight(req: &ServiceRequest) -> bool {
    req.method() == Method::OPTIONS
        && req.headers().contains_key(header::ORIGIN)
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

pub(super) fn preflight(
    req: HttpRequest,
    state: Option<&ApiState>,
    origin: Option<&str>,
) -> ServiceResponse<BoxBody> {
    let allowed =
        matches!((state, origin), (Some(s), Some(o)) if s.settings.origins.allows_cors(o));
    let response = if allowed {
        HttpResponse::build(StatusCode::NO_CONTENT)
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_METHODS,
                "GET, POST, PUT, PATCH, DELETE, OPTIONS",
            ))
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Content-Type, X-Request-Id",
            ))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
            .finish()
    } else {
        ApiError::origin_not_allowed().error_response()
    };
    ServiceResponse::new(req, response)
}

pub(super) fn add_response_headers(headers: &mut HeaderMap, policy: &OriginPolicy, origin: &str) {
    if !policy.allows_cors(origin) {
        return;
    }
    let Ok(origin) = HeaderValue::from_str(origin) else {
        return;
    };
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("X-Request-Id, Retry-After, Content-Disposition"),
    );
}
