// The SQL panel: an editor with completion, Ctrl+Enter runs, paginated results, explain, generate from a question,
// save, history, export and a chart of the result.

import { useEffect, useRef, useState } from "preact/hooks";

import { problemText, useAction } from "../action";
import { del, download, get, patch, post } from "../api";
import type { SqlEditor } from "../editor";
import type { Cell, Dataset, HistoryEntry, QueryResult, SavedQuery } from "../types";
import { Chart } from "./Chart";
import { columnsOf } from "./Datasets";
import { ResultTable } from "./ResultView";

interface Props {
  conversationId: string;
  datasets: Dataset[];
  initialSql: string | null;
}

function schema(datasets: Dataset[]): Record<string, string[]> {
  const tables: Record<string, string[]> = {};
  for (const d of datasets) {
    if (d.status === "ready") tables[d.name] = columnsOf(d).map((c) => c.name);
  }
  return tables;
}

export function SqlPanel({ conversationId, datasets, initialSql }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const editor = useRef<SqlEditor | null>(null);
  const [result, setResult] = useState<QueryResult | null>(null);
  const [sqlRun, setSqlRun] = useState("");
  const [page, setPage] = useState(1);
  const { problem, setProblem, act } = useAction();
  const [info, setInfo] = useState<string | null>(null);
  const [running, setRunning] = useState(false);
  const [tab, setTab] = useState<"result" | "chart" | "history" | "saved">("result");
  const [history, setHistory] = useState<HistoryEntry[]>([]);
  const [starredOnly, setStarredOnly] = useState(false);
  const [saved, setSaved] = useState<SavedQuery[]>([]);
  const [question, setQuestion] = useState("");

  const text = () => editor.current?.text() ?? "";

  const run = async (targetPage = 1, sql = text()) => {
    if (!sql.trim()) return;
    setRunning(true);
    setProblem(null);
    try {
      const answer = await post<QueryResult>(`/conversations/${conversationId}/query`, { sql, page: targetPage, page_size: 100 });
      setResult(answer);
      setSqlRun(sql);
      setPage(targetPage);
      setTab("result");
    } catch (e) {
      setProblem(problemText(e, "The query failed."));
    } finally {
      setRunning(false);
    }
  };
  const runRef = useRef(run);
  runRef.current = run;

  useEffect(() => {
    let destroyed = false;
    import("../editor").then(({ createEditor }) => {
      if (destroyed || !host.current) return;
      editor.current = createEditor(host.current, initialSql ?? "", schema(datasets), () => runRef.current());
    });
    return () => {
      destroyed = true;
      editor.current?.destroy();
      editor.current = null;
    };
  }, [datasets.map((d) => d.name + d.status).join(",")]);

  useEffect(() => {
    if (initialSql !== null) editor.current?.set(initialSql);
  }, [initialSql]);

  const loadHistory = () =>
    get<{ history: HistoryEntry[] }>(`/query-history?limit=50${starredOnly ? "&starred=true" : ""}`)
      .then((h) => setHistory(h.history))
      .catch(() => {});
  const loadSaved = () =>
    get<{ queries: SavedQuery[] }>("/saved-queries")
      .then((s) => setSaved(s.queries))
      .catch(() => {});
  useEffect(() => {
    if (tab === "history") loadHistory();
    if (tab === "saved") loadSaved();
  }, [tab, starredOnly]);


  const explain = () =>
    act(async () => {
      const answer = await post<{ explanation: string }>(`/conversations/${conversationId}/explain-sql`, { query: text() });
      setInfo(answer.explanation);
    });
  const generate = () =>
    act(async () => {
      const answer = await post<{ sql: string; explanation?: string; validation_error?: string | null }>(
        `/conversations/${conversationId}/generate-sql`,
        { question },
      );
      editor.current?.set(answer.sql);
      setInfo(answer.validation_error ? `The query does not plan yet: ${answer.validation_error}` : answer.explanation ?? null);
    });
  const save = () =>
    act(async () => {
      const name = prompt("Name of the saved query")?.trim();
      if (!name) return;
      const folder = prompt("Folder (optional)")?.trim() ?? "";
      await post("/saved-queries", {
        name,
        query: text(),
        folder,
        result_json: result ? JSON.stringify({ columns: result.columns, rows: result.rows }) : null,
        execution_time_ms: result?.execution_time_ms ?? null,
      });
      setInfo(`Saved as “${name}”.`);
    });

  const exportAs = (format: "csv" | "xlsx" | "parquet") =>
    act(async () => {
      // The whole result: every page the server kept.
      const all: Cell[][] = [];
      const pages = result?.total_pages ?? 1;
      for (let p = 1; p <= pages; p++) {
        const part = await post<QueryResult>(`/conversations/${conversationId}/query`, { sql: sqlRun, page: p, page_size: 1000 });
        all.push(...part.rows);
        if (p >= (part.total_pages ?? 1)) break;
      }
      await download(`/export/${format}`, { columns: result?.columns ?? [], rows: all, filename: "query-results" }, `query-results.${format}`);
    });

  return (
    <aside class="panel sql-panel" aria-label="SQL panel">
      <h2>SQL</h2>
      <div class="editor" ref={host} />
      <div class="toolbar">
        <button type="button" class="primary" disabled={running} onClick={() => run()}>
          {running ? "Running…" : "Run (Ctrl+Enter)"}
        </button>
        <button type="button" onClick={explain}>
          Explain
        </button>
        <button type="button" onClick={save}>
          Save
        </button>
      </div>
      <form
        class="generate"
        onSubmit={(e) => {
          e.preventDefault();
          generate();
        }}
      >
        <label for="question">Generate SQL from a question</label>
        <input id="question" value={question} onInput={(e) => setQuestion(e.currentTarget.value)} placeholder="Top 10 customers by revenue" />
        <button type="submit" disabled={!question.trim()}>
          Generate
        </button>
      </form>
      {problem && (
        <pre class="error sql-error" role="alert">
          {problem}
        </pre>
      )}
      {info && (
        <p class="info" role="status">
          {info}
        </p>
      )}
      <div class="tabs" role="tablist">
        {(["result", "chart", "history", "saved"] as const).map((t) => (
          <button key={t} type="button" role="tab" aria-selected={tab === t} class={tab === t ? "tab active" : "tab"} onClick={() => setTab(t)}>
            {t[0]?.toUpperCase() + t.slice(1)}
          </button>
        ))}
      </div>
      {tab === "result" && result && (
        <>
          <p class="small muted">
            {result.total_rows.toLocaleString()} rows · {Math.round(result.execution_time_ms)} ms{result.limit_applied ? " · limit applied" : ""}
          </p>
          <ResultTable columns={result.columns} rows={result.rows} offset={(page - 1) * 100} />
          <div class="pager">
            <button type="button" disabled={page <= 1} onClick={() => run(page - 1, sqlRun)}>
              Previous
            </button>
            <span>
              Page {page} of {result.total_pages ?? 1}
            </span>
            <button type="button" disabled={page >= (result.total_pages ?? 1)} onClick={() => run(page + 1, sqlRun)}>
              Next
            </button>
          </div>
          <div class="toolbar">
            <button type="button" onClick={() => exportAs("csv")}>
              Export CSV
            </button>
            <button type="button" onClick={() => exportAs("xlsx")}>
              Export XLSX
            </button>
            <button type="button" onClick={() => exportAs("parquet")}>
              Export Parquet
            </button>
          </div>
        </>
      )}
      {tab === "chart" && result && <Chart spec={{ chart_type: "bar", title: "" }} columns={result.columns} rows={result.rows} />}
      {tab === "history" && (
        <div>
          <label class="inline">
            <input type="checkbox" checked={starredOnly} onChange={(e) => setStarredOnly(e.currentTarget.checked)} /> Starred only
          </label>
          <button
            type="button"
            class="small danger"
            onClick={() =>
              act(async () => {
                if (!confirm("Clear the whole query history, starred entries included?")) return;
                await del("/query-history");
                await loadHistory();
              })
            }
          >
            Clear history
          </button>
          <ul class="history">
            {history.map((h) => (
              <li key={h.id}>
                <button
                  type="button"
                  class="icon"
                  aria-label={h.is_starred ? "Unstar" : "Star"}
                  onClick={() =>
                    act(async () => {
                      await patch(`/query-history/${h.id}/star`, {});
                      await loadHistory();
                    })
                  }
                >
                  {h.is_starred ? "★" : "☆"}
                </button>
                <button type="button" class="link mono" onClick={() => editor.current?.set(h.query)}>
                  {h.query}
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
      {tab === "saved" && (
        <ul class="history">
          {saved.map((s) => (
            <li key={s.id}>
              <button type="button" class="link" onClick={() => editor.current?.set(s.query)}>
                {s.is_pinned ? "★ " : ""}
                {s.folder ? `${s.folder} / ` : ""}
                {s.name}
              </button>
              <button
                type="button"
                class="small"
                onClick={() =>
                  act(async () => {
                    const link = await post<{ share_token: string }>(`/saved-queries/${s.id}/share`);
                    const url = `${location.origin}/shared/result/${link.share_token}`;
                    await navigator.clipboard.writeText(url).catch(() => {});
                    setInfo(`Share link: ${url}`);
                  })
                }
              >
                Share
              </button>
              <button type="button" class="small" onClick={() => act(async () => (await patch(`/saved-queries/${s.id}/pin`, {}), await loadSaved()))}>
                {s.is_pinned ? "Unpin" : "Pin"}
              </button>
              <button type="button" class="small danger" onClick={() => act(async () => (await del(`/saved-queries/${s.id}`), await loadSaved()))}>
                Delete
              </button>
            </li>
          ))}
          {saved.length === 0 && <li class="muted">No saved queries</li>}
        </ul>
      )}
    </aside>
  );
}
