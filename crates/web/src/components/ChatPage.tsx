// One conversation: its messages with streamed answers, the composer, datasets and the SQL panel.

import { useEffect, useMemo, useReducer, useRef, useState } from "preact/hooks";

import type { EventHub } from "../App";
import { problemText, useAction } from "../action";
import { ApiError, del, get, post } from "../api";
import { applyEvent, type ChatView, emptyView, untilReset, withSentMessage } from "../chat";
import { navigate } from "../router";
import type { ConversationDetail, Dataset, ServerEvent, Usage } from "../types";
import { Datasets } from "./Datasets";
import { Dialog } from "./Dialog";
import { LiveAnswer, MessageView } from "./Messages";
import { SqlPanel } from "./SqlPanel";
import { VirtualList } from "./VirtualList";

type Action = { kind: "load"; detail: ConversationDetail } | { kind: "event"; event: ServerEvent } | { kind: "sent"; content: string };

function reducer(view: ChatView, action: Action): ChatView {
  switch (action.kind) {
    case "load": {
      const loaded = emptyView(action.detail.id, action.detail.title, action.detail.messages);
      // A turn still streaming keeps its live part; its stored copy arrives with chat_complete.
      return { ...loaded, live: view.live, followups: view.followups, charts: { ...loaded.charts, ...view.charts } };
    }
    case "event":
      return applyEvent(view, action.event);
    case "sent":
      return withSentMessage(view, action.content);
  }
}

interface Props {
  id: string;
  focusMessage: string | null;
  hub: EventHub;
  usage: Usage | null;
  refreshList: () => void;
}

