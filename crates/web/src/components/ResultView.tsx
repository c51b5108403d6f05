// One query result: a table view, a chart view and its SQL — the SQL can be copied or opened in the SQL panel, and
// the whole result exported.

import { useState } from "preact/hooks";

import { download } from "../api";
import { cellText, type ChartRequest } from "../chat";
import type { Cell } from "../types";
import { Chart } from "./Chart";
import { Sql } from "../sql";

interface Props {
  sql: string;
  columns: string[];
  rows: Cell[][];
  totalRows: number | null;
  timeMs: number | null;
  charts?: ChartRequest[];
  onOpenInPanel?: (sql: string) => void;
}

const PAGE = 50;

export function ResultTable({ columns, rows, offset = 0 }: { columns: string[]; rows: Cell[][]; offset?: number }) {
  return (
    <div class="table-scroll" tabIndex={0} role="region" aria-label="Result table">
      <table class="result-table">
        <thead>
          <tr>
            <th scope="col" class="rownum">
              #
            </th>
            {columns.map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row, r) => (
            <tr key={r}>
              <td class="rownum">{offset + r + 1}</td>
              {columns.map((_, i) => {
                const cell = row[i] ?? null;
                return (
                  <td key={i} class={cell === null ? "null" : typeof cell === "number" ? "num" : ""}>
                    {cellText(cell)}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function ResultView({ sql, columns, rows, totalRows, timeMs, charts = [], onOpenInPanel }: Props) {
  const [view, setView] = useState<"table" | "chart" | "sql">(charts.length > 0 ? "chart" : "table");
  const [page, setPage] = useState(0);
  const [copied, setCopied] = useState(false);
  const pages = Math.max(1, Math.ceil(rows.length / PAGE));
  const shown = rows.slice(page * PAGE, page * PAGE + PAGE);
  const copy = async () => {
    await navigator.clipboard.writeText(sql);
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return (
    <section class="result" aria-label="Query result">
      <div class="result-bar">
        <div class="tabs" role="tablist" aria-label="Result views">
          {(["table", "chart", "sql"] as const).map((v) => (
            <button key={v} type="button" role="tab" aria-selected={view === v} class={view === v ? "tab active" : "tab"} onClick={() => setView(v)}>
              {v === "table" ? "Table" : v === "chart" ? "Chart" : "SQL"}
            </button>
          ))}
        </div>
        <span class="result-meta">
          {totalRows ?? rows.length} rows{timeMs !== null ? ` · ${Math.round(timeMs)} ms` : ""}
        </span>
        <span class="result-actions">
          <button type="button" onClick={copy}>
            {copied ? "Copied" : "Copy SQL"}
          </button>
          {onOpenInPanel && (
            <button type="button" onClick={() => onOpenInPanel(sql)}>
              Open in SQL panel
            </button>
          )}
          <button type="button" onClick={() => download("/export/csv", { columns, rows, filename: "query-results" }, "query-results.csv")}>
            Export CSV
          </button>
        </span>
      </div>
      {view === "table" && (
        <>
          <ResultTable columns={columns} rows={shown} offset={page * PAGE} />
          {pages > 1 && (
            <div class="pager">
              <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>
                Previous
              </button>
              <span>
                Page {page + 1} of {pages}
              </span>
              <button type="button" disabled={page + 1 >= pages} onClick={() => setPage(page + 1)}>
                Next
              </button>
            </div>
          )}
        </>
      )}
      {view === "chart" && <Chart spec={charts[0]?.spec ?? { chart_type: "bar" }} columns={columns} rows={rows} />}
      {view === "sql" && (
        <Sql sql={sql} />
      )}
    </section>
  );
}
