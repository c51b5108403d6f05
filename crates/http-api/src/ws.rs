//! `GET /ws` (docs/api.md, "WebSocket"): handshake checks before the upgrade, per-user registration with a connection
//! cap, protocol pings with dead-peer detection, and a bounded send queue per connection — a socket that cannot keep up
//! is closed with 1013, so a slow client never grows the server's memory.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::http::header::{ORIGIN, UPGRADE};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use actix_ws::{CloseCode, CloseReason, Message, Session};

use tabletalk_domain::{SessionToken, Subscription};

use crate::dto::event_frame;
use tabletalk_ports::{SessionId, UserId};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use crate::cookies::{CookieAction, SESSION_COOKIE};
use crate::extract::QueryParams;
use crate::{ApiError, ApiState};

/// `websocket.*`.
#[derive(Debug, Clone, Copy)]
pub struct WebsocketSettings {
    pub heartbeat_interval: Duration,
    pub missed_pongs: u32,
    pub send_queue: usize,
    pub max_connections_per_user: usize,
}

/// A frame write slower than this closes the connection (docs/api.md, "WebSocket").
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Client frames: at most this size, and this many per 10 s.
const MAX_CLIENT_FRAME: usize = 4 * 1024;
const MAX_CLIENT_FRAMES: u32 = 100;

/// One open connection: its id, the session it signed in with, and a handle to close it from elsewhere.
struct Registered {
    id: u64,
    session: SessionId,
    socket: Session,
}

/// The open connections by user, oldest first.
#[derive(Default)]
pub struct Connections {
    by_user: Mutex<HashMap<UserId, VecDeque<Registered>>>,
    next: AtomicU64,
    open: AtomicU64,
    shutting_down: std::sync::atomic::AtomicBool,
    closing: tokio::sync::Notify,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections")
            .field("open", &self.open())
            .finish_non_exhaustive()
    }
}

impl Connections {
    /// Registers a connection; returns its id and the oldest connection it displaces, if any.
    fn register(
        &self,
        user: UserId,
        session: SessionId,
        socket: Session,
        cap: usize,
    ) -> (u64, Option<Session>) {
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        let mut by_user = self.by_user.lock().unwrap_or_else(PoisonError::into_inner);
        let list = by_user.entry(user).or_default();
        list.push_back(Registered {
            id,
            session,
            socket,
        });
        self.open.fetch_add(1, Ordering::SeqCst);
        let displaced = (list.len() > cap.max(1))
            .then(|| list.pop_front())
            .flatten()
            .map(|r| r.socket);
        if displaced.is_some() {
            self.open.fetch_sub(1, Ordering::SeqCst);
        }
        (id, displaced)
    }

    fn deregister(&self, user: UserId, id: u64) {
        let mut by_user = self.by_user.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(list) = by_user.get_mut(&user) {
            let before = list.len();
            list.retain(|r| r.id != id);
            if list.len() < before {
                self.open.fetch_sub(1, Ordering::SeqCst);
            }
            if list.is_empty() {
                by_user.remove(&user);
            }
        }
    }

    /// Closes, with 4001, every connection opened with `session` (its user logged out): at once, not at the next
    /// heartbeat.
    pub(crate) fn end_session(&self, user: UserId, session: SessionId) {
        let mut ended = Vec::new();
        {
            let mut by_user = self.by_user.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(list) = by_user.get_mut(&user) {
                let (gone, kept): (VecDeque<_>, VecDeque<_>) =
                    list.drain(..).partition(|r| r.session == session);
                *list = kept;
                if list.is_empty() {
                    by_user.remove(&user);
                }
                self.open.fetch_sub(gone.len() as u64, Ordering::SeqCst);
                ended.extend(gone.into_iter().map(|r| r.socket));
            }
        }
        for socket in ended {
            actix_web::rt::spawn(async move {
                let _ = socket
                    .close(Some(reason(CloseCode::Other(4001), "Session ended")))
                    .await;
            });
        }
    }

    /// Closes every connection with 1001 (graceful shutdown).
    pub fn shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.closing.notify_waiters();
    }

    async fn closed(&self) {
        loop {
            let notified = self.closing.notified();
            if self.shutting_down.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }

    /// Connections open now.
    pub fn open(&self) -> u64 {
        self.open.load(Ordering::SeqCst)
    }
}

fn reason(code: CloseCode, text: &str) -> CloseReason {
    CloseReason {
        code,
        description: Some(text.to_owned()),
    }
}

