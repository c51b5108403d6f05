//! A static file server on 127.0.0.1 for dataset tests: `HEAD`, single-range `GET` answering 206, `ETag`,
//! `If-Match` (412) and `If-None-Match` (304). It counts the body bytes it serves, so tests can prove how much of a
//! file a load or a query read. Files can be replaced, refuse `HEAD`, ignore ranges, or trickle slowly.

#![allow(
    clippy::return_self_not_must_use,
    clippy::must_use_candidate,
    clippy::cast_possible_truncation,
    clippy::unused_async,
    reason = "test fixture: small files, async for symmetry with the other fixture servers"
)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::Method;
use actix_web::web::Bytes;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// One served file.
#[derive(Debug, Clone)]
pub struct ServedFile {
    pub body: Arc<Vec<u8>>,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    /// Answer `Range` requests with 206 (else the whole file with 200).
    pub ranges: bool,
    /// Answer `HEAD` (else 405, as some servers and pre-signed URLs do).
    pub head: bool,
    /// Send the body in 64 KiB pieces with this pause between them.
    pub trickle: Option<Duration>,
}

impl ServedFile {
    pub fn new(body: Vec<u8>) -> Self {
        let etag = format!(
            "\"v{}-{}\"",
            body.len(),
            body.iter().map(|b| u64::from(*b)).sum::<u64>()
        );
        Self {
            body: Arc::new(body),
            content_type: None,
            etag: Some(etag),
            ranges: true,
            head: true,
            trickle: None,
        }
    }

    pub fn content_type(mut self, value: &str) -> Self {
        self.content_type = Some(value.to_owned());
        self
    }

    pub fn without_ranges(mut self) -> Self {
        self.ranges = false;
        self
    }

    pub fn without_head(mut self) -> Self {
        self.head = false;
        self
    }

    pub fn trickle(mut self, pause: Duration) -> Self {
        self.trickle = Some(pause);
        self
    }
}

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    pub range: Option<String>,
}

#[derive(Default)]
struct State {
    files: Mutex<HashMap<String, ServedFile>>,
    bytes: AtomicU64,
    seen: Mutex<Vec<SeenRequest>>,
}

/// The running server.
#[allow(missing_debug_implementations, reason = "test fixture")]
pub struct FileServer {
    pub base: String,
    state: Arc<State>,
    handle: ServerHandle,
}

fn parse_range(header: &str, size: u64) -> Option<(u64, u64)> {
    let spec = header.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            (size.saturating_sub(n), size.checked_sub(1)?)
        }
        (start, "") => (start.parse().ok()?, size.checked_sub(1)?),
        (start, end) => (
            start.parse().ok()?,
            end.parse::<u64>().ok()?.min(size.checked_sub(1)?),
        ),
    };
    (start <= end && start < size).then_some((start, end))
}

async fn serve(req: HttpRequest, state: web::Data<Arc<State>>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let range = header("range");
    state.seen.lock().unwrap().push(SeenRequest {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        range: range.clone(),
    });
    let Some(file) = state.files.lock().unwrap().get(req.path()).cloned() else {
        return HttpResponse::NotFound().body("not found");
    };
    let size = file.body.len() as u64;
    let builder = |status: actix_web::http::StatusCode| {
        let mut response = HttpResponse::build(status);
        response.insert_header(("Last-Modified", "Tue, 01 Oct 2024 10:00:00 GMT"));
        if let Some(etag) = &file.etag {
            response.insert_header(("ETag", etag.clone()));
        }
        if let Some(content_type) = &file.content_type {
            response.insert_header(("Content-Type", content_type.clone()));
        }
        if file.ranges {
            response.insert_header(("Accept-Ranges", "bytes"));
        }
        response
    };
    if let (Some(expected), Some(etag)) = (header("if-match"), &file.etag)
        && &expected != etag
    {
        return builder(actix_web::http::StatusCode::PRECONDITION_FAILED).finish();
    }
    if let (Some(seen), Some(etag)) = (header("if-none-match"), &file.etag)
        && &seen == etag
    {
        return builder(actix_web::http::StatusCode::NOT_MODIFIED).finish();
    }
    if req.method() == Method::HEAD {
        if !file.head {
            return HttpResponse::MethodNotAllowed().finish();
        }
        // actix-web keeps the body's length in `Content-Length` and sends no body for HEAD.
        return builder(actix_web::http::StatusCode::OK).body(file.body.to_vec());
    }
    let (status, start, end) = match range
        .as_deref()
        .filter(|_| file.ranges)
        .and_then(|r| parse_range(r, size))
    {
        Some((start, end)) => (actix_web::http::StatusCode::PARTIAL_CONTENT, start, end),
        None if range.is_some() && file.ranges => {
            return HttpResponse::RangeNotSatisfiable().finish();
        }
        None => (actix_web::http::StatusCode::OK, 0, size.saturating_sub(1)),
    };
    let body = if size == 0 {
        Vec::new()
    } else {
        file.body[start as usize..=end as usize].to_vec()
    };
    let mut response = builder(status);
    if status == actix_web::http::StatusCode::PARTIAL_CONTENT {
        response.insert_header(("Content-Range", format!("bytes {start}-{end}/{size}")));
    }
    let Some(pause) = file.trickle else {
        state.bytes.fetch_add(body.len() as u64, Ordering::SeqCst);
        return response.body(body);
    };
    let counter = state.clone();
    let pieces: Vec<Vec<u8>> = body.chunks(64 * 1024).map(<[u8]>::to_vec).collect();
    let stream = futures_util::stream::iter(pieces).then(move |piece| {
        let counter = counter.clone();
        async move {
            tokio::time::sleep(pause).await;
            counter
                .bytes
                .fetch_add(piece.len() as u64, Ordering::SeqCst);
            Ok::<_, actix_web::Error>(Bytes::from(piece))
        }
    });
    response.insert_header(("Content-Length", body.len().to_string()));
    response.streaming(stream)
}

use futures_util::StreamExt as _;

impl FileServer {
    /// Starts on 127.0.0.1 with an ephemeral port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State::default());
        let shared = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(shared.clone()))
                .default_service(web::to(serve))
        })
        .workers(2)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            base: format!("http://127.0.0.1:{port}"),
            state,
            handle,
        }
    }

    /// Serves (or replaces) a file at `path` and returns its URL.
    pub fn put(&self, path: &str, file: ServedFile) -> String {
        self.state
            .files
            .lock()
            .unwrap()
            .insert(path.to_owned(), file);
        format!("{}{path}", self.base)
    }

    /// Body bytes served so far.
    pub fn bytes_served(&self) -> u64 {
        self.state.bytes.load(Ordering::SeqCst)
    }

    /// Requests seen so far.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.state.seen.lock().unwrap().clone()
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}
