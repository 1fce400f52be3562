import type { JSX } from "preact";
import type { JobRun } from "../fleet/history";
import { dateTime, duration } from "../format";

export function JobHistory({ runs }: { runs: JobRun[] | null }): JSX.Element {
  if (runs === null) return <p class="muted">Loading job history…</p>;
  if (runs.length === 0) return <p class="muted">No jobs on this printer yet.</p>;
  return (
    <div class="table-wrap">
      <table class="table table-stack">
        <caption class="visually-hidden">Jobs on this printer, newest first</caption>
        <thead>
          <tr>
            <th scope="col">File</th>
            <th scope="col">Outcome</th>
            <th scope="col">Started</th>
            <th scope="col">Finished</th>
            <th scope="col">Print time</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <tr key={run.jobId}>
              <td class="cell-file" data-label="File" title={run.jobId}>
                {run.filename ?? run.jobId}
              </td>
              <td data-label="Outcome">
                <span class={`badge badge-${run.outcome}`}>{run.outcome}</span>
              </td>
              <td data-label="Started">{dateTime(run.startedAt)}</td>
              <td data-label="Finished">{dateTime(run.finishedAt)}</td>
              <td data-label="Print time">{duration(run.durationS)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
