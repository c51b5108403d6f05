//! An HTTP server on 127.0.0.1 that plays scripted replies byte for byte (with pauses, and connection drops)
//! and records every request. The fake Gemini and OpenAI-compatible servers of the adapter tests.

use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::web::Bytes;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::Value;

/// One piece of a reply body.
#[derive(Debug, Clone)]
pub enum Chunk {
    Bytes(Vec<u8>),
    Pause(Duration),
    /// Abort the connection mid-body.
    Drop,
}

/// A scripted reply.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Wait this long before sending the status line.
    pub delay: Duration,
    pub chunks: Vec<Chunk>,
}

impl Reply {
    /// 200 `text/event-stream` with these chunks.
    pub fn sse(chunks: Vec<Chunk>) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            delay: Duration::ZERO,
            chunks,
        }
    }

    /// A redirect to `location`.
    pub fn redirect(location: &str) -> Self {
        Self {
            status: 302,
            headers: vec![("location".into(), location.to_owned())],
            delay: Duration::ZERO,
            chunks: Vec::new(),
        }
    }

    /// A JSON reply with this status.
    pub fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            delay: Duration::ZERO,
            chunks: vec![Chunk::Bytes(body.to_string().into_bytes())],
        }
    }

    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    #[must_use]
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// `data: <json>` events with the given line ending between and after them.
pub fn sse_events(events: &[Value], line_end: &str) -> Vec<u8> {
    let mut body = String::new();
    for event in events {
        body.push_str("data: ");
        body.push_str(&event.to_string());
        body.push_str(line_end);
        body.push_str(line_end);
    }
    body.into_bytes()
}

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub query: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
}

#[derive(Debug, Default)]
struct Shared {
    replies: Mutex<VecDeque<Reply>>,
    recorded: Mutex<Vec<Recorded>>,
}

/// The running server.
#[derive(Debug, Clone)]
pub struct ScriptedServer {
    pub base: String,
    shared: Arc<Shared>,
    _handle: ServerHandle,
}

impl ScriptedServer {
    pub fn start() -> Self {
        Self::start_on("127.0.0.1")
    }

    /// On another loopback address (Linux routes all of 127.0.0.0/8 to the loopback interface).
    pub fn start_on(ip: &str) -> Self {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let base = format!("http://{ip}:{}", listener.local_addr().unwrap().port());
        let shared = Arc::new(Shared::default());
        let data = web::Data::from(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(play))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            base,
            shared,
            _handle: handle,
        }
    }

    /// Queues the reply to the next request.
    pub fn reply(&self, reply: Reply) -> &Self {
        self.shared.replies.lock().unwrap().push_back(reply);
        self
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.recorded.lock().unwrap().clone()
    }
}

async fn play(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let headers = req
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    shared.recorded.lock().unwrap().push(Recorded {
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let Some(reply) = shared.replies.lock().unwrap().pop_front() else {
        return HttpResponse::InternalServerError().body("no scripted reply left");
    };
    tokio::time::sleep(reply.delay).await;
    let mut response =
        HttpResponse::build(actix_web::http::StatusCode::from_u16(reply.status).unwrap());
    for (name, value) in &reply.headers {
        response.insert_header((name.as_str(), value.as_str()));
    }
    let chunks: VecDeque<Chunk> = reply.chunks.into();
    let body = futures_util::stream::unfold(chunks, |mut chunks| async move {
        loop {
            match chunks.pop_front()? {
                Chunk::Pause(pause) => tokio::time::sleep(pause).await,
                Chunk::Bytes(bytes) => {
                    return Some((Ok::<_, std::io::Error>(Bytes::from(bytes)), chunks));
                }
                Chunk::Drop => {
                    chunks.clear();
                    return Some((
                        Err(std::io::Error::other("scripted connection drop")),
                        chunks,
                    ));
                }
            }
        }
    });
    response.streaming(body)
}
