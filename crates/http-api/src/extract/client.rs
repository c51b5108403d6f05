use actix_web::HttpRequest;

/// The client's address: the peer, or the last `X-Forwarded-For` entry when the proxy is trusted.
pub(crate) fn client_address(req: &HttpRequest, trust_forwarded_headers: bool) -> String {
    if trust_forwarded_headers
        && let Some(last) = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .last()
    {
        return last.to_owned();
    }
    req.peer_addr()
        .map_or_else(|| "unknown".to_owned(), |addr| addr.ip().to_string())
}
