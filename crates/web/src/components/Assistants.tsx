// Assistants: the caller's own and the shared ones; create, edit (owner only), share, delete. An assistant is a
// reusable setup — instructions, model, temperature, tools, datasets — that a new chat can start from.

import { useEffect, useState } from "preact/hooks";

import { useAction } from "../action";
import { del, get, patch, post, put } from "../api";
import type { Assistant, Capabilities } from "../types";
import { Dialog } from "./Dialog";

interface Draft {
  name: string;
  description: string;
  instructions: string;
  model: string;
  temperature: string;
  tools: string[] | null;
  datasets: string;
}

const blank: Draft = { name: "", description: "", instructions: "", model: "", temperature: "", tools: null, datasets: "" };

function draftOf(a: Assistant): Draft {
  return {
    name: a.name,
    description: a.description,
    instructions: a.instructions,
    model: a.model ?? "",
    temperature: a.temperature === null ? "" : String(a.temperature),
    tools: a.tools,
    datasets: a.datasets.map((d) => (d.name ? `${d.name} ${d.url}` : d.url)).join("\n"),
  };
}

/** One dataset per line: `URL` or `table_name URL`. */
function datasetsOf(text: string): { url: string; name?: string }[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [first, second] = line.split(/\s+/, 2);
      return second ? { name: first ?? "", url: second } : { url: first ?? "" };
    });
}

export function Assistants({ onClose, onStart }: { onClose: () => void; onStart: (id: string) => void }) {
  const [list, setList] = useState<Assistant[]>([]);
  const [capabilities, setCapabilities] = useState<Capabilities | null>(null);
  const [editing, setEditing] = useState<{ id: string | null; draft: Draft } | null>(null);
  const { problem, setProblem, act } = useAction(() => load());

  const load = () =>
    get<{ assistants: Assistant[] }>("/assistants")
      .then((r) => setList(r.assistants))
      .catch(() => setProblem("Could not load the assistants."));
  useEffect(() => {
    load();
    get<Capabilities>("/capabilities").then(setCapabilities).catch(() => {});
  }, []);


  const save = async () => {
    if (!editing) return;
    const d = editing.draft;
    const body = {
      name: d.name,
      description: d.description,
      instructions: d.instructions,
      model: d.model || null,
      temperature: d.temperature.trim() === "" ? null : Number(d.temperature),
      tools: d.tools,
      datasets: datasetsOf(d.datasets),
    };
    const ok = await act(() => (editing.id ? patch(`/assistants/${editing.id}`, body) : post("/assistants", body)));
    if (ok) setEditing(null);
  };

  const set = (change: Partial<Draft>) => editing && setEditing({ ...editing, draft: { ...editing.draft, ...change } });

  return (
    <Dialog title="Assistants" onClose={onClose}>
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      {editing ? (
        <form
          class="assistant-form"
          onSubmit={(e) => {
            e.preventDefault();
            save();
          }}
        >
          <label for="a-name">Name</label>
          <input id="a-name" required maxLength={100} value={editing.draft.name} onInput={(e) => set({ name: e.currentTarget.value })} />
          <label for="a-description">Description</label>
          <input id="a-description" maxLength={500} value={editing.draft.description} onInput={(e) => set({ description: e.currentTarget.value })} />
          <label for="a-instructions">Instructions (added to every answer's prompt)</label>
          <textarea
            id="a-instructions"
            rows={4}
            maxLength={10000}
            value={editing.draft.instructions}
            placeholder="The fiscal year starts in April."
            onInput={(e) => set({ instructions: e.currentTarget.value })}
          />
          <label for="a-model">Model</label>
          <select id="a-model" value={editing.draft.model} onChange={(e) => set({ model: e.currentTarget.value })}>
            <option value="">Each user's own</option>
            {capabilities?.models.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
          <label for="a-temperature">Temperature (0–2, empty for the default)</label>
          <input id="a-temperature" type="number" min={0} max={2} step={0.1} value={editing.draft.temperature} onInput={(e) => set({ temperature: e.currentTarget.value })} />
          <fieldset>
            <legend>Tools</legend>
            <label class="inline">
              <input type="checkbox" checked={editing.draft.tools === null} onChange={(e) => set({ tools: e.currentTarget.checked ? null : capabilities?.tools ?? [] })} /> Every
              tool the user has
            </label>
            {editing.draft.tools !== null &&
              capabilities?.tools.map((tool) => (
                <label key={tool} class="inline">
                  <input
                    type="checkbox"
                    checked={editing.draft.tools?.includes(tool) ?? false}
                    onChange={(e) => {
                      const current = editing.draft.tools ?? [];
                      set({ tools: e.currentTarget.checked ? [...current, tool] : current.filter((t) => t !== tool) });
                    }}
                  />{" "}
                  {tool}
                </label>
              ))}
          </fieldset>
          <label for="a-datasets">Datasets (one per line: URL, or table name and URL)</label>
          <textarea id="a-datasets" rows={3} value={editing.draft.datasets} onInput={(e) => set({ datasets: e.currentTarget.value })} />
          <div class="dialog-actions">
            <button type="submit" class="primary">
              Save
            </button>
            <button type="button" onClick={() => setEditing(null)}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <>
          <button type="button" class="primary" onClick={() => setEditing({ id: null, draft: blank })}>
            New assistant
          </button>
          <ul class="assistant-list">
            {list.length === 0 && <li class="muted">No assistants yet.</li>}
            {list.map((a) => (
              <li key={a.id}>
                <div>
                  <strong>{a.name}</strong> {a.is_shared && <span class="muted small">(shared)</span>}
                  {a.description && <p class="small muted">{a.description}</p>}
                </div>
                <div class="card-actions">
                  <button type="button" class="small primary" onClick={() => onStart(a.id)}>
                    Start a chat
                  </button>
                  {a.is_owner && (
                    <>
                      <button type="button" class="small" onClick={() => setEditing({ id: a.id, draft: draftOf(a) })}>
                        Edit
                      </button>
                      <button type="button" class="small" onClick={() => act(() => put(`/assistants/${a.id}/share`, { is_shared: !a.is_shared }))}>
                        {a.is_shared ? "Stop sharing" : "Share with everyone"}
                      </button>
                      <button type="button" class="small danger" onClick={() => confirm(`Delete ${a.name}?`) && act(() => del(`/assistants/${a.id}`))}>
                        Delete
                      </button>
                    </>
                  )}
                </div>
              </li>
            ))}
          </ul>
        </>
      )}
    </Dialog>
  );
}
