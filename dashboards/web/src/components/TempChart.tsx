// Temperature chart (uPlot): actual and target per heater over time. Redraws when `samples` changes.
import type { JSX } from "preact";
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { HeaterReading } from "../api/types";
import { heaterLabel } from "../format";

export interface TempSample {
  tsS: number;
  temps: Record<string, HeaterReading>;
  progress?: number | null;
  layer?: number | null;
}

const COLOURS = ["#c2410c", "#1d4ed8", "#047857", "#7e22ce"];
const HEIGHT_PX = 260;

function heatersOf(samples: TempSample[]): string[] {
  const names = new Set<string>();
  samples.forEach((s) => Object.keys(s.temps).forEach((name) => names.add(name)));
  return [...names].sort();
}

function build(samples: TempSample[], heaters: string[]): uPlot.AlignedData {
  const xs = samples.map((s) => s.tsS);
  const columns: (number | null)[][] = [];
  for (const name of heaters) {
    columns.push(samples.map((s) => s.temps[name]?.actual ?? null));
    columns.push(samples.map((s) => s.temps[name]?.target ?? null));
  }
  return [xs, ...columns];
}

function options(heaters: string[], width: number): uPlot.Options {
  const series: uPlot.Series[] = [{ label: "Time" }];
  heaters.forEach((name, i) => {
    const stroke = COLOURS[i % COLOURS.length] ?? "#333";
    series.push({ label: `${heaterLabel(name)} °C`, stroke, width: 2, value: (_u, v) => (v == null ? "–" : v.toFixed(1)) });
    series.push({
      label: `${heaterLabel(name)} target`,
      stroke,
      width: 1,
      dash: [6, 4],
      value: (_u, v) => (v == null ? "–" : v.toFixed(0)),
    });
  });
  return {
    width,
    height: HEIGHT_PX,
    series,
    scales: { y: { range: (_u, min, max) => [Math.min(0, min), Math.max(50, max + 10)] } },
    axes: [{}, { label: "°C", size: 50 }],
    legend: { live: true },
  };
}

export function TempChart({ samples, label }: { samples: TempSample[]; label: string }): JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = useRef("");

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const heaters = heatersOf(samples);
    const key = heaters.join(",");
    if (plot.current && shape.current === key) {
      plot.current.setData(build(samples, heaters));
      return;
    }
    plot.current?.destroy();
    plot.current = new uPlot(options(heaters, element.clientWidth || 300), build(samples, heaters), element);
    shape.current = key;
  }, [samples]);

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const observer = new ResizeObserver(() => plot.current?.setSize({ width: element.clientWidth, height: HEIGHT_PX }));
    observer.observe(element);
    return () => {
      observer.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  return (
    <figure class="chart" aria-label={label}>
      <div ref={box} class="chart-box" />
      {samples.length === 0 && <figcaption class="muted">No temperature samples in the last hour yet.</figcaption>}
    </figure>
  );
}
