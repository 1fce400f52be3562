// The live feed: one EventSource on /api/fleet/stream for the whole session.
//
// On error it closes and reconnects with jittered exponential backoff (1 s … 30 s); every (re)connect
// reloads the fleet once, so frames missed while disconnected are not lost. After FALLBACK_AFTER failed
// attempts in a row it also polls the REST list slowly (every POLL_MS) until the stream is back.
import { fleetPrinters, streamUrl } from "../api/endpoints";
import type { FleetPrinter } from "../api/types";
import type { FleetStore } from "./store";

const MIN_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;
const FALLBACK_AFTER = 3;
const POLL_MS = 20_000;

export function backoffMs(failures: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export class FleetFeed {
  private source: EventSource | null = null;
  private failures = 0;
  private retryTimer: number | undefined;
  private pollTimer: number | undefined;
  private stopped = true;

  constructor(
    private readonly store: FleetStore,
    private readonly token: () => string | null,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.store.setStatus("connecting");
    void this.reload();
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.source?.close();
    this.source = null;
    window.clearTimeout(this.retryTimer);
    window.clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }

  private connect(): void {
    const token = this.token();
    if (this.stopped || !token) return;
    const source = new EventSource(streamUrl(token));
    this.source = source;
    source.onopen = () => {
      const wasDown = this.failures > 0;
      this.failures = 0;
      this.stopPolling();
      this.store.setStatus("live");
      if (wasDown) void this.reload();
    };
    source.addEventListener("printer", (event: MessageEvent<string>) => {
      this.store.upsert(JSON.parse(event.data) as FleetPrinter);
    });
    source.addEventListener("dropped", () => this.retry(0));
    source.onerror = () => this.retry(backoffMs(++this.failures));
  }

  private retry(delayMs: number): void {
    this.source?.close();
    this.source = null;
    if (this.stopped) return;
    this.store.setStatus(this.pollTimer !== undefined ? "polling" : "reconnecting");
    if (this.failures >= FALLBACK_AFTER) this.startPolling();
    window.clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => this.connect(), delayMs);
  }

  private startPolling(): void {
    if (this.pollTimer !== undefined) return;
    this.store.setStatus("polling");
    this.pollTimer = window.setInterval(() => void this.reload(), POLL_MS);
  }

  private stopPolling(): void {
    window.clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }

  private async reload(): Promise<void> {
    try {
      this.store.replace(await fleetPrinters());
    } catch {
      // the next reconnect or poll tries again; a 401 has signed the user out already
    }
  }
}