/// The handshake checks in docs/api.md, "WebSocket" order, then the upgrade.
#[utoipa::path(
    get,
    path = "/ws",
    tag = "chat",
    summary = "The event stream: a WebSocket (docs/api.md, \"WebSocket\")",
    description = "Authenticated by the session cookie or `?token=<session token>`. Events are JSON text frames \
                   `{type, ...}`; closes with 4001 when the session ends, 4002 when replaced, 1013 when too slow.",
    params(("token" = Option<String>, Query, description = "The session token, for clients that cannot send the cookie")),
    responses((status = 101, description = "Switching protocols"))
)]
pub(crate) async fn connect(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let upgrade = req
        .headers()
        .get(UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !upgrade {
        return Err(ApiError::bad_request("Expected a WebSocket upgrade"));
    }
    if let Some(origin) = req.headers().get(ORIGIN) {
        let allowed = origin
            .to_str()
            .is_ok_and(|o| state.settings.origins.allows_state_change(o));
        if !allowed {
            return Err(ApiError::origin_not_allowed());
        }
    }
    let query_token = QueryParams::of(&req)
        .get("token")
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    let token = query_token
        .or_else(|| {
            req.cookie(SESSION_COOKIE)
                .map(|c| c.value().to_owned())
                .filter(|v| !v.is_empty())
        })
        .ok_or_else(ApiError::not_authenticated)?;
    let who = state
        .auth
        .authenticate(&SessionToken::presented(token.clone()))
        .await?;
    if who.extended {
        req.extensions_mut()
            .insert(CookieAction::Set(token.clone()));
    }
    let (response, session, stream) = actix_ws::handle(&req, body)
        .map_err(|_| ApiError::bad_request("Expected a WebSocket upgrade"))?;
    let settings = state.settings.websocket;
    let (id, displaced) = state.connections.register(
        who.user.id,
        who.session_id,
        session.clone(),
        settings.max_connections_per_user,
    );
    state.metrics.telemetry.websockets_changed(1);
    if let Some(old) = displaced {
        actix_web::rt::spawn(async move {
            let _ = old
                .close(Some(reason(
                    CloseCode::Other(4002),
                    "Replaced by a newer connection",
                )))
                .await;
        });
    }
    let user = who.user.id;
    let (queue, outbox) = mpsc::channel::<String>(settings.send_queue.max(1));
    let overflowed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    forward_events(
        state.events.subscribe(user),
        queue,
        overflowed.clone(),
        state.metrics.telemetry.clone(),
    );
    let connections = state.into_inner();
    actix_web::rt::spawn(async move {
        let outcome = drive(
            session.clone(),
            stream,
            outbox,
            overflowed,
            settings,
            connections.clone(),
            token,
        )
        .await;
        connections.connections.deregister(user, id);
        connections.metrics.telemetry.websockets_changed(-1);
        let _ = session.close(outcome).await;
    });
    Ok(response)
}

/// Writes queued events, answers pings, sends heartbeats; returns the close reason.
async fn drive(
    mut session: Session,
    mut stream: actix_ws::MessageStream,
    mut outbox: mpsc::Receiver<String>,
    overflowed: Arc<std::sync::atomic::AtomicBool>,
    settings: WebsocketSettings,
    state: Arc<ApiState>,
    token: String,
) -> Option<CloseReason> {
    let mut heartbeat = tokio::time::interval(settings.heartbeat_interval);
    heartbeat.tick().await;
    let mut missed = 0_u32;
    let mut window = (Instant::now(), 0_u32);
    loop {
        tokio::select! {
            frame = outbox.recv() => {
                let Some(frame) = frame else {
                    return if overflowed.load(Ordering::SeqCst) { Some(reason(CloseCode::Again, "Too slow")) } else { None };
                };
                match tokio::time::timeout(WRITE_TIMEOUT, session.text(frame)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return None,
                    Err(_) => {
                        state.metrics.telemetry.websocket_events_dropped("write_timeout", 1);
                        return Some(reason(CloseCode::Again, "Too slow"));
                    }
                }
            }
            message = stream.recv() => {
                let Some(Ok(message)) = message else { return None };
                missed = 0;
                if window.0.elapsed() > Duration::from_secs(10) {
                    window = (Instant::now(), 0);
                }
                window.1 += 1;
                if window.1 > MAX_CLIENT_FRAMES {
                    return Some(reason(CloseCode::Policy, "Policy violation"));
                }
                match message {
                    Message::Ping(bytes) if session.pong(&bytes).await.is_err() => return None,
                    Message::Text(text) if text.len() > MAX_CLIENT_FRAME => return Some(reason(CloseCode::Policy, "Policy violation")),
                    Message::Binary(bytes) if bytes.len() > MAX_CLIENT_FRAME => return Some(reason(CloseCode::Policy, "Policy violation")),
                    Message::Close(reason) => return reason,
                    _ => {}
                }
            }
            () = state.connections.closed() => return Some(reason(CloseCode::Away, "Server shutting down")),
            _ = heartbeat.tick() => {
                if missed >= settings.missed_pongs {
                    return None;
                }
                if state.auth.session_alive(&SessionToken::presented(token.clone())).await == Some(false) {
                    return Some(reason(CloseCode::Other(4001), "Session ended"));
                }
                missed += 1;
                if session.ping(b"").await.is_err() {
                    return None;
                }
            }
        }
    }
}

/// Forwarder: the user's events → this connection's bounded queue. A full queue or a lagging receiver ends the
/// socket (the dropped events are counted), and the socket's end ends the forwarder (and its subscription) even if
/// no event ever comes again.
fn forward_events(
    mut events: Subscription,
    queue: mpsc::Sender<String>,
    flag: Arc<std::sync::atomic::AtomicBool>,
    telemetry: Arc<dyn tabletalk_ports::Telemetry>,
) {
    actix_web::rt::spawn(async move {
        loop {
            let received = tokio::select! {
                received = events.recv() => received,
                () = queue.closed() => break,
            };
            match received {
                Ok(event) => {
                    if queue.try_send(event_frame(&event)).is_err() {
                        telemetry.websocket_events_dropped("queue_full", 1);
                        flag.store(true, Ordering::SeqCst);
                        break;
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    telemetry.websocket_events_dropped("lagged", missed);
                    flag.store(true, Ordering::SeqCst);
                    break;
                }
                Err(RecvError::Closed) => break,
            }
        }
    });
}
