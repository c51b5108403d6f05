//! The web client (docs/web-client.md): browser navigation (`GET` with `Accept: text/html`) to a client route gets
//! the app's page; its hashed assets are served with long-lived immutable caching and gzip when accepted. API
//! requests to the same paths keep their JSON answers and 404s.

use actix_web::http::header::{
    ACCEPT, ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY,
    CONTENT_TYPE, HeaderName, REFERRER_POLICY, VARY, X_FRAME_OPTIONS,
};
use actix_web::{HttpRequest, HttpResponse, guard, web};
use tabletalk_web::Asset;

/// The client's routes; the shared-result path is also an API route, which answers JSON to API requests.
pub const PAGES: [&str; 6] = [
    "/",
    "/sign-in",
    "/c/{id}",
    "/share/{token}",
    "/shared/result/{token}",
    "/assistants",
];

/// No inline script and no eval; styles may be set by the editor and the charts at run time; images from anywhere
/// over https (avatars); connections only to this origin (the API and its WebSocket).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data: blob: https:; connect-src 'self'; font-src 'self'; object-src 'none'; \
                   base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn accepts_html(ctx: &guard::GuardContext<'_>) -> bool {
    ctx.head()
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// Registered before the API so a browser's navigation to a shared path gets the page.
pub(super) fn configure_pages(cfg: &mut web::ServiceConfig) {
    for page in PAGES {
        cfg.service(
            web::resource(page)
                .guard(guard::Get())
                .guard(guard::fn_guard(accepts_html))
                .to(page_response),
        );
    }
    cfg.service(web::resource(ASSETS).guard(guard::Get()).to(asset));
    cfg.service(
        web::resource(ROOT_FILE)
            .guard(guard::Get())
            .guard(guard::fn_guard(is_root_file))
            .to(root_file),
    );
}

/// Hashed assets.
pub const ASSETS: &str = "/assets/{file:.+}";
/// Files at the site root (`/favicon.svg`); other paths fall through to the API.
pub const ROOT_FILE: &str = "/{file}";

fn is_root_file(ctx: &guard::GuardContext<'_>) -> bool {
    let path = ctx.head().uri.path().trim_start_matches('/');
    path != "index.html" && tabletalk_web::asset(path).is_some()
}

async fn page_response(req: HttpRequest) -> HttpResponse {
    body(
        &req,
        tabletalk_web::index_html(),
        &[
            (CACHE_CONTROL, "no-cache"),
            (CONTENT_SECURITY_POLICY, CSP),
            (X_FRAME_OPTIONS, "DENY"),
            (REFERRER_POLICY, "same-origin"),
        ],
    )
}

/// A hashed asset; anything else under `/assets/` is the API's 404.
async fn asset(req: HttpRequest, file: web::Path<String>) -> Result<HttpResponse, crate::ApiError> {
    let asset =
        tabletalk_web::asset(&format!("assets/{file}")).ok_or_else(crate::ApiError::not_found)?;
    Ok(file_response(&req, asset))
}

async fn root_file(
    req: HttpRequest,
    file: web::Path<String>,
) -> Result<HttpResponse, crate::ApiError> {
    let asset = tabletalk_web::asset(&file).ok_or_else(crate::ApiError::not_found)?;
    Ok(file_response(&req, asset))
}

fn file_response(req: &HttpRequest, asset: &Asset) -> HttpResponse {
    let cache = if asset.is_immutable() {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=3600"
    };
    body(req, asset, &[(CACHE_CONTROL, cache)])
}

/// The asset's bytes (gzip when the client accepts it) with `headers`.
fn body(req: &HttpRequest, asset: &Asset, headers: &[(HeaderName, &'static str)]) -> HttpResponse {
    let gzip_ok = req
        .headers()
        .get(ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let mut builder = HttpResponse::Ok();
    builder.insert_header((CONTENT_TYPE, asset.content_type));
    for (name, value) in headers {
        builder.insert_header((name.clone(), *value));
    }
    if asset.gzip.is_some() {
        builder.insert_header((VARY, "Accept-Encoding"));
    }
    match asset.gzip {
        Some(compressed) if gzip_ok => builder
            .insert_header((CONTENT_ENCODING, "gzip"))
            .body(compressed),
        _ => builder.body(asset.body),
    }
}
