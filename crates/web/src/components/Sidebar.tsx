// The conversation list: new chat (optionally from an assistant), search, pin, rename, delete, multi-select, import,
// settings and the budget meter.

import { useEffect, useRef, useState } from "preact/hooks";

import { problemText, useAction } from "../action";
import { del, get, patch, post } from "../api";
import { untilReset } from "../chat";
import { navigate } from "../router";
import type { Assistant, ConversationSummary, SearchResult, Usage, User } from "../types";
import { Assistants } from "./Assistants";
import { Settings } from "./Settings";

interface Props {
  user: User;
  usage: Usage | null;
  current: string | null;
  version: number;
  refresh: () => void;
  onSignedOut: () => void;
}

export function Sidebar({ user, usage, current, version, refresh, onSignedOut }: Props) {
  const [conversations, setConversations] = useState<ConversationSummary[]>([]);
  const [assistants, setAssistants] = useState<Assistant[]>([]);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [editing, setEditing] = useState<string | null>(null);
  const [query, setQuery] = useState("");
  const [results, setResults] = useState<SearchResult[] | null>(null);
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [assistantsOpen, setAssistantsOpen] = useState(false);
  const [archived, setArchived] = useState(false);
  const { problem, setProblem, act } = useAction(refresh);
  const search = useRef<HTMLInputElement>(null);
  const importer = useRef<HTMLInputElement>(null);

  useEffect(() => {
    get<{ conversations: ConversationSummary[] }>(`/conversations?archived=${archived}`)
      .then((r) => setConversations(r.conversations))
      .catch((e: unknown) => setProblem(problemText(e, "Could not load conversations.")));
  }, [version, archived]);

  useEffect(() => {
    get<{ assistants: Assistant[] }>("/assistants")
      .then((r) => setAssistants(r.assistants))
      .catch(() => setAssistants([]));
  }, [version]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") {
        e.preventDefault();
        search.current?.focus();
      }
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);

  useEffect(() => {
    const text = query.trim();
    if (!text) {
      setResults(null);
      return;
    }
    const timer = setTimeout(() => {
      get<{ results: SearchResult[] }>(`/conversations/search?q=${encodeURIComponent(text)}&limit=20`)
        .then((r) => setResults(r.results))
        .catch(() => setResults([]));
    }, 200);
    return () => clearTimeout(timer);
  }, [query]);


  const newChat = (assistantId?: string) =>
    act(async () => {
      const created = await post<{ id: string }>("/conversations", assistantId ? { assistant_id: assistantId } : {});
      navigate(`/c/${created.id}`);
    });

  const remove = (id: string) =>
    act(async () => {
      if (!confirm("Delete this conversation? Its messages and datasets are removed.")) return;
      await del(`/conversations/${id}`);
      if (id === current) navigate("/");
    });

  const bulk = (kind: "delete" | "pin") =>
    act(async () => {
      const ids = [...selected];
      if (kind === "delete") {
        if (!confirm(`Delete ${ids.length} conversations?`)) return;
        await post("/conversations/bulk-delete", { ids });
        if (current && ids.includes(current)) navigate("/");
      } else {
        await post("/conversations/bulk-pin", { ids, is_pinned: true });
      }
      setSelected(new Set());
    });

  const importFile = (file: File) =>
    act(async () => {
      const body: unknown = JSON.parse(await file.text());
      const created = await post<{ id: string }>("/conversations/import", body);
      navigate(`/c/${created.id}`);
    });

  const toggle = (id: string) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };

  return (
    <nav class="sidebar" aria-label="Conversations">
      <div class="sidebar-top">
        <button type="button" class="primary" onClick={() => newChat()}>
          New chat
        </button>
        {assistants.length > 0 && (
          <select
            aria-label="New chat with an assistant"
            value=""
            onChange={(e) => {
              const id = e.currentTarget.value;
              if (id) newChat(id);
            }}
          >
            <option value="">With an assistant…</option>
            {assistants.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
        )}
      </div>
      <input
        ref={search}
        type="search"
        class="search"
        aria-label="Search conversations (Ctrl+K)"
        placeholder="Search (Ctrl+K)"
        value={query}
        onInput={(e) => setQuery(e.currentTarget.value)}
        onKeyDown={(e) => e.key === "Escape" && setQuery("")}
      />
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      {results ? (
        <ul class="search-results" aria-label="Search results">
          {results.length === 0 && <li class="muted">No matches</li>}
          {results.map((r) => (
            <li key={r.message_id}>
              <a
                href={`/c/${r.conversation_id}?m=${r.message_id}`}
                onClick={(e) => {
                  e.preventDefault();
                  setQuery("");
                  navigate(`/c/${r.conversation_id}?m=${r.message_id}`);
                }}
              >
                <strong>{r.conversation_title || "Untitled"}</strong>
                <span class="snippet">{r.snippet}</span>
              </a>
            </li>
          ))}
        </ul>
      ) : (
        <ul class="conversation-list">
          {conversations.map((c) => (
            <li key={c.id} class={c.id === current ? "active" : ""}>
              <input type="checkbox" aria-label={`Select ${c.title || "Untitled"}`} checked={selected.has(c.id)} onChange={() => toggle(c.id)} />
              {editing === c.id ? (
                <input
                  class="rename"
                  aria-label="Conversation title"
                  defaultValue={c.title}
                  autoFocus
                  onKeyDown={(e) => {
                    if (e.key === "Escape") setEditing(null);
                    if (e.key === "Enter") {
                      const title = e.currentTarget.value.trim();
                      setEditing(null);
                      if (title && title !== c.title) act(() => patch(`/conversations/${c.id}`, { title }));
                    }
                  }}
                  onBlur={() => setEditing(null)}
                />
              ) : (
                <a
                  href={`/c/${c.id}`}
                  aria-current={c.id === current ? "page" : undefined}
                  onClick={(e) => {
                    e.preventDefault();
                    navigate(`/c/${c.id}`);
                  }}
                  onDblClick={() => setEditing(c.id)}
                >
                  {c.title || "Untitled"}
                </a>
              )}
              <span class="row-actions">
                <button type="button" class="icon" aria-label={`Rename ${c.title || "Untitled"}`} onClick={() => setEditing(c.id)}>
                  ✎
                </button>
                <button
                  type="button"
                  class="icon"
                  aria-label={c.is_pinned ? `Unpin ${c.title || "Untitled"}` : `Pin ${c.title || "Untitled"}`}
                  onClick={() => act(() => patch(`/conversations/${c.id}/pin`, { is_pinned: !c.is_pinned }))}
                >
                  {c.is_pinned ? "★" : "☆"}
                </button>
                <button
                  type="button"
                  class="icon"
                  aria-label={c.is_archived ? `Unarchive ${c.title || "Untitled"}` : `Archive ${c.title || "Untitled"}`}
                  onClick={() => act(() => patch(`/conversations/${c.id}/archive`, { is_archived: !c.is_archived }))}
                >
                  {c.is_archived ? "↩" : "⤓"}
                </button>
                <button type="button" class="icon" aria-label={`Delete ${c.title || "Untitled"}`} onClick={() => remove(c.id)}>
                  ×
                </button>
              </span>
            </li>
          ))}
          {conversations.length === 0 && <li class="muted">{archived ? "Nothing archived" : "No conversations yet"}</li>}
        </ul>
      )}
      {selected.size > 0 && (
        <div class="bulk" role="toolbar" aria-label="Selected conversations">
          <span>{selected.size} selected</span>
          <button type="button" onClick={() => bulk("pin")}>
            Pin
          </button>
          <button type="button" class="danger" onClick={() => bulk("delete")}>
            Delete
          </button>
        </div>
      )}
      <div class="sidebar-bottom">
        {usage && (
          <div class="meter" title={`Resets in ${untilReset(usage.resets_in_seconds)}`}>
            <label for="budget">Tokens today: {Math.round(usage.usage_percent)}%</label>
            <meter id="budget" min={0} max={100} low={70} high={90} optimum={0} value={usage.usage_percent} />
          </div>
        )}
        <input ref={importer} type="file" accept="application/json,.json" hidden onChange={(e) => e.currentTarget.files?.[0] && importFile(e.currentTarget.files[0])} />
        <div class="sidebar-actions">
          <button type="button" aria-pressed={archived} onClick={() => setArchived(!archived)}>
            {archived ? "Active chats" : "Archived"}
          </button>
          <button type="button" onClick={() => setAssistantsOpen(true)}>
            Assistants
          </button>
          <button type="button" onClick={() => importer.current?.click()}>
            Import
          </button>
          <button type="button" onClick={() => setSettingsOpen(true)}>
            Settings
          </button>
          <button
            type="button"
            onClick={() =>
              act(async () => {
                await post("/auth/logout");
                onSignedOut();
              })
            }
          >
            Sign out
          </button>
        </div>
        <p class="muted small">{user.email}</p>
      </div>
      {settingsOpen && <Settings usage={usage} onClose={() => setSettingsOpen(false)} />}
      {assistantsOpen && (
        <Assistants
          onClose={() => {
            setAssistantsOpen(false);
            refresh();
          }}
          onStart={(id) => {
            setAssistantsOpen(false);
            newChat(id);
          }}
        />
      )}
    </nav>
  );
}
