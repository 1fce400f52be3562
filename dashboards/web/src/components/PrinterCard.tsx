// One printer in the fleet grid: name, state, online/offline, temperatures, progress and ETA.
import type { JSX } from "preact";
import type { FleetPrinter } from "../api/types";
import { displayState } from "../fleet/filters";
import { duration, heaterLabel, temperature } from "../format";
import { Link } from "../router";
import { ProgressBar } from "./ProgressBar";
import { StateBadge } from "./StateBadge";

export function PrinterCard({ printer }: { printer: FleetPrinter }): JSX.Element {
  const state = displayState(printer);
  const job = printer.job;
  const active = printer.printer_state === "printing" || printer.printer_state === "paused";
  const heaters = Object.keys(printer.temps).sort();
  const headingId = `printer-${printer.id}-name`;
  return (
    <article
      class={`card${printer.online ? "" : " card-offline"}`}
      aria-labelledby={headingId}
      data-printer-id={printer.id}
      data-state={state}
    >
      <header class="card-head">
        <h2 id={headingId} class="card-title">
          <Link href={`/printers/${encodeURIComponent(printer.id)}`}>{printer.name}</Link>
        </h2>
        <StateBadge state={state} />
      </header>
      <p class="card-meta">
        <span class={printer.online ? "dot dot-online" : "dot dot-offline"} aria-hidden="true" />
        {printer.online ? "Online" : "Offline"}
        {printer.material && <span> · {printer.material}</span>}
        {printer.nozzle_mm !== null && <span> · {printer.nozzle_mm} mm</span>}
      </p>
      {heaters.length > 0 ? (
        <dl class="temps">
          {heaters.map((name) => (
            <div key={name}>
              <dt>{heaterLabel(name)}</dt>
              <dd>{temperature(printer.temps[name])}</dd>
            </div>
          ))}
        </dl>
      ) : (
        <p class="muted">No temperatures yet</p>
      )}
      {job && active ? (
        <div class="card-job">
          <p class="job-name" title={job.filename}>
            {job.filename}
          </p>
          <ProgressBar fraction={job.progress} label={`${printer.name} progress`} />
          <p class="muted">ETA {duration(job.eta_s)}</p>
        </div>
      ) : (
        printer.queue?.state === "paused" &&
        printer.online && <p class="notice-inline">Waiting for the bed to be cleared</p>
      )}
      {printer.message && <p class="card-message">{printer.message}</p>}
      {printer.tags.length > 0 && (
        <ul class="tags" aria-label="Tags">
          {printer.tags.map((tag) => (
            <li key={tag}>{tag}</li>
          ))}
        </ul>
      )}
    </article>
  );
}
