// The signed-in user's notifications as the browser knows them: the unread count for the bell and the
// newest ones, loaded from REST and kept live by one EventSource on /api/notifications/stream.
// Like the fleet feed, it reconnects with backoff and reloads after every reconnect, so nothing is missed.
import { useEffect, useState } from "preact/hooks";
import { listNotices, noticeStreamUrl, type Notice } from "../api/notifications";
import { backoffMs } from "../fleet/feed";

type Listener = () => void;

export class NotificationCenter {
  private items: Notice[] = [];
  private unreadIds = new Set<string>();
  private listeners = new Set<Listener>();
  private source: EventSource | null = null;
  private failures = 0;
  private retryTimer: number | undefined;
  private stopped = true;
  loaded = false;
  live = false;

  constructor(private readonly token: () => string | null) {}

  get unread(): number {
    return this.unreadIds.size;
  }

  recent(): Notice[] {
    return this.items;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.reload();
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.source?.close();
    this.source = null;
    window.clearTimeout(this.retryTimer);
    this.items = [];
    this.unreadIds.clear();
    this.loaded = false;
    this.live = false;
    this.emit();
  }

  /** Reload the count and the newest notifications from REST. */
  async reload(): Promise<void> {
    try {
      const [unread, recent] = await Promise.all([listNotices(true, 200), listNotices(false, 100)]);
      this.unreadIds = new Set(unread.map((n) => n.id));
      this.items = recent;
      this.loaded = true;
      this.emit();
    } catch {
      // the next reconnect tries again; a 401 has signed the user out already
    }
  }

  /** After this client marked some read (the server does not stream read marks). */
  markedRead(ids: string[] | "all"): void {
    const now = new Date().toISOString();
    const all = ids === "all";
    const marked = new Set(all ? [] : ids);
    this.items = this.items.map((n) => (n.read_at === null && (all || marked.has(n.id)) ? { ...n, read_at: now } : n));
    if (all) this.unreadIds.clear();
    else for (const id of marked) this.unreadIds.delete(id);
    this.emit();
  }

  private add(notice: Notice): void {
    if (this.items.some((n) => n.id === notice.id)) return;
    this.items = [notice, ...this.items].slice(0, 200);
    if (notice.read_at === null) this.unreadIds.add(notice.id);
    this.emit();
  }

  private connect(): void {
    const token = this.token();
    if (this.stopped || !token) return;
    const source = new EventSource(noticeStreamUrl(token));
    this.source = source;
    source.onopen = () => {
      const wasDown = this.failures > 0;
      this.failures = 0;
      this.live = true;
      this.emit();
      if (wasDown) void this.reload();
    };
    source.addEventListener("notification", (event: MessageEvent<string>) => {
      try {
        this.add(JSON.parse(event.data) as Notice);
      } catch {
        // a frame we cannot read: the next reload has it
      }
    });
    source.addEventListener("dropped", () => this.retry(0));
    source.onerror = () => this.retry(backoffMs(++this.failures));
  }

  private retry(delayMs: number): void {
    this.source?.close();
    this.source = null;
    this.live = false;
    this.emit();
    if (this.stopped) return;
    window.clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => this.connect(), delayMs);
  }

  private emit(): void {
    this.listeners.forEach((listener) => listener());
  }
}

/** Re-render the calling component whenever the center changes. */
export function useNotifications(center: NotificationCenter): NotificationCenter {
  const [, setVersion] = useState(0);
  useEffect(() => center.subscribe(() => setVersion((v) => v + 1)), [center]);
  return center;
}
