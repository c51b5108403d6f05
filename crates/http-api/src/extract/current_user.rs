use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use tabletalk_domain::SessionToken;
use tabletalk_ports::{SessionId, User, UserId};

use super::{api_state, check_origin};
use crate::ApiError;
use crate::cookies::{CookieAction, SESSION_COOKIE};

/// The signed-in user, from the `session_token` cookie. Checks the Origin rule first.
#[derive(Debug, Clone)]
pub(crate) struct CurrentUser {
    pub user: User,
    pub session_id: SessionId,
}

/// The user id the request log line shows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoggedUser(pub UserId);

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            // Runs on the first poll, before any other extractor can report a body problem.
            check_origin(&req)?;
            let state = api_state(&req)?;
            let token = req
                .cookie(SESSION_COOKIE)
                .map(|c| c.value().to_owned())
                .filter(|v| !v.is_empty())
                .ok_or_else(ApiError::not_authenticated)?;
            let who = state
                .auth
                .authenticate(&SessionToken::presented(token.clone()))
                .await?;
            if who.extended {
                req.extensions_mut().insert(CookieAction::Set(token));
            }
            req.extensions_mut().insert(LoggedUser(who.user.id));
            Ok(Self {
                user: who.user,
                session_id: who.session_id,
            })
        })
    }
}
