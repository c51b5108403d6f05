//! Request extractors. They fail in docs/api.md's precedence order: Origin (synchronously, on first poll), then
//! authentication; JSON body problems are deferred into [`ApiJson`] so a handler reports them only after
//! authentication succeeded.

mod client;
mod current_user;
mod json;
mod origin_checked;
mod query_params;

pub(crate) use client::client_address;
pub(crate) use current_user::{CurrentUser, LoggedUser};
pub(crate) use json::{ApiJson, LargeJson, OptionalJson};
pub(crate) use origin_checked::{OriginChecked, check_origin};
pub(crate) use query_params::QueryParams;

use actix_web::{HttpRequest, web};
use tabletalk_ports::ConversationId;

use crate::{ApiError, ApiState};

/// The shared state, which the app factory always registers.
pub(crate) fn api_state(req: &HttpRequest) -> Result<web::Data<ApiState>, ApiError> {
    req.app_data::<web::Data<ApiState>>()
        .cloned()
        .ok_or_else(|| {
            ApiError::internal(&std::io::Error::other(
                "ApiState is not registered on the app",
            ))
        })
}

/// A conversation id from the path; a malformed id answers exactly like an unknown one.
pub(crate) fn conversation_id(raw: &str) -> Result<ConversationId, ApiError> {
    raw.parse().map_err(|_| ApiError::conversation_not_found())
}
