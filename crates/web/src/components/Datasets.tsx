// The conversation's datasets: add by URL (with download progress) or upload (drag and drop, with a progress bar and
// the size limit), and for each one its status, schema with editable descriptions, a preview, rename, refresh and
// remove.

import { useEffect, useState } from "preact/hooks";

import { useAction } from "../action";
import { del, get, patch, post, upload } from "../api";
import type { Capabilities, Cell, Column, Dataset } from "../types";
import { ResultTable } from "./ResultView";

interface Props {
  conversationId: string;
  datasets: Dataset[];
  progress: Record<string, number>;
  onChanged: () => void;
}

/** The columns a dataset's `schema_json` describes (none when it does not read). */
export function columnsOf(dataset: Dataset): Column[] {
  try {
    return JSON.parse(dataset.schema_json) as Column[];
  } catch {
    return [];
  }
}

function size(bytes: number): string {
  if (bytes >= 1 << 30) return `${(bytes / (1 << 30)).toFixed(1)} GiB`;
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(0)} MiB`;
  return `${Math.ceil(bytes / 1024)} KiB`;
}

export function Datasets({ conversationId, datasets, progress, onChanged }: Props) {
  const base = `/conversations/${conversationId}/datasets`;
  const [url, setUrl] = useState("");
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [uploading, setUploading] = useState<number | null>(null);
  const { problem, setProblem, act } = useAction(onChanged);
  const [limit, setLimit] = useState<number | null>(null);
  const [dragging, setDragging] = useState(false);

  useEffect(() => {
    get<Capabilities>("/capabilities")
      .then((c) => setLimit(c.limits.max_upload_bytes))
      .catch(() => {});
  }, []);


  const add = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    await act(async () => {
      await post(base, name.trim() ? { url: url.trim(), name: name.trim() } : { url: url.trim() });
      setUrl("");
      setName("");
    });
    setBusy(false);
  };

  const send = async (file: File) => {
    if (limit !== null && file.size > limit) {
      setProblem(`That file is ${size(file.size)}; uploads may be at most ${size(limit)}.`);
      return;
    }
    setUploading(0);
    await act(() => upload(`${base}/upload`, file, setUploading));
    setUploading(null);
  };

  const loadingProgress = Object.entries(progress).filter(([, p]) => p < 1);

  return (
    <aside class="panel datasets" aria-label="Datasets">
      <h2>Datasets</h2>
      <form onSubmit={add} class="add-url">
        <label for="dataset-url">Add by URL</label>
        <input id="dataset-url" type="url" placeholder="https://…/data.parquet" value={url} onInput={(e) => setUrl(e.currentTarget.value)} required />
        <label for="dataset-name">Table name (optional)</label>
        <input id="dataset-name" value={name} onInput={(e) => setName(e.currentTarget.value)} pattern="[A-Za-z_][A-Za-z0-9_]{0,62}" />
        <button type="submit" class="primary" disabled={busy || !url.trim()}>
          {busy ? "Adding…" : "Add"}
        </button>
      </form>
      {loadingProgress.map(([u, p]) => (
        <div key={u} class="progress">
          <span class="small">{u}</span>
          <progress max={1} value={p} aria-label={`Downloading ${u}`} />
        </div>
      ))}
      <label
        class={dragging ? "dropzone dragging" : "dropzone"}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => {
          e.preventDefault();
          setDragging(false);
          const file = e.dataTransfer?.files[0];
          if (file) send(file);
        }}
      >
        <input
          type="file"
          class="visually-hidden"
          accept=".parquet,.pq,.csv,.tsv,.ndjson,.jsonl,.gz"
          onChange={(e) => {
            const file = e.currentTarget.files?.[0];
            if (file) send(file);
            e.currentTarget.value = "";
          }}
        />
        Drop a Parquet, CSV, TSV or NDJSON file here, or choose one{limit !== null ? ` (up to ${size(limit)})` : ""}.
      </label>
      {uploading !== null && <progress max={1} value={uploading} aria-label="Uploading" />}
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      <ul class="dataset-cards">
        {datasets.map((d) => (
          <DatasetCard key={d.id} base={base} dataset={d} act={act} />
        ))}
      </ul>
    </aside>
  );
}

function DatasetCard({ base, dataset, act }: { base: string; dataset: Dataset; act: (work: () => Promise<unknown>) => Promise<boolean> }) {
  const [preview, setPreview] = useState<{ columns: string[]; rows: Cell[][] } | null>(null);
  const [renaming, setRenaming] = useState(false);
  const [profile, setProfile] = useState<{ column: string; stats: ColumnStats } | null>(null);
  const columns = columnsOf(dataset);
  let descriptions: Record<string, string> = {};
  try {
    descriptions = JSON.parse(dataset.column_descriptions || "{}") as Record<string, string>;
  } catch {
    descriptions = {};
  }
  const path = `${base}/${dataset.id}`;
  return (
    <li class={`dataset-card ${dataset.status}`}>
      <header>
        {renaming ? (
          <input
            aria-label="Table name"
            defaultValue={dataset.name}
            autoFocus
            onBlur={() => setRenaming(false)}
            onKeyDown={(e) => {
              if (e.key === "Escape") setRenaming(false);
              if (e.key === "Enter") {
                const tableName = e.currentTarget.value.trim();
                setRenaming(false);
                if (tableName && tableName !== dataset.name) act(() => patch(path, { tableName }));
              }
            }}
          />
        ) : (
          <strong>{dataset.name}</strong>
        )}
        <span class={`status ${dataset.status}`}>{dataset.status}</span>
      </header>
      <p class="small muted url">{dataset.url}</p>
      {dataset.status === "error" && <p class="error">{dataset.error_message}</p>}
      {dataset.status === "ready" && (
        <p class="small">
          {dataset.row_count.toLocaleString()} rows · {dataset.column_count} columns
        </p>
      )}
      {columns.length > 0 && (
        <details>
          <summary>Schema</summary>
          <table class="schema">
            <thead>
              <tr>
                <th scope="col">Column</th>
                <th scope="col">Type</th>
                <th scope="col">Description</th>
                <th scope="col">
                  <span class="visually-hidden">Profile</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {columns.map((c) => (
                <tr key={c.name}>
                  <td>{c.name}</td>
                  <td class="muted">{c.type}</td>
                  <td>
                    <input
                      aria-label={`Description of ${c.name}`}
                      defaultValue={descriptions[c.name] ?? ""}
                      maxLength={500}
                      onChange={(e) => {
                        const next = { ...descriptions, [c.name]: e.currentTarget.value };
                        act(() => patch(`${path}/column-descriptions`, { descriptions: next }));
                      }}
                    />
                  </td>
                  <td>
                    {dataset.status === "ready" && (
                      <button
                        type="button"
                        class="small"
                        aria-label={`Profile ${c.name}`}
                        onClick={() =>
                          act(async () => {
                            const answer = await post<{ stats: ColumnStats }>(`${path}/profile-column`, { column_name: c.name });
                            setProfile({ column: c.name, stats: answer.stats });
                          })
                        }
                      >
                        Profile
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
      <div class="card-actions">
        {dataset.status === "ready" && (
          <>
            <button type="button" class="small" onClick={() => act(async () => setPreview(await post(`${path}/preview?sample_size=10&sample_method=head`)))}>
              Preview
            </button>
            <button type="button" class="small" onClick={() => act(async () => setPreview(await post(`${path}/preview?sample_size=10&sample_method=random`)))}>
              Random rows
            </button>
          </>
        )}
        <button type="button" class="small" onClick={() => setRenaming(true)}>
          Rename
        </button>
        {dataset.source !== "upload" && (
          <button type="button" class="small" onClick={() => act(() => post(`${path}/refresh`))}>
            Refresh
          </button>
        )}
        <button type="button" class="small danger" onClick={() => act(() => del(path))}>
          Remove
        </button>
      </div>
      {profile && <ColumnProfile column={profile.column} stats={profile.stats} rows={dataset.row_count} />}
      {preview && <ResultTable columns={preview.columns} rows={preview.rows} />}
    </li>
  );
}

interface ColumnStats {
  null_count: number;
  distinct_count: number;
  min?: Cell;
  max?: Cell;
  mean?: number | null;
  median?: Cell;
  min_length?: Cell;
  max_length?: Cell;
  top_5_values?: { value: Cell; count: number }[];
  histogram?: { lower: number; upper: number; count: number }[];
}

/** A bin edge short enough for a label: whole numbers as they are, others to three significant digits. */
function edge(value: number): string {
  return Number.isInteger(value) ? value.toLocaleString() : value.toLocaleString(undefined, { maximumSignificantDigits: 3 });
}

/** Equal-width bins of a numeric column as vertical bars; each bar names its range and count for screen readers. */
function Distribution({ bins }: { bins: { lower: number; upper: number; count: number }[] }) {
  const most = Math.max(1, ...bins.map((b) => b.count));
  const single = (b: { lower: number; upper: number }) => b.upper - b.lower <= 1 && Number.isInteger(b.lower);
  return (
    <figure class="distribution">
      <ol aria-label="Distribution of values">
        {bins.map((b, i) => {
          const range = single(b) ? edge(b.lower) : `${edge(b.lower)} to ${edge(b.upper)}`;
          return (
            <li key={i} title={`${range}: ${b.count.toLocaleString()}`}>
              <span class="column-bar" style={{ height: `${Math.max(2, (b.count / most) * 100)}%` }} />
              <span class="visually-hidden">
                {range}: {b.count.toLocaleString()}
              </span>
            </li>
          );
        })}
      </ol>
      {bins.length > 0 && (
        <figcaption class="muted small">
          <span>{edge(bins[0]?.lower ?? 0)}</span>
          <span>{edge(bins[bins.length - 1]?.upper ?? 0)}</span>
        </figcaption>
      )}
    </figure>
  );
}

/** One column's statistics: counts, the range, and a small histogram (of the values' range, or of the most frequent). */
function ColumnProfile({ column, stats, rows }: { column: string; stats: ColumnStats; rows: number }) {
  const top = stats.top_5_values ?? [];
  const most = Math.max(1, ...top.map((t) => t.count));
  const fact = (label: string, value: Cell | undefined) =>
    value === undefined || value === null ? null : (
      <>
        <dt>{label}</dt>
        <dd>{typeof value === "number" ? value.toLocaleString() : String(value)}</dd>
      </>
    );
  return (
    <section class="column-profile" aria-label={`Profile of ${column}`}>
      <h3>{column}</h3>
      <dl>
        {fact("Nulls", stats.null_count)}
        {fact("Distinct", stats.distinct_count)}
        {fact("Min", stats.min)}
        {fact("Median", stats.median)}
        {fact("Mean", stats.mean === null || stats.mean === undefined ? undefined : Math.round(stats.mean * 1000) / 1000)}
        {fact("Max", stats.max)}
        {fact("Shortest", stats.min_length)}
        {fact("Longest", stats.max_length)}
      </dl>
      {stats.histogram && stats.histogram.length > 1 && <Distribution bins={stats.histogram} />}
      {top.length > 0 && (
        <ul class="histogram" aria-label="Most frequent values">
          {top.map((t) => (
            <li key={String(t.value)}>
              <span class="bar-label">{t.value === null ? "NULL" : String(t.value)}</span>
              <span class="bar" style={{ width: `${(t.count / most) * 100}%` }} />
              <span class="bar-count">
                {t.count.toLocaleString()}
                {rows > 0 ? ` (${Math.round((t.count / rows) * 100)}%)` : ""}
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