export function ChatPage({ id, focusMessage, hub, usage, refreshList }: Props) {
  const [view, dispatch] = useReducer(reducer, emptyView(id));
  const [datasets, setDatasets] = useState<Dataset[]>([]);
  const [detail, setDetail] = useState<ConversationDetail | null>(null);
  const { problem, setProblem, act } = useAction();
  const [notice, setNotice] = useState<string | null>(null);
  const [text, setText] = useState("");
  const [panel, setPanel] = useState<"datasets" | "sql" | null>("datasets");
  const [panelSql, setPanelSql] = useState<string | null>(null);
  const [share, setShare] = useState<string | null>(null);
  const [preview, setPreview] = useState<string | null>(null);
  const [progress, setProgress] = useState<Record<string, number>>({});
  const [waiting, setWaiting] = useState(false);
  const [devMode, setDevMode] = useState(false);
  const loads = useRef(0);
  /** Counts the messages sent here: each one takes the list to the bottom to follow the answer. */
  const [sent, setSent] = useState(0);

  /** Reloads the conversation; when loads overlap, only the latest one's answer is applied. */
  const load = async () => {
    const ticket = ++loads.current;
    try {
      const loaded = await get<ConversationDetail>(`/conversations/${id}`);
      if (ticket !== loads.current) return;
      setDetail(loaded);
      setDatasets(loaded.datasets);
      dispatch({ kind: "load", detail: loaded });
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 403)) navigate("/", true);
      else setProblem(problemText(e, "Could not load the conversation."));
    }
  };

  useEffect(() => {
    get<{ dev_mode: boolean }>("/settings")
      .then((s) => setDevMode(s.dev_mode))
      .catch(() => setDevMode(false));
  }, []);

  useEffect(() => {
    load();
    const stopListening = hub.listen((event) => {
      if ("conversation_id" in event && event.conversation_id && event.conversation_id !== id) return;
      dispatch({ kind: "event", event });
      switch (event.type) {
        case "chat_complete":
        case "chat_error":
          setWaiting(false);
          load();
          break;
        case "chat_token":
          setWaiting(false);
          break;
        case "dataset_loaded":
          setDatasets((list) => [...list.filter((d) => d.id !== event.dataset.id), event.dataset]);
          setProgress((p) => ({ ...p, [event.dataset.url]: 1 }));
          // A load already in flight may answer with the dataset still loading: ask again.
          load();
          break;
        case "dataset_error":
          load();
          break;
        case "dataset_progress":
          if (event.total_bytes) setProgress((p) => ({ ...p, [event.url]: event.bytes_loaded / (event.total_bytes ?? 1) }));
          break;
        case "rate_limit_warning":
          setNotice(`You have used ${Math.round(event.usage_percent)}% of today's tokens.`);
          break;
        case "rate_limit_exceeded":
          setNotice(`Today's token budget is spent. It frees up in ${untilReset(event.resets_in_seconds)}.`);
          break;
      }
    });
    const stopResync = hub.onResync(load);
    return () => {
      stopListening();
      stopResync();
    };
  }, [id]);

  const streaming = view.live !== null || waiting;

  const send = async (content: string) => {
    const trimmed = content.trim();
    if (!trimmed || streaming) return;
    setProblem(null);
    setNotice(null);
    setText("");
    setSent((n) => n + 1);
    dispatch({ kind: "sent", content: trimmed });
    setWaiting(true);
    try {
      await post(`/conversations/${id}/messages`, { content: trimmed });
    } catch (e) {
      setWaiting(false);
      setText(trimmed);
      load();
      if (e instanceof ApiError && e.code === "token_budget_exceeded") {
        const details = e.details as { resets_in_seconds?: number } | null;
        setProblem(`Today's token budget is spent. It frees up in ${untilReset(details?.resets_in_seconds ?? 0)}.`);
      } else setProblem(problemText(e, "The message was not sent."));
    }
  };


  const stop = () => act(() => post(`/conversations/${id}/stop`));
  const redo = (messageId: string) =>
    act(async () => {
      setWaiting(true);
      await post(`/conversations/${id}/messages/${messageId}/redo`);
      await load();
    }).finally(() => setWaiting((w) => w && view.live === null));
  const fork = (messageId: string) =>
    act(async () => {
      const created = await post<{ id: string }>(`/conversations/${id}/fork`, { message_id: messageId });
      refreshList();
      navigate(`/c/${created.id}`);
    });
  const removeMessage = (messageId: string) =>
    act(async () => {
      await del(`/conversations/${id}/messages/${messageId}`);
      await load();
    });
  const shareLink = () =>
    act(async () => {
      const link = await post<{ share_url: string; share_token: string }>(`/conversations/${id}/share`);
      setShare(`${location.origin}/share/${link.share_token}`);
    });
  const unshare = () =>
    act(async () => {
      await del(`/conversations/${id}/share`);
      setShare(null);
      await load();
    });
  const showPreview = () =>
    act(async () => {
      const p = await post<{ system_prompt: string; total_tokens?: number; tools: string[] }>(`/conversations/${id}/prompt-preview`, {
        content: text.trim() || "(your next message)",
      });
      setPreview(`${p.system_prompt}\n\nTools: ${p.tools.join(", ")}`);
    });
  const openInPanel = (sql: string) => {
    setPanelSql(sql);
    setPanel("sql");
  };
  const lastAssistant = [...view.messages].reverse().find((m) => m.role === "assistant");
  // Rows call the latest actions through a ref, so their props stay equal while an answer streams and the list can
  // keep their elements instead of rendering every shown message again on each token.
  const actions = useRef({ send, redo, fork, removeMessage, openInPanel });
  actions.current = { send, redo, fork, removeMessage, openInPanel };
  const rowActions = useMemo(
    () => ({
      onFollowup: (text: string) => actions.current.send(text),
      onRedo: (messageId: string) => actions.current.redo(messageId),
      onFork: (messageId: string) => actions.current.fork(messageId),
      onDelete: (messageId: string) => actions.current.removeMessage(messageId),
      onOpenInPanel: (sql: string) => actions.current.openInPanel(sql),
    }),
    [],
  );

  return (
    <div class={panel ? "chat with-panel" : "chat"}>
      <section class="conversation" aria-label="Conversation">
        <header class="chat-header">
          <h1>{view.title || "New chat"}</h1>
          <div class="header-actions">
            <button type="button" aria-pressed={panel === "datasets"} onClick={() => setPanel(panel === "datasets" ? null : "datasets")}>
              Datasets ({datasets.length})
            </button>
            <button type="button" aria-pressed={panel === "sql"} onClick={() => setPanel(panel === "sql" ? null : "sql")}>
              SQL
            </button>
            <button type="button" onClick={shareLink}>
              Share
            </button>
            <a class="button" href={`/conversations/${id}/export`} download>
              Export JSON
            </a>
            <a class="button" href={`/conversations/${id}/export/html`} download>
              Export HTML
            </a>
            {devMode && (
              <button type="button" onClick={showPreview}>
                Prompt preview
              </button>
            )}
          </div>
        </header>
        <VirtualList
          key={id}
          class="messages"
          label="Chat history"
          items={view.messages}
          keyOf={(m) => m.id}
          focusKey={focusMessage}
          bottomSignal={sent}
          rowDeps={[view.charts, view.followups, lastAssistant?.id, focusMessage]}
          row={(m) => (
            <MessageView
              message={m}
              charts={view.charts[m.id] ?? []}
              followups={m.id === lastAssistant?.id ? view.followups[m.id] ?? [] : []}
              highlighted={m.id === focusMessage}
              {...rowActions}
            />
          )}
        >
          <div class="messages-tail" aria-live="polite">
            {view.messages.length === 0 && !view.live && (
              <p class="muted empty">Add a dataset on the right, then ask a question about it.</p>
            )}
            {view.live && <LiveAnswer turn={view.live} />}
            {waiting && !view.live && (
              <p class="muted thinking" role="status">
                Thinking…
              </p>
            )}
            {view.error && (
              <p class="error" role="alert">
                {view.error}
              </p>
            )}
          </div>
        </VirtualList>
        {notice && (
          <p class="warning" role="status">
            {notice}
            {usage ? ` (${untilReset(usage.resets_in_seconds)} until the oldest use expires)` : ""}
          </p>
        )}
        {problem && (
          <p class="error" role="alert">
            {problem}
          </p>
        )}
        <form
          class="composer"
          onSubmit={(e) => {
            e.preventDefault();
            send(text);
          }}
        >
          <label for="composer" class="visually-hidden">
            Message
          </label>
          <textarea
            id="composer"
            rows={2}
            maxLength={10000}
            placeholder="Ask about your data…"
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
                e.preventDefault();
                send(text);
              }
            }}
          />
          {streaming ? (
            <button type="button" class="danger" onClick={stop}>
              Stop
            </button>
          ) : (
            <button type="submit" class="primary" disabled={!text.trim()}>
              Send
            </button>
          )}
        </form>
      </section>
      {panel === "datasets" && (
        <Datasets conversationId={id} datasets={datasets} progress={progress} onChanged={load} />
      )}
      {panel === "sql" && <SqlPanel conversationId={id} datasets={datasets} initialSql={panelSql} />}
      {share && (
        <Dialog title="Share this conversation" onClose={() => setShare(null)}>
          <p>Anyone with the link can read this conversation (not change it).</p>
          <input aria-label="Share link" readOnly value={share} onFocus={(e) => e.currentTarget.select()} />
          <div class="dialog-actions">
            <button type="button" class="primary" onClick={() => navigator.clipboard.writeText(share)}>
              Copy link
            </button>
            <button type="button" class="danger" onClick={unshare}>
              Revoke
            </button>
          </div>
        </Dialog>
      )}
      {preview && (
        <Dialog title="Prompt preview" onClose={() => setPreview(null)}>
          <pre class="code-block preview">{preview}</pre>
        </Dialog>
      )}
      {detail?.share_token && !share && <span class="visually-hidden">Shared</span>}
    </div>
  );
}
