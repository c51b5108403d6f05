use actix_web::http::header::HeaderMap;

/// The client's `X-Request-Id` when it is 1–128 characters of `[A-Za-z0-9._:-]`, else a fresh UUID v7.
pub(super) fn from_headers(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| is_acceptable(id))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned)
}

fn is_acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_ids_are_echoed() {
        assert!(is_acceptable("abc-123_x.y:z"));
        assert!(!is_acceptable(""));
        assert!(!is_acceptable(&"a".repeat(129)));
        assert!(!is_acceptable("has space"));
        assert!(!is_acceptable("new\nline"));
    }
}
