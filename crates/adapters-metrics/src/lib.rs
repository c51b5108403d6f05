//! Tabletalk's metrics adapter: the telemetry port recorded in a Prometheus registry of this server's own (no
//! process-global state, so every app in a test process counts apart) and rendered in the Prometheus text format by
//! the `prometheus` crate. The metric names and labels are listed in docs/operations.md, "Metrics".
//!
//! Imports `tabletalk-ports` and `prometheus` only: never the domain, http-api or another adapter.

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};
use tabletalk_ports::{
    CallKind, FetchKind, Gauges, LlmCallEnd, QueryEnd, QueryOrigin, Telemetry, TurnEnd,
};

/// Seconds; from a quick API answer to a slow query.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Seconds; a chat turn is one or more model calls and queries.
const TURN_BUCKETS: &[f64] = &[0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0];

/// Every metric of docs/operations.md, "Metrics", in one registry.
#[derive(Debug, Clone)]
pub struct PrometheusTelemetry {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    turns: IntCounterVec,
    turn_duration: HistogramVec,
    llm_calls: IntCounterVec,
    llm_tokens: IntCounterVec,
    queries: IntCounterVec,
    query_duration: HistogramVec,
    queue_depth: IntGauge,
    queries_running: IntGauge,
    file_cache_bytes: IntGauge,
    fetch_bytes: IntCounterVec,
    websockets: IntGauge,
    ws_dropped: IntCounterVec,
}

