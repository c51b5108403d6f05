//! The `text/event-stream` decoder.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, when the server set one.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Incremental decoder state.
#[derive(Debug, Default)]
pub struct SseDecoder {
    pending: Vec<u8>,
    data: String,
    has_data: bool,
    event: Option<String>,
}

impl SseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Consumes `bytes`; returns every event they completed, in order.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.pending.extend_from_slice(bytes);
        let mut events = Vec::new();
        let mut start = 0;
        let mut i = 0;
        while i < self.pending.len() {
            match self.pending[i] {
                b'\n' => {
                    let line = self.pending[start..i].to_vec();
                    self.line(&line, &mut events);
                    i += 1;
                    start = i;
                }
                b'\r' => {
                    if i + 1 == self.pending.len() {
                        // Maybe the first half of a CRLF split across reads: decide when more bytes come.
                        break;
                    }
                    let line = self.pending[start..i].to_vec();
                    self.line(&line, &mut events);
                    i += if self.pending[i + 1] == b'\n' { 2 } else { 1 };
                    start = i;
                }
                _ => i += 1,
            }
        }
        self.pending.drain(..start);
        events
    }

    /// The body ended: completes a last line and a last event that had no blank line after it.
    pub fn finish(&mut self) -> Option<SseEvent> {
        let mut events = Vec::new();
        if !self.pending.is_empty() {
            let mut line = std::mem::take(&mut self.pending);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            self.line(&line, &mut events);
        }
        self.line(b"", &mut events);
        events.pop()
    }

    fn line(&mut self, line: &[u8], events: &mut Vec<SseEvent>) {
        if line.is_empty() {
            if self.has_data {
                let mut data = std::mem::take(&mut self.data);
                if data.ends_with('\n') {
                    data.pop();
                }
                events.push(SseEvent {
                    event: self.event.take(),
                    data,
                });
            }
            self.has_data = false;
            self.event = None;
            return;
        }
        if line[0] == b':' {
            return; // a comment, used as keep-alive
        }
        let text = String::from_utf8_lossy(line);
        let (field, value) = match text.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (text.as_ref(), ""),
        };
        match field {
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_owned()),
            _ => {} // `id`, `retry` and unknown fields do not matter to a one-shot response stream
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(body: &[u8], split: usize) -> Vec<SseEvent> {
        let mut decoder = SseDecoder::new();
        let mut events = decoder.feed(&body[..split]);
        events.extend(decoder.feed(&body[split..]));
        events.extend(decoder.finish());
        events
    }

    fn data(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn every_split_point_and_line_ending_gives_the_same_events() {
        for e in ["\n", "\r\n", "\r"] {
            let ending = e;
            let body = format!(
                ": keep-alive{e}data: {{\"a\":1}}{e}{e}event: x{e}data: é{e}data: two{e}{e}data: [DONE]{e}{e}"
            );
            for split in 0..=body.len() {
                let events = decode_in_pieces(body.as_bytes(), split);
                assert_eq!(
                    data(&events),
                    ["{\"a\":1}", "é\ntwo", "[DONE]"],
                    "ending {ending:?}, split {split}"
                );
                assert_eq!(events[1].event.as_deref(), Some("x"));
            }
        }
    }

    #[test]
    fn a_last_event_without_a_blank_line_is_kept_and_blank_data_is_an_event() {
        let mut decoder = SseDecoder::new();
        assert!(decoder.feed(b"data: tail").is_empty());
        assert_eq!(decoder.finish().map(|e| e.data), Some("tail".to_owned()));
        assert_eq!(data(&decode_in_pieces(b"data:\n\nid: 3\n\n", 3)), [""]);
    }
}
