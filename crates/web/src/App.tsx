// The app shell: who is signed in, the route, the live connection, and the page for the route.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";

import { ApiError, get, whenSignedOut } from "./api";
import { ChatPage } from "./components/ChatPage";
import { SharedConversation, SharedResult } from "./components/Shared";
import { Sidebar } from "./components/Sidebar";
import { SignIn } from "./components/SignIn";
import { navigate, parseRoute, type Route } from "./router";
import { applyTheme, storedTheme } from "./theme";
import type { ServerEvent, Usage, User } from "./types";
import { type ConnectionState, LiveConnection } from "./ws";

export type Listener = (event: ServerEvent) => void;

/** Fan-out of the connection's events to whatever page is listening. */
export class EventHub {
  private listeners = new Set<Listener>();
  private resyncs = new Set<() => void>();
  listen(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  onResync(handler: () => void): () => void {
    this.resyncs.add(handler);
    return () => this.resyncs.delete(handler);
  }
  emit(event: ServerEvent): void {
    for (const listener of this.listeners) listener(event);
  }
  resync(): void {
    for (const handler of this.resyncs) handler();
  }
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname, location.search));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.pathname, location.search));
    addEventListener("popstate", update);
    return () => removeEventListener("popstate", update);
  }, []);
  return route;
}

export function App() {
  const route = useRoute();
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [connection, setConnection] = useState<ConnectionState>("connecting");
  const [usage, setUsage] = useState<Usage | null>(null);
  const hub = useRef(new EventHub()).current;
  const [listVersion, setListVersion] = useState(0);
  const refreshList = useCallback(() => setListVersion((v) => v + 1), []);

  useEffect(() => applyTheme(storedTheme()), []);

  const loadUser = useCallback(() => {
    get<User>("/auth/me")
      .then(setUser)
      .catch((e: unknown) => setUser(e instanceof ApiError && e.status === 401 ? null : null));
  }, []);

  useEffect(() => {
    whenSignedOut(() => setUser(null));
    if (route.page === "shared-conversation" || route.page === "shared-result") return;
    loadUser();
  }, []);

  useEffect(() => {
    if (!user) return;
    get<Usage>("/usage").then(setUsage).catch(() => {});
    const live = new LiveConnection(
      (event) => {
        if (event.type === "usage_update") setUsage((u) => ({ ...(u ?? { resets_in_seconds: 0 }), ...event }));
        if (event.type === "conversation_title_updated" || event.type === "chat_complete") refreshList();
        hub.emit(event);
      },
      setConnection,
      () => {
        refreshList();
        hub.resync();
        get<Usage>("/usage").then(setUsage).catch(() => {});
      },
      () => setUser(null),
    );
    live.start();
    (window as unknown as { __tabletalk?: unknown }).__tabletalk = { drop: () => live.drop() };
    return () => live.stop();
  }, [user?.user_id]);

  if (route.page === "shared-conversation") return <SharedConversation token={route.token} />;
  if (route.page === "shared-result") return <SharedResult token={route.token} />;
  if (user === undefined) return <div class="loading-screen" role="status">Loading…</div>;
  if (user === null || route.page === "sign-in") {
    return (
      <SignIn
        error={route.page === "sign-in" ? route.error : null}
        signedIn={user !== null}
        onSignedIn={() => {
          loadUser();
          navigate("/", true);
        }}
      />
    );
  }
  const conversationId = route.page === "conversation" ? route.id : null;
  return (
    <div class="shell">
      <Sidebar
        user={user}
        usage={usage}
        current={conversationId}
        version={listVersion}
        refresh={refreshList}
        onSignedOut={() => setUser(null)}
      />
      <main class="main" id="main">
        {connection !== "open" && (
          <div class="banner" role="status">
            {connection === "connecting" ? "Connecting…" : "Connection lost — reconnecting…"}
          </div>
        )}
        {conversationId ? (
          <ChatPage
            key={conversationId}
            id={conversationId}
            focusMessage={route.page === "conversation" ? route.message : null}
            hub={hub}
            usage={usage}
            refreshList={refreshList}
          />
        ) : (
          <Welcome />
        )}
      </main>
    </div>
  );
}

function Welcome() {
  return (
    <section class="welcome">
      <h1>Chat with your data</h1>
      <p>Start a new chat, add a Parquet or CSV file by URL or upload, and ask questions in plain language.</p>
      <p class="muted">Keyboard: Ctrl+K searches, Enter sends, Shift+Enter adds a line, Esc closes dialogs.</p>
    </section>
  );
}
