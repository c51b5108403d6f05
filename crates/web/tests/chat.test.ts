import { describe, expect, it } from "vitest";

import { applyEvent, backoff, cellText, chartsFromTrace, emptyView, executions, untilReset, withSentMessage } from "../src/chat";
import type { Message, ServerEvent } from "../src/types";

const conversation = "c1";
const ev = (event: Record<string, unknown>) => ({ conversation_id: conversation, message_id: "m1", ...event }) as ServerEvent;

function answer(overrides: Partial<Message> = {}): Message {
  return {
    id: "m0",
    role: "assistant",
    content: "Done",
    sql_query: null,
    reasoning: null,
    tool_call_trace: null,
    created_at: "2026-12-02T00:00:00Z",
    ...overrides,
  };
}

describe("a streamed turn", () => {
  it("accumulates tokens, reasoning and steps, then becomes one stored answer", () => {
    let view = emptyView(conversation);
    view = withSentMessage(view, "How many?");
    for (const event of [
      ev({ type: "reasoning_token", token: "Let me " }),
      ev({ type: "reasoning_token", token: "count." }),
      ev({ type: "reasoning_complete" }),
      ev({ type: "tool_call_start", tool: "execute_sql", args: { query: "SELECT 1" } }),
      ev({ type: "query_progress", query_number: 1 }),
      ev({ type: "chat_token", token: "There are " }),
      ev({ type: "chat_token", token: "3." }),
      ev({ type: "chart_spec", execution_index: 0, spec: { chart_type: "bar" } }),
      ev({ type: "followup_suggestions", suggestions: ["Why?"] }),
    ]) {
      view = applyEvent(view, event);
    }
    expect(view.live).toEqual({
      messageId: "m1",
      content: "There are 3.",
      reasoning: "Let me count.",
      reasoningDone: true,
      steps: [{ tool: "execute_sql", args: { query: "SELECT 1" }, queryNumber: 1 }],
    });
    view = applyEvent(view, ev({ type: "chat_complete", content: "There are 3.", sql_query: "[]", reasoning: "Let me count.", tool_call_trace: [], token_count: 42 }));
    expect(view.live).toBeNull();
    expect(view.messages.map((m) => [m.role, m.content])).toEqual([
      ["user", "How many?"],
      ["assistant", "There are 3."],
    ]);
    expect(view.messages[1]?.token_count).toBe(42);
    expect(view.charts.m1).toEqual([{ executionIndex: 0, spec: { chart_type: "bar" } }]);
    expect(view.followups.m1).toEqual(["Why?"]);
  });

  it("ignores other conversations, ends on errors and follows title updates", () => {
    let view = emptyView(conversation);
    view = applyEvent(view, { type: "chat_token", conversation_id: "other", message_id: "x", token: "no" });
    expect(view.live).toBeNull();
    view = applyEvent(view, ev({ type: "chat_token", token: "partial" }));
    view = applyEvent(view, ev({ type: "chat_error", error: "The AI service is busy" }));
    expect(view.live).toBeNull();
    expect(view.error).toBe("The AI service is busy");
    view = applyEvent(view, { type: "conversation_title_updated", conversation_id: conversation, title: "Sales" });
    expect(view.title).toBe("Sales");
  });

  it("a repeated chat_complete replaces, never duplicates, the answer", () => {
    let view = emptyView(conversation);
    const done = ev({ type: "chat_complete", content: "A", sql_query: null, reasoning: null, tool_call_trace: null });
    view = applyEvent(applyEvent(view, done), done);
    expect(view.messages).toHaveLength(1);
  });
});

describe("stored answers", () => {
  it("read their executions and the charts their trace drew", () => {
    const message = answer({
      sql_query: JSON.stringify([{ query: "SELECT 1", columns: ["a"], rows: [[1]], total_rows: 1, error: null, execution_time_ms: 2 }]),
      tool_call_trace: [
        { type: "tool_call", tool: "execute_sql", args: { query: "SELEC" }, result: '{"ok":false,"error":"syntax"}' },
        { type: "tool_call", tool: "execute_sql", args: { query: "SELECT 1" }, result: '{"ok":true}' },
        { type: "tool_call", tool: "create_chart", args: { chart_type: "line" }, result: '{"ok":true}' },
        { type: "tool_call", tool: "create_chart", args: { chart_type: "pie" }, result: '{"ok":false}' },
      ],
    });
    expect(executions(message)).toHaveLength(1);
    expect(chartsFromTrace(message)).toEqual([{ executionIndex: 1, spec: { chart_type: "line" } }]);
    expect(executions(answer({ sql_query: "not json" }))).toEqual([]);
    expect(emptyView(conversation, "t", [message]).charts.m0).toHaveLength(1);
  });
});

describe("helpers", () => {
  it("word resets, cells and reconnect delays", () => {
    expect(untilReset(3 * 3600 + 20 * 60)).toBe("3 h 20 min");
    expect(untilReset(45 * 60)).toBe("45 min");
    expect(untilReset(30)).toBe("30 s");
    expect(cellText(null)).toBe("NULL");
    expect(cellText(false)).toBe("false");
    expect(cellText("9007199254740993")).toBe("9007199254740993");
    expect(backoff(0, () => 0.5)).toBe(500);
    expect(backoff(3, () => 0.5)).toBe(4000);
    expect(backoff(20, () => 0.5)).toBe(15000);
    expect(backoff(1, () => 0)).toBe(750);
  });
});
