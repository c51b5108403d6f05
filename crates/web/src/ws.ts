// The live connection: one WebSocket per tab, reconnecting with backoff; after a drop the app reloads what it shows
// (events sent while it was away are not replayed by the server).

import { backoff } from "./chat";
import type { ServerEvent } from "./types";

export type ConnectionState = "connecting" | "open" | "closed";

export class LiveConnection {
  private socket: WebSocket | null = null;
  private attempt = 0;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private everOpened = false;

  constructor(
    private readonly onEvent: (event: ServerEvent) => void,
    private readonly onState: (state: ConnectionState) => void,
    /** After a reconnect: reload what may have changed meanwhile. */
    private readonly onResync: () => void,
    /** The session ended (close code 4001): back to sign-in. */
    private readonly onSignedOut: () => void,
  ) {}

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.close(1000);
    this.socket = null;
  }

  /** For tests and the "reconnect now" button: drop the socket as a network failure would. */
  drop(): void {
    this.socket?.close(4999);
  }

  private open(): void {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.onState("connecting");
    const socket = new WebSocket(`${scheme}://${location.host}/ws`);
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.onState("open");
      if (this.everOpened) this.onResync();
      this.everOpened = true;
    };
    socket.onmessage = (message) => {
      if (typeof message.data !== "string") return;
      try {
        this.onEvent(JSON.parse(message.data) as ServerEvent);
      } catch {
        // A frame that is not JSON carries nothing for us.
      }
    };
    socket.onclose = (close) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.onState("closed");
      if (close.code === 4001) {
        this.onSignedOut();
        return;
      }
      if (this.stopped) return;
      this.timer = setTimeout(() => this.open(), backoff(this.attempt++));
    };
  }
}