fn counter(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    let metric = IntCounterVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> prometheus::Result<HistogramVec> {
    let metric = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

fn gauge(registry: &Registry, name: &str, help: &str) -> prometheus::Result<IntGauge> {
    let metric = IntGauge::new(name, help)?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

impl PrometheusTelemetry {
    /// A registry with every metric registered and at zero.
    ///
    /// # Errors
    /// Only for an invalid metric definition (a programming error the tests catch).
    pub fn new() -> prometheus::Result<Self> {
        let r = Registry::new();
        Ok(Self {
            http_requests: counter(
                &r,
                "tabletalk_http_requests_total",
                "HTTP requests by method, matched route and status.",
                &["method", "route", "status"],
            )?,
            http_duration: histogram(
                &r,
                "tabletalk_http_request_duration_seconds",
                "HTTP request latency by method and matched route.",
                &["method", "route"],
                LATENCY_BUCKETS,
            )?,
            turns: counter(
                &r,
                "tabletalk_chat_turns_total",
                "Chat turns by how they ended.",
                &["outcome"],
            )?,
            turn_duration: histogram(
                &r,
                "tabletalk_chat_turn_duration_seconds",
                "Chat turn duration, from accepted message to stored answer.",
                &[],
                TURN_BUCKETS,
            )?,
            llm_calls: counter(
                &r,
                "tabletalk_llm_calls_total",
                "Model calls (after retries) by provider, kind and outcome.",
                &["provider", "kind", "outcome"],
            )?,
            llm_tokens: counter(
                &r,
                "tabletalk_llm_tokens_total",
                "Tokens recorded by provider, model, direction and kind.",
                &["provider", "model", "direction", "kind"],
            )?,
            queries: counter(
                &r,
                "tabletalk_queries_total",
                "SQL queries by source and outcome.",
                &["source", "outcome"],
            )?,
            query_duration: histogram(
                &r,
                "tabletalk_query_duration_seconds",
                "SQL query wall time by source, cache hits included.",
                &["source"],
                LATENCY_BUCKETS,
            )?,
            queue_depth: gauge(
                &r,
                "tabletalk_query_queue_depth",
                "Queries waiting for a slot.",
            )?,
            queries_running: gauge(&r, "tabletalk_queries_running", "Queries running now.")?,
            file_cache_bytes: gauge(
                &r,
                "tabletalk_file_cache_bytes",
                "Bytes of dataset files in the file cache.",
            )?,
            fetch_bytes: counter(
                &r,
                "tabletalk_fetch_bytes_total",
                "Dataset bytes received from remote servers by kind of read.",
                &["kind"],
            )?,
            websockets: gauge(
                &r,
                "tabletalk_ws_connections",
                "Open WebSocket connections.",
            )?,
            ws_dropped: counter(
                &r,
                "tabletalk_ws_events_dropped_total",
                "Events not delivered to a WebSocket, by reason.",
                &["reason"],
            )?,
            registry: r,
        })
    }
}

#[expect(
    clippy::cast_possible_wrap,
    reason = "gauges of queue sizes far below i64::MAX"
)]
const fn as_gauge(value: usize) -> i64 {
    value as i64
}

impl Telemetry for PrometheusTelemetry {
    fn http_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.http_requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.http_duration
            .with_label_values(&[method, route])
            .observe(elapsed.as_secs_f64());
    }

    fn turn_finished(&self, end: TurnEnd, elapsed: Option<Duration>) {
        self.turns.with_label_values(&[end.as_str()]).inc();
        if let Some(elapsed) = elapsed {
            self.turn_duration
                .with_label_values::<&str>(&[])
                .observe(elapsed.as_secs_f64());
        }
    }

    fn llm_call(&self, provider: &str, kind: CallKind, end: LlmCallEnd) {
        self.llm_calls
            .with_label_values(&[provider, kind.as_str(), end.as_str()])
            .inc();
    }

    fn llm_tokens(&self, provider: &str, model: &str, kind: CallKind, input: u64, output: u64) {
        for (direction, tokens) in [("input", input), ("output", output)] {
            self.llm_tokens
                .with_label_values(&[provider, model, direction, kind.as_str()])
                .inc_by(tokens);
        }
    }

    fn query_finished(&self, origin: QueryOrigin, end: QueryEnd, elapsed: Duration) {
        self.queries
            .with_label_values(&[origin.as_str(), end.as_str()])
            .inc();
        self.query_duration
            .with_label_values(&[origin.as_str()])
            .observe(elapsed.as_secs_f64());
    }

    fn fetched(&self, kind: FetchKind, bytes: u64) {
        self.fetch_bytes
            .with_label_values(&[kind.as_str()])
            .inc_by(bytes);
    }

    fn websockets_changed(&self, delta: i64) {
        self.websockets.add(delta);
    }

    fn websocket_events_dropped(&self, reason: &'static str, count: u64) {
        self.ws_dropped.with_label_values(&[reason]).inc_by(count);
    }

    fn render(&self, gauges: Gauges) -> String {
        self.queue_depth.set(as_gauge(gauges.queries_queued));
        self.queries_running.set(as_gauge(gauges.queries_running));
        self.file_cache_bytes
            .set(i64::try_from(gauges.file_cache_bytes).unwrap_or(i64::MAX));
        let mut text = Vec::new();
        // Encoding into memory fails only for a metric family the registry itself refuses to hold.
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut text) {
            return format!("# encoding failed: {error}\n");
        }
        String::from_utf8(text).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_exposed_with_its_labels() {
        let telemetry = PrometheusTelemetry::new().unwrap();
        telemetry.http_request("GET", "/conversations/{id}", 200, Duration::from_millis(3));
        telemetry.turn_finished(TurnEnd::Complete, Some(Duration::from_secs(2)));
        telemetry.turn_finished(TurnEnd::Refused, None);
        telemetry.llm_call("gemini", CallKind::Chat, LlmCallEnd::Success);
        telemetry.llm_tokens("gemini", "m", CallKind::ExplainSql, 10, 4);
        telemetry.query_finished(QueryOrigin::Llm, QueryEnd::Cached, Duration::ZERO);
        telemetry.fetched(FetchKind::Range, 4096);
        telemetry.websockets_changed(1);
        telemetry.websocket_events_dropped("queue_full", 2);
        let text = telemetry.render(Gauges {
            queries_queued: 3,
            queries_running: 2,
            file_cache_bytes: 4096,
        });
        for line in [
            "tabletalk_http_requests_total{method=\"GET\",route=\"/conversations/{id}\",status=\"200\"} 1",
            "tabletalk_http_request_duration_seconds_count{method=\"GET\",route=\"/conversations/{id}\"} 1",
            "tabletalk_chat_turns_total{outcome=\"refused\"} 1",
            "tabletalk_chat_turn_duration_seconds_count 1",
            "tabletalk_llm_calls_total{kind=\"chat\",outcome=\"success\",provider=\"gemini\"} 1",
            "tabletalk_llm_tokens_total{direction=\"output\",kind=\"explain_sql\",model=\"m\",provider=\"gemini\"} 4",
            "tabletalk_queries_total{outcome=\"cached\",source=\"llm\"} 1",
            "tabletalk_query_queue_depth 3",
            "tabletalk_queries_running 2",
            "tabletalk_file_cache_bytes 4096",
            "tabletalk_fetch_bytes_total{kind=\"range\"} 4096",
            "tabletalk_ws_connections 1",
            "tabletalk_ws_events_dropped_total{reason=\"queue_full\"} 2",
        ] {
            assert!(text.contains(line), "missing `{line}` in\n{text}");
        }
    }
}
