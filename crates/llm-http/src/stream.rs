//! Turning a byte stream into parsed items: idle and total timeouts, decoding, and a parser per provider.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{Stream, StreamExt, stream};
use tokio::time::{Instant, timeout_at};

use crate::sse::{SseDecoder, SseEvent};

/// Turns events into items; the provider's protocol lives here.
pub trait EventParser: Send + 'static {
    type Item: Send + 'static;
    type Error: Send + 'static;

    /// One decoded event; may yield any number of items.
    fn event(&mut self, event: SseEvent) -> Result<Vec<Self::Item>, Self::Error>;

    /// The body ended cleanly: the last items, or why the stream was incomplete.
    fn finish(&mut self) -> Result<Vec<Self::Item>, Self::Error>;
}

/// How reading the body failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadFailure {
    /// No byte arrived for the idle timeout.
    Idle(Duration),
    /// The whole call exceeded its deadline.
    Deadline,
    /// The connection broke (the transport's message).
    Body(String),
}

/// Limits on reading one body.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub idle: Duration,
    /// When the whole call must be over.
    pub deadline: Instant,
}

struct State<B, P: EventParser, F> {
    body: B,
    decoder: SseDecoder,
    parser: P,
    ready: VecDeque<Result<P::Item, P::Error>>,
    timeouts: Timeouts,
    on_failure: F,
    done: bool,
}

/// Reads `body` to its end through `parser`. The stream ends after the first error.
pub fn parse_stream<B, C, E, P, F>(
    body: B,
    parser: P,
    timeouts: Timeouts,
    on_failure: F,
) -> impl Stream<Item = Result<P::Item, P::Error>> + Send
where
    B: Stream<Item = Result<C, E>> + Send + Unpin + 'static,
    C: AsRef<[u8]> + Send,
    E: std::fmt::Display + Send,
    P: EventParser,
    F: Fn(ReadFailure) -> P::Error + Send + 'static,
{
    let state = State {
        body,
        decoder: SseDecoder::new(),
        parser,
        ready: VecDeque::new(),
        timeouts,
        on_failure,
        done: false,
    };
    stream::unfold(state, |mut state| async move {
        loop {
            if let Some(item) = state.ready.pop_front() {
                if item.is_err() {
                    state.ready.clear();
                    state.done = true;
                }
                return Some((item, state));
            }
            if state.done {
                return None;
            }
            state.read_more().await;
        }
    })
}

impl<B, C, E, P, F> State<B, P, F>
where
    B: Stream<Item = Result<C, E>> + Send + Unpin,
    C: AsRef<[u8]>,
    E: std::fmt::Display,
    P: EventParser,
    F: Fn(ReadFailure) -> P::Error,
{
    fn push(&mut self, outcome: Result<Vec<P::Item>, P::Error>) {
        match outcome {
            Ok(items) => self.ready.extend(items.into_iter().map(Ok)),
            Err(error) => self.ready.push_back(Err(error)),
        }
    }

    fn fail(&mut self, failure: ReadFailure) {
        self.ready.push_back(Err((self.on_failure)(failure)));
        self.done = true;
    }

    async fn read_more(&mut self) {
        let idle_deadline = Instant::now() + self.timeouts.idle;
        let wait_until = idle_deadline.min(self.timeouts.deadline);
        match timeout_at(wait_until, self.body.next()).await {
            Err(_) if wait_until == self.timeouts.deadline => self.fail(ReadFailure::Deadline),
            Err(_) => self.fail(ReadFailure::Idle(self.timeouts.idle)),
            Ok(Some(Err(error))) => self.fail(ReadFailure::Body(error.to_string())),
            Ok(Some(Ok(chunk))) => {
                for event in self.decoder.feed(chunk.as_ref()) {
                    let outcome = self.parser.event(event);
                    let failed = outcome.is_err();
                    self.push(outcome);
                    if failed {
                        self.done = true;
                        return;
                    }
                }
            }
            Ok(None) => {
                if let Some(event) = self.decoder.finish() {
                    let outcome = self.parser.event(event);
                    let failed = outcome.is_err();
                    self.push(outcome);
                    if failed {
                        self.done = true;
                        return;
                    }
                }
                let outcome = self.parser.finish();
                self.push(outcome);
                self.done = true;
            }
        }
    }
}
