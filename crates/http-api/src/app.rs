//! The app factory: the same `App` for the binary and the tests.

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::error::QueryPayloadError;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpRequest, web};

use crate::middleware::api_middleware;
use crate::{ApiError, ApiState, routes};

#[expect(
    clippy::needless_pass_by_value,
    reason = "the signature actix requires of an error handler"
)]
fn query_error(error: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    let message = error.to_string();
    let field = message.split('`').nth(1).unwrap_or("query").to_owned();
    ApiError::validation(&[(field.as_str(), message.as_str())]).into()
}

/// Builds the API: routes, error handlers for actix's own extractors, and the request middleware.
pub fn app(
    state: ApiState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<BoxBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::new(state))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::not_found().into()))
        .configure(routes::configure)
        .default_service(web::to(routes::not_found))
        .wrap(from_fn(api_middleware))
}
