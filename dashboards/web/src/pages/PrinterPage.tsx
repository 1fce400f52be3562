// One printer: live state, temperature chart, controls and job history.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, messageOf } from "../api/client";
import { fleetPrinter, printerEvents } from "../api/endpoints";
import type { FleetEvent, FleetPrinter } from "../api/types";
import { ProgressBar } from "../components/ProgressBar";
import { StateBadge } from "../components/StateBadge";
import { TempChart, type TempSample } from "../components/TempChart";
import { displayState } from "../fleet/filters";
import { jobRuns, type JobRun } from "../fleet/history";
import { useStore, type FleetStore } from "../fleet/store";
import { useTemperatureSamples } from "../fleet/telemetry";
import { dateTime, duration, heaterLabel, temperature } from "../format";
import { Link } from "../router";
import { JobHistory } from "./JobHistory";
import { PrinterControls } from "./PrinterControls";

const MAX_EVENT_PAGES = 10;

async function allEvents(pid: string): Promise<FleetEvent[]> {
  const events: FleetEvent[] = [];
  let after = -1;
  for (let page = 0; page < MAX_EVENT_PAGES; page++) {
    const got = await printerEvents(pid, after);
    events.push(...got.items);
    if (got.next_after_seq === null) break;
    after = got.next_after_seq;
  }
  return events;
}

function useJobRuns(pid: string, changeKey: string): JobRun[] | null {
  const [runs, setRuns] = useState<JobRun[] | null>(null);
  useEffect(() => {
    let cancelled = false;
    allEvents(pid)
      .then((events) => !cancelled && setRuns(jobRuns(events)))
      .catch(() => !cancelled && setRuns([]));
    return () => {
      cancelled = true;
    };
  }, [pid, changeKey]);
  return runs;
}

/** Progress from telemetry when it is newer than the state snapshot (the feed carries state changes only). */
function latestProgress(printer: FleetPrinter, samples: TempSample[]): { progress: number; layer: number | null } | null {
  const job = printer.job;
  if (!job) return null;
  const snapshotS = printer.state_at ? Date.parse(printer.state_at) / 1000 : 0;
  const newest = samples.at(-1);
  if (newest && newest.tsS > snapshotS && typeof newest.progress === "number")
    return { progress: newest.progress, layer: newest.layer ?? null };
  return { progress: job.progress, layer: job.current_layer ?? null };
}

function State({ printer, samples }: { printer: FleetPrinter; samples: TempSample[] }): JSX.Element {
  const job = printer.job;
  const now = latestProgress(printer, samples);
  const newest = samples.at(-1);
  const snapshotS = printer.state_at ? Date.parse(printer.state_at) / 1000 : 0;
  const temps = newest && newest.tsS > snapshotS ? { ...printer.temps, ...newest.temps } : printer.temps;
  return (
    <section class="panel" aria-labelledby="state-title">
      <h2 id="state-title">Now</h2>
      <dl class="facts">
        <div>
          <dt>Connection</dt>
          <dd>{printer.online ? `Online since ${dateTime(printer.online_since)}` : "Offline"}</dd>
        </div>
        <div>
          <dt>Serial link</dt>
          <dd>{printer.link ?? "–"}</dd>
        </div>
        {Object.keys(temps)
          .sort()
          .map((name) => (
            <div key={name}>
              <dt>{heaterLabel(name)}</dt>
              <dd>{temperature(temps[name])}</dd>
            </div>
          ))}
        <div>
          <dt>Local queue</dt>
          <dd>{printer.queue ? `${printer.queue.state}, ${printer.queue.length} waiting` : "–"}</dd>
        </div>
      </dl>
      {job && (printer.printer_state === "printing" || printer.printer_state === "paused") && (
        <div class="card-job">
          <p class="job-name">{job.filename}</p>
          <ProgressBar fraction={now?.progress ?? job.progress} label={`${printer.name} progress`} />
          <p class="muted">
            ETA {duration(job.eta_s)}
            {now?.layer != null && job.total_layer != null && ` · layer ${now.layer}/${job.total_layer}`}
          </p>
        </div>
      )}
      {printer.message && <p class="card-message">{printer.message}</p>}
      <p class="hint">State as of {dateTime(printer.state_at)}</p>
    </section>
  );
}

export function PrinterPage({ pid, store, canOperate }: { pid: string; store: FleetStore; canOperate: boolean }): JSX.Element {
  useStore(store);
  const [fetched, setFetched] = useState<FleetPrinter | null>(null);
  const [error, setError] = useState<string | null>(null);
  const live = store.get(pid);
  const printer = live ?? fetched;

  useEffect(() => {
    if (live) return;
    fleetPrinter(pid)
      .then(setFetched)
      .catch((err) => setError(err instanceof ApiError && err.status === 404 ? "No such printer." : messageOf(err)));
  }, [pid, !!live]);

  const samples = useTemperatureSamples(pid, printer ?? undefined);
  const runs = useJobRuns(pid, `${printer?.printer_state ?? ""}|${printer?.job?.job_id ?? ""}`);

  if (!printer)
    return (
      <main id="main" class="page">
        <p class={error ? "error" : "muted"} role={error ? "alert" : undefined}>
          {error ?? "Loading printer…"}
        </p>
        <Link href="/">Back to the fleet</Link>
      </main>
    );

  return (
    <main id="main" class="page" data-printer-id={printer.id}>
      <p class="crumbs">
        <Link href="/">Fleet</Link> / {printer.name}
      </p>
      <div class="page-head">
        <h1>{printer.name}</h1>
        <StateBadge state={displayState(printer)} />
      </div>
      <p class="muted">
        {[printer.material, printer.nozzle_mm !== null ? `${printer.nozzle_mm} mm nozzle` : null, ...printer.tags]
          .filter(Boolean)
          .join(" · ")}
      </p>
      <div class="columns">
        <State printer={printer} samples={samples} />
        <section class="panel" aria-labelledby="controls-title">
          <h2 id="controls-title">Controls</h2>
          <PrinterControls printer={printer} canOperate={canOperate} />
        </section>
      </div>
      <section class="panel" aria-labelledby="chart-title">
        <h2 id="chart-title">Temperatures, last hour</h2>
        <TempChart samples={samples} label={`Temperatures of ${printer.name} over the last hour`} />
      </section>
      <section class="panel" aria-labelledby="history-title">
        <h2 id="history-title">Job history</h2>
        <JobHistory runs={runs} />
      </section>
    </main>
  );
}
