// The fleet as the browser knows it: printers by id, updated from REST snapshots and live frames.
import { useEffect, useState } from "preact/hooks";
import type { FleetPrinter } from "../api/types";

export type FeedStatus = "connecting" | "live" | "reconnecting" | "polling";

type Listener = () => void;

export class FleetStore {
  private printers = new Map<string, FleetPrinter>();
  private listeners = new Set<Listener>();
  private loaded = false;
  status: FeedStatus = "connecting";

  get isLoaded(): boolean {
    return this.loaded;
  }

  all(): FleetPrinter[] {
    return [...this.printers.values()].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }

  get(pid: string): FleetPrinter | undefined {
    return this.printers.get(pid);
  }

  /** Replace everything with a full snapshot (after login, or after the feed reconnects). */
  replace(printers: FleetPrinter[]): void {
    this.printers = new Map(printers.map((p) => [p.id, p]));
    this.loaded = true;
    this.emit();
  }

  /** One live frame: kept unless what we hold is newer. */
  upsert(printer: FleetPrinter): void {
    const held = this.printers.get(printer.id);
    if (held && isOlder(printer, held)) return;
    this.printers.set(printer.id, printer);
    this.emit();
  }

  setStatus(status: FeedStatus): void {
    if (status === this.status) return;
    this.status = status;
    this.emit();
  }

  clear(): void {
    this.printers.clear();
    this.loaded = false;
    this.status = "connecting";
    this.emit();
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    this.listeners.forEach((listener) => listener());
  }
}

function isOlder(candidate: FleetPrinter, held: FleetPrinter): boolean {
  if (!candidate.updated_at || !held.updated_at) return false;
  return Date.parse(candidate.updated_at) < Date.parse(held.updated_at);
}

/** Re-render when the store changes. */
export function useStore(store: FleetStore): FleetStore {
  const [, setVersion] = useState(0);
  useEffect(() => store.subscribe(() => setVersion((v) => v + 1)), [store]);
  return store;
}
