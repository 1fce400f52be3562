// Fleet grid filters: state, tag and material, kept in the URL's query so a filtered view can be shared.
import type { FleetPrinter } from "../api/types";

export interface Filters {
  state: string;
  tag: string;
  material: string;
}

export const EMPTY: Filters = { state: "", tag: "", material: "" };

export const STATE_CHOICES = [
  "printing",
  "paused",
  "standby",
  "complete",
  "cancelled",
  "error",
  "unknown",
  "offline",
] as const;

export function fromQuery(query: URLSearchParams): Filters {
  return {
    state: query.get("state") ?? "",
    tag: query.get("tag") ?? "",
    material: query.get("material") ?? "",
  };
}

export function toQuery(filters: Filters): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) if (value) params.set(key, value);
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** The state a card shows: offline wins, then the printer's own state. */
export function displayState(printer: FleetPrinter): string {
  if (!printer.online) return "offline";
  return printer.printer_state ?? "unknown";
}

export function matches(printer: FleetPrinter, filters: Filters): boolean {
  if (filters.state) {
    const wanted = filters.state;
    if (wanted === "offline" ? printer.online : (printer.printer_state ?? "unknown") !== wanted) return false;
  }
  if (filters.tag && !printer.tags.includes(filters.tag)) return false;
  if (filters.material && (printer.material ?? "").toLowerCase() !== filters.material.toLowerCase()) return false;
  return true;
}

export function choices(printers: FleetPrinter[]): { tags: string[]; materials: string[] } {
  const tags = new Set<string>();
  const materials = new Set<string>();
  for (const printer of printers) {
    printer.tags.forEach((tag) => tags.add(tag));
    if (printer.material) materials.add(printer.material.toUpperCase());
  }
  return { tags: [...tags].sort(), materials: [...materials].sort() };
}
