// The printer page's temperature samples: an hour of history, then live frames and a slow top-up.
import { useEffect, useRef, useState } from "preact/hooks";
import { printerTelemetry } from "../api/endpoints";
import type { FleetPrinter } from "../api/types";
import type { TempSample } from "../components/TempChart";

const WINDOW_MS = 60 * 60 * 1000;
const TOP_UP_MS = 15_000;
const MAX_SAMPLES = 7_200;

function merge(held: TempSample[], more: TempSample[]): TempSample[] {
  const last = held.at(-1)?.tsS ?? -Infinity;
  const fresh = more.filter((s) => s.tsS > last);
  if (fresh.length === 0) return held;
  const merged = [...held, ...fresh];
  const cutoff = Date.now() / 1000 - WINDOW_MS / 1000;
  const kept = merged.filter((s) => s.tsS >= cutoff);
  return kept.length > MAX_SAMPLES ? kept.slice(-MAX_SAMPLES) : kept;
}

async function fetchSince(pid: string, since: Date): Promise<TempSample[]> {
  const series = await printerTelemetry(pid, since);
  return series.items.map((item) => ({
    tsS: Date.parse(item.ts) / 1000,
    temps: item.temps,
    progress: item.progress,
    layer: item.layer,
  }));
}

/** Samples of `pid` for the chart; `live` is the printer's latest state from the feed. */
export function useTemperatureSamples(pid: string, live: FleetPrinter | undefined): TempSample[] {
  const [samples, setSamples] = useState<TempSample[]>([]);
  const lastTsS = useRef<number | undefined>(undefined);
  lastTsS.current = samples.at(-1)?.tsS;

  useEffect(() => {
    let cancelled = false;
    setSamples([]);
    const load = async (since: Date) => {
      try {
        const more = await fetchSince(pid, since);
        if (!cancelled) setSamples((held) => merge(held, more));
      } catch {
        // shown as an empty chart; the next top-up tries again
      }
    };
    void load(new Date(Date.now() - WINDOW_MS));
    // Telemetry (1 Hz while printing) is not in the live feed, which carries state changes only:
    // top up from the history endpoint now and then while the page is visible.
    const timer = window.setInterval(() => {
      if (document.visibilityState !== "visible") return;
      const last = lastTsS.current;
      void load(new Date(last !== undefined ? last * 1000 + 1 : Date.now() - WINDOW_MS));
    }, TOP_UP_MS);
    return () => {
      cancelled = true;
      window.clearInterval(timer);
    };
  }, [pid]);

  const stamp = live?.state_at ?? live?.updated_at ?? null;
  useEffect(() => {
    if (!live || !stamp || Object.keys(live.temps).length === 0) return;
    setSamples((held) => merge(held, [{ tsS: Date.parse(stamp) / 1000, temps: live.temps }]));
  }, [stamp]);

  return samples;
}
