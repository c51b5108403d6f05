// A message as the conversation shows it: the answer's text as safe Markdown, its reasoning, each tool step (SQL,
// duration, rows, failures and corrections), its results with table, chart and SQL, follow-up chips and actions.

import { useState } from "preact/hooks";

import { type ChartRequest, executions, type LiveTurn } from "../chat";
import { Markdown } from "../markdown";
import type { Message, TraceStep } from "../types";
import { ResultView } from "./ResultView";
import { Sql } from "../sql";

interface Props {
  message: Message;
  charts: ChartRequest[];
  followups: string[];
  highlighted: boolean;
  onFollowup: (text: string) => void;
  onRedo: (id: string) => void;
  onFork: (id: string) => void;
  onDelete: (id: string) => void;
  onOpenInPanel: (sql: string) => void;
}

function Steps({ trace }: { trace: TraceStep[] }) {
  const calls = trace.filter((s): s is Extract<TraceStep, { type: "tool_call" }> => s.type === "tool_call");
  if (calls.length === 0) return null;
  return (
    <details class="steps">
      <summary>
        {calls.length} tool step{calls.length === 1 ? "" : "s"}
      </summary>
      <ol>
        {calls.map((step, i) => {
          let ok = true;
          let error = "";
          try {
            const parsed = JSON.parse(step.result) as { ok?: boolean; error?: string };
            ok = parsed.ok !== false;
            error = parsed.error ?? "";
          } catch {
            // A cut result: show it as it is.
          }
          const sql = typeof step.args.query === "string" ? step.args.query : null;
          return (
            <li key={i} class={ok ? "step" : "step failed"}>
              <strong>{step.tool}</strong> {ok ? "" : "— failed"}
              {sql && (
                <Sql sql={sql} />
              )}
              {!ok && error && <p class="step-error">{error}</p>}
            </li>
          );
        })}
      </ol>
    </details>
  );
}

export function MessageView({ message, charts, followups, highlighted, onFollowup, onRedo, onFork, onDelete, onOpenInPanel }: Props) {
  const [copied, setCopied] = useState(false);
  const runs = executions(message);
  const local = message.id.startsWith("local-");
  return (
    <article id={`m-${message.id}`} class={`message ${message.role}${highlighted ? " highlighted" : ""}`} aria-label={message.role === "user" ? "You" : "Answer"}>
      {message.role === "user" ? (
        <p class="user-text">{message.content}</p>
      ) : (
        <>
          {message.reasoning && (
            <details class="reasoning">
              <summary>Reasoning</summary>
              <p>{message.reasoning}</p>
            </details>
          )}
          {message.tool_call_trace && <Steps trace={message.tool_call_trace} />}
          <Markdown source={message.content} />
          {message.status === "stopped" && <p class="muted">Stopped.</p>}
          {message.status === "error" && message.error_message && <p class="error">{message.error_message}</p>}
          {runs.map((run, i) =>
            run.error ? (
              <details key={i} class="failed-query">
                <summary>A query failed (the model corrected it)</summary>
                <Sql sql={run.query} />
                <p class="step-error">{run.error}</p>
              </details>
            ) : run.columns && run.rows ? (
              <ResultView
                key={i}
                sql={run.query}
                columns={run.columns}
                rows={run.rows}
                totalRows={run.total_rows}
                timeMs={run.execution_time_ms}
                charts={charts.filter((c) => c.executionIndex === i)}
                onOpenInPanel={onOpenInPanel}
              />
            ) : null,
          )}
          {followups.length > 0 && (
            <div class="followups" aria-label="Suggested follow-ups">
              {followups.map((f) => (
                <button key={f} type="button" class="chip" onClick={() => onFollowup(f)}>
                  {f}
                </button>
              ))}
            </div>
          )}
        </>
      )}
      {!local && (
        <div class="message-actions">
          {message.token_count ? <span class="muted small">{message.token_count.toLocaleString()} tokens</span> : null}
          <button
            type="button"
            class="small"
            onClick={async () => {
              await navigator.clipboard.writeText(message.content);
              setCopied(true);
              setTimeout(() => setCopied(false), 1500);
            }}
          >
            {copied ? "Copied" : "Copy"}
          </button>
          {message.role === "assistant" && (
            <button type="button" class="small" onClick={() => onRedo(message.id)}>
              Redo
            </button>
          )}
          <button type="button" class="small" onClick={() => onFork(message.id)}>
            Fork from here
          </button>
          <button type="button" class="small" onClick={() => onDelete(message.id)}>
            Delete
          </button>
        </div>
      )}
    </article>
  );
}

export function LiveAnswer({ turn }: { turn: LiveTurn }) {
  return (
    <article class="message assistant live" aria-busy="true" aria-label="Answer being written">
      {turn.reasoning && (
        <details class="reasoning" open={!turn.reasoningDone}>
          <summary>Reasoning</summary>
          <p>{turn.reasoning}</p>
        </details>
      )}
      {turn.steps.length > 0 && (
        <ol class="live-steps">
          {turn.steps.map((s, i) => (
            <li key={i}>
              <strong>{s.tool}</strong>
              {s.queryNumber !== null && ` · query ${s.queryNumber}`}
              {typeof s.args.query === "string" && (
                <Sql sql={s.args.query} />
              )}
            </li>
          ))}
        </ol>
      )}
      <Markdown source={turn.content} />
    </article>
  );
}
