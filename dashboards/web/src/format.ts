// How numbers and times read on screen.
import type { HeaterReading, PrinterState } from "./api/types";

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `${h} h ${m.toString().padStart(2, "0")} min`;
  if (m > 0) return `${m} min`;
  return `${s} s`;
}

export function percent(fraction: number | null | undefined): string {
  if (fraction === null || fraction === undefined) return "–";
  return `${Math.round(fraction * 100)} %`;
}

export function temperature(reading: HeaterReading | undefined): string {
  if (!reading) return "–";
  const actual = `${reading.actual.toFixed(0)} °C`;
  return reading.target > 0 ? `${actual} / ${reading.target.toFixed(0)} °C` : actual;
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return "–";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

export function bytes(size: number): string {
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KiB`;
  return `${(size / 1024 / 1024).toFixed(1)} MiB`;
}

export const STATE_LABELS: Record<PrinterState | "unknown" | "offline", string> = {
  standby: "Idle",
  printing: "Printing",
  paused: "Paused",
  complete: "Complete",
  cancelled: "Cancelled",
  error: "Error",
  unknown: "Unknown",
  offline: "Offline",
};

/** Heater names as people say them: tool0 → Nozzle, bed → Bed. */
export function heaterLabel(name: string): string {
  if (name === "bed") return "Bed";
  if (name === "chamber") return "Chamber";
  const tool = /^tool(\d+)$/.exec(name);
  if (tool) return tool[1] === "0" ? "Nozzle" : `Nozzle ${Number(tool[1]) + 1}`;
  return name;
}
