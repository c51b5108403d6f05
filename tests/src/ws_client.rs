//! A WebSocket client for the end-to-end tests (awc): connects to `/ws` with a token, reads JSON events, answers
//! pings, and can stop reading to play a slow consumer.

use std::time::Duration;

use actix_web::web::Bytes;
use awc::ws::{Frame, Message};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::Value;

/// An open connection.
pub struct WsClient {
    framed: actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>,
    /// The close code, once the server closed the connection.
    pub closed: Option<u16>,
}

impl std::fmt::Debug for WsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsClient")
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

/// Connects to `base` (`http://…`) with `token`; returns the handshake status on failure.
pub async fn connect(base: &str, token: &str) -> Result<WsClient, u16> {
    let url = format!("{}/ws?token={token}", base.replacen("http", "ws", 1));
    match awc::Client::new().ws(url).connect().await {
        Ok((_, framed)) => Ok(WsClient {
            framed,
            closed: None,
        }),
        Err(awc::error::WsClientError::InvalidResponseStatus(status)) => Err(status.as_u16()),
        Err(other) => panic!("websocket connect failed: {other}"),
    }
}

impl WsClient {
    /// The next JSON event within `wait`, or `None` (timeout or closed).
    pub async fn next_event(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.framed.next())
                .await
                .ok()??;
            match frame.ok()? {
                Frame::Text(text) => return serde_json::from_slice(&text).ok(),
                Frame::Ping(bytes) => {
                    let _ = self.framed.send(Message::Pong(bytes)).await;
                }
                Frame::Close(reason) => {
                    self.closed = Some(reason.map_or(1005, |r| u16::from(r.code)));
                    return None;
                }
                _ => {}
            }
        }
    }

    /// Events up to and including the first of type `kind`.
    pub async fn until(&mut self, kind: &str, wait: Duration) -> Vec<Value> {
        let mut events = Vec::new();
        while let Some(event) = self.next_event(wait).await {
            let done = event["type"] == kind;
            events.push(event);
            if done {
                break;
            }
        }
        events
    }

    /// Sends a text frame.
    pub async fn send_text(&mut self, text: &str) {
        let _ = self.framed.send(Message::Text(text.into())).await;
    }

    /// Sends a ping and keeps the bytes out of the event stream.
    pub async fn ping(&mut self) {
        let _ = self.framed.send(Message::Ping(Bytes::new())).await;
    }
}
