//! The web client as the server delivers it: browser navigation to a client route gets the app's page with a strict
//! Content-Security-Policy and no caching; API requests to the same paths keep their JSON; hashed assets are cached
//! for good and sent gzip-compressed when accepted.

use reqwest::Method;
use serde_json::{Value, json};
use tabletalk_tests::{TestApp, json_with_status};

const HTML: (&str, &str) = ("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8");

async fn page(app: &TestApp, path: &str) -> reqwest::Response {
    app.new_client()
        .get(app.url(path))
        .header(HTML.0, HTML.1)
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn client_routes_get_the_app_and_api_requests_keep_json() {
    let app = TestApp::spawn().await;
    for path in [
        "/",
        "/sign-in",
        "/c/0193",
        "/share/abc",
        "/shared/result/abc",
        "/assistants",
    ] {
        let response = page(&app, path).await;
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        assert_eq!(headers["cache-control"], "no-cache");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(!csp.contains("unsafe-eval"), "no eval anywhere: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"));
        let body = response.text().await.unwrap();
        assert!(body.contains("<html"), "{path}");
        assert!(!body.contains("<script>"), "no inline script: {body}");
    }
    // The same paths as API requests.
    let missing = json_with_status(app.get("/").await, 404).await;
    assert_eq!(missing["code"], "not_found");
    let shared = json_with_status(app.get("/shared/result/abc").await, 404).await;
    assert_eq!(shared["code"], "shared_result_not_found");
    let unknown = app
        .new_client()
        .get(app.url("/no/such/page"))
        .header(HTML.0, HTML.1)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404, "only client routes get the page");
    // A page is only for GET: a POST to `/` is still the API's 404.
    let post = app.send_json(Method::POST, "/", &json!({})).await;
    assert_eq!(post.status(), 404);
    app.stop().await;
}

#[actix_web::test]
async fn assets_are_immutable_and_compressed_when_accepted() {
    let app = TestApp::spawn().await;
    let index = page(&app, "/").await.text().await.unwrap();
    let scripts: Vec<&str> = index
        .split('"')
        .filter(|part| part.starts_with("/assets/"))
        .collect();
    if !tabletalk_web::client_built() {
        // Built without npm: the page says how to get the client, and there are no assets.
        assert!(index.contains("npm"), "{index}");
        app.stop().await;
        return;
    }
    assert!(
        !scripts.is_empty(),
        "the page loads its hashed assets: {index}"
    );
    for path in scripts {
        let plain = app.new_client().get(app.url(path)).send().await.unwrap();
        assert_eq!(plain.status(), 200, "{path}");
        assert_eq!(
            plain.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert!(plain.headers().get("content-encoding").is_none());
        let plain_body = plain.bytes().await.unwrap();
        let zipped = app
            .new_client()
            .get(app.url(path))
            .header("Accept-Encoding", "gzip, br")
            .send()
            .await
            .unwrap();
        assert_eq!(zipped.headers()["content-encoding"], "gzip", "{path}");
        assert_eq!(zipped.headers()["vary"], "Accept-Encoding");
        let compressed = zipped.bytes().await.unwrap();
        assert!(compressed.len() < plain_body.len(), "{path}");
        let mut unzipped = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&compressed[..]),
            &mut unzipped,
        )
        .unwrap();
        assert_eq!(unzipped, plain_body.to_vec(), "{path}");
    }
    let unknown: Value = json_with_status(
        app.new_client()
            .get(app.url("/assets/nothing-here.js"))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    assert_eq!(unknown["code"], "not_found");
    let icon = app
        .new_client()
        .get(app.url("/favicon.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()["content-type"], "image/svg+xml");
    app.stop().await;
}
