use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::http::header::ORIGIN;
use actix_web::{FromRequest, HttpRequest};

use super::api_state;
use crate::ApiError;

/// The Origin rule of docs/api.md, "Conventions": a state-changing request that carries `Origin` must come from an
/// allowed origin. Requests without the header (non-browser clients) pass.
pub(crate) fn check_origin(req: &HttpRequest) -> Result<(), ApiError> {
    if !matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) {
        return Ok(());
    }
    let Some(origin) = req.headers().get(ORIGIN) else {
        return Ok(());
    };
    let state = api_state(req)?;
    match origin.to_str() {
        Ok(origin) if state.settings.origins.allows_state_change(origin) => Ok(()),
        _ => Err(ApiError::origin_not_allowed()),
    }
}

/// Applies the Origin rule to a handler that needs no session (sign-in endpoints).
#[derive(Debug)]
pub(crate) struct OriginChecked;

impl FromRequest for OriginChecked {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(check_origin(req).map(|()| Self))
    }
}
