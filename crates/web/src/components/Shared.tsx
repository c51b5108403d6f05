// The public pages: a shared conversation (read-only, charts drawn) and a shared query result. No session needed.

import { useEffect, useState } from "preact/hooks";

import { ApiError, get } from "../api";
import { chartsFromTrace, executions } from "../chat";
import { Markdown } from "../markdown";
import type { Cell, Message } from "../types";
import { ResultTable, ResultView } from "./ResultView";
import { Sql } from "../sql";

function useLoad<T>(path: string): [T | null, string | null] {
  const [value, setValue] = useState<T | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    get<T>(path)
      .then(setValue)
      .catch((e: unknown) => setProblem(e instanceof ApiError ? e.message : "This page cannot be loaded."));
  }, [path]);
  return [value, problem];
}

export function SharedConversation({ token }: { token: string }) {
  const [shared, problem] = useLoad<{ title: string; messages: Message[]; shared_at: string | null }>(`/shared/${encodeURIComponent(token)}`);
  return (
    <main class="public-page">
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      {shared && (
        <>
          <h1>{shared.title || "Shared conversation"}</h1>
          <p class="muted small">Read-only copy shared from Tabletalk.</p>
          {shared.messages.map((m) => (
            <article key={m.id} class={`message ${m.role}`} aria-label={m.role === "user" ? "Question" : "Answer"}>
              {m.role === "user" ? <p class="user-text">{m.content}</p> : <Markdown source={m.content} />}
              {executions(m).map((run, i) =>
                run.columns && run.rows ? (
                  <ResultView
                    key={i}
                    sql={run.query}
                    columns={run.columns}
                    rows={run.rows}
                    totalRows={run.total_rows}
                    timeMs={run.execution_time_ms}
                    charts={chartsFromTrace(m).filter((c) => c.executionIndex === i)}
                  />
                ) : null,
              )}
            </article>
          ))}
        </>
      )}
      {!shared && !problem && <p role="status">Loading…</p>}
    </main>
  );
}

export function SharedResult({ token }: { token: string }) {
  const [shared, problem] = useLoad<{ name: string; query: string; result_data: { columns?: string[]; rows?: Cell[][] } | null }>(
    `/api/shared/result/${encodeURIComponent(token)}`,
  );
  return (
    <main class="public-page">
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      {shared && (
        <>
          <h1>{shared.name}</h1>
          <Sql sql={shared.query} />
          {shared.result_data?.columns && shared.result_data.rows ? (
            <ResultTable columns={shared.result_data.columns} rows={shared.result_data.rows} />
          ) : (
            <p class="muted">No result was saved with this query.</p>
          )}
        </>
      )}
      {!shared && !problem && <p role="status">Loading…</p>}
    </main>
  );
}
