//! The `session_token` cookie (docs/api.md, "Conventions").

use actix_web::cookie::{Cookie, SameSite, time};

use crate::HttpSettings;

pub(crate) const SESSION_COOKIE: &str = "session_token";

/// What the response must do with the session cookie; handlers and extractors leave it in the request's
/// extensions and the middleware applies it.
#[derive(Debug, Clone)]
pub(crate) enum CookieAction {
    /// Issue (or re-issue with a fresh `Max-Age`) this token.
    Set(String),
    /// Clear the cookie.
    Clear,
}

pub(crate) fn build(action: &CookieAction, settings: &HttpSettings) -> Cookie<'static> {
    let (value, max_age) = match action {
        CookieAction::Set(token) => (
            token.clone(),
            time::Duration::seconds(
                i64::try_from(settings.session_ttl.as_secs()).unwrap_or(i64::MAX),
            ),
        ),
        CookieAction::Clear => (String::new(), time::Duration::ZERO),
    };
    Cookie::build(SESSION_COOKIE, value)
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(settings.secure_cookies)
        .max_age(max_age)
        .finish()
}
