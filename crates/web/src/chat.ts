// A conversation's chat state and how each WebSocket event changes it: pure functions, unit-tested, so the UI only
// renders what these return.

import type { Cell, Message, ServerEvent, SqlExecution, TraceStep } from "./types";

/** A tool call as the UI shows it while the answer streams. */
export interface LiveStep {
  tool: string;
  args: Record<string, unknown>;
  queryNumber: number | null;
}

export interface ChartRequest {
  executionIndex: number;
  spec: Record<string, unknown>;
}

/** The answer being written right now. */
export interface LiveTurn {
  messageId: string;
  content: string;
  reasoning: string;
  reasoningDone: boolean;
  steps: LiveStep[];
}

export interface ChatView {
  conversationId: string;
  title: string;
  messages: Message[];
  live: LiveTurn | null;
  /** Charts by message id (from `chart_spec` while streaming, from the trace after a reload). */
  charts: Record<string, ChartRequest[]>;
  followups: Record<string, string[]>;
  /** The last turn's failure, shown until the next send. */
  error: string | null;
}

export function emptyView(conversationId: string, title = "", messages: Message[] = []): ChatView {
  const charts: Record<string, ChartRequest[]> = {};
  for (const message of messages) {
    const stored = chartsFromTrace(message);
    if (stored.length > 0) charts[message.id] = stored;
  }
  return { conversationId, title, messages, live: null, charts, followups: {}, error: null };
}

function live(view: ChatView, messageId: string): LiveTurn {
  if (view.live && view.live.messageId === messageId) return view.live;
  return { messageId, content: "", reasoning: "", reasoningDone: false, steps: [] };
}

/** The view after `event`; events of other conversations leave it as it is. */
export function applyEvent(view: ChatView, event: ServerEvent): ChatView {
  if ("conversation_id" in event && event.conversation_id && event.conversation_id !== view.conversationId) return view;
  switch (event.type) {
    case "chat_token": {
      const turn = live(view, event.message_id);
      return { ...view, error: null, live: { ...turn, content: turn.content + event.token } };
    }
    case "reasoning_token": {
      const turn = live(view, event.message_id);
      return { ...view, live: { ...turn, reasoning: turn.reasoning + event.token } };
    }
    case "reasoning_complete": {
      const turn = live(view, event.message_id);
      return { ...view, live: { ...turn, reasoningDone: true } };
    }
    case "tool_call_start": {
      const turn = live(view, event.message_id);
      return { ...view, live: { ...turn, steps: [...turn.steps, { tool: event.tool, args: event.args, queryNumber: null }] } };
    }
    case "query_progress": {
      const turn = live(view, event.message_id);
      const steps = turn.steps.slice();
      const last = steps[steps.length - 1];
      if (last) steps[steps.length - 1] = { ...last, queryNumber: event.query_number };
      return { ...view, live: { ...turn, steps } };
    }
    case "chart_spec": {
      const existing = view.charts[event.message_id] ?? [];
      return {
        ...view,
        charts: { ...view.charts, [event.message_id]: [...existing, { executionIndex: event.execution_index, spec: event.spec }] },
      };
    }
    case "followup_suggestions":
      return { ...view, followups: { ...view.followups, [event.message_id]: event.suggestions } };
    case "chat_complete": {
      const message: Message = {
        id: event.message_id,
        role: "assistant",
        content: event.content,
        status: event.status ?? "complete",
        sql_query: event.sql_query,
        reasoning: event.reasoning,
        tool_call_trace: event.tool_call_trace,
        input_tokens: event.input_tokens ?? null,
        output_tokens: event.output_tokens ?? null,
        token_count: event.token_count ?? null,
        created_at: new Date().toISOString(),
      };
      const messages = view.messages.filter((m) => m.id !== message.id).concat(message);
      return { ...view, messages, live: null };
    }
    case "chat_error":
      return { ...view, live: null, error: event.error };
    case "conversation_title_updated":
      return { ...view, title: event.title };
    default:
      return view;
  }
}

/** A user message shown at once, before the server's copy arrives with the next reload. */
export function withSentMessage(view: ChatView, content: string): ChatView {
  const message: Message = {
    id: "local-" + Math.random().toString(36).slice(2),
    role: "user",
    content,
    sql_query: null,
    reasoning: null,
    tool_call_trace: null,
    created_at: new Date().toISOString(),
  };
  return { ...view, messages: [...view.messages, message], error: null };
}

/** The SQL executions stored with an answer (`sql_query` is a JSON-encoded array). */
export function executions(message: Pick<Message, "sql_query">): SqlExecution[] {
  if (!message.sql_query) return [];
  try {
    const parsed: unknown = JSON.parse(message.sql_query);
    return Array.isArray(parsed) ? (parsed as SqlExecution[]) : [];
  } catch {
    return [];
  }
}

/** Charts a stored answer drew: each successful `create_chart` call, on the latest result before it. */
export function chartsFromTrace(message: Message): ChartRequest[] {
  const charts: ChartRequest[] = [];
  let latestSuccess = -1;
  let queries = 0;
  for (const step of message.tool_call_trace ?? []) {
    if (step.type !== "tool_call") continue;
    const ok = resultOk(step);
    if (step.tool === "execute_sql") {
      if (ok) latestSuccess = queries;
      queries += 1;
    } else if (step.tool === "create_chart" && ok && latestSuccess >= 0) {
      charts.push({ executionIndex: latestSuccess, spec: step.args });
    }
  }
  return charts;
}

function resultOk(step: Extract<TraceStep, { type: "tool_call" }>): boolean {
  try {
    return (JSON.parse(step.result) as { ok?: unknown }).ok === true;
  } catch {
    return step.result.includes('"ok":true') || step.result.includes('"ok": true');
  }
}

/** Seconds as "3 h 20 min" / "45 min" / "30 s", for budget resets. */
export function untilReset(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  if (hours > 0) return minutes > 0 ? `${hours} h ${minutes} min` : `${hours} h`;
  if (minutes > 0) return `${minutes} min`;
  return `${s} s`;
}

/** A result cell as text (docs/api.md, "Result cells"). */
export function cellText(cell: Cell): string {
  if (cell === null) return "NULL";
  if (typeof cell === "boolean") return cell ? "true" : "false";
  return String(cell);
}

/** Reconnect delay: doubling from 0.5 s up to 15 s, with jitter so clients do not reconnect together. */
export function backoff(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(15_000, 500 * 2 ** Math.max(0, attempt));
  return Math.round(base * (0.75 + random() * 0.5));
}
