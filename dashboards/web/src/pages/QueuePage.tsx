// The farm queue: waiting jobs in dispatch order (reorder by priority, cancel), jobs on printers, and upload.
import type { JSX } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { messageOf } from "../api/client";
import { cancelJob, jobs as listJobs, setJobPriority } from "../api/endpoints";
import type { Job } from "../api/types";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { choices } from "../fleet/filters";
import { movedPriority, queueView, requirementsText } from "../fleet/queue";
import { useStore, type FleetStore } from "../fleet/store";
import { bytes, dateTime } from "../format";
import { Link } from "../router";
import { UploadForm } from "./UploadForm";

const REFRESH_GAP_MS = 5_000;

function Requirements({ job }: { job: Job }): JSX.Element {
  const parts = requirementsText(job);
  if (parts.length === 0) return <span class="muted">any printer</span>;
  return (
    <ul class="tags" aria-label="Requirements">
      {parts.map((part) => (
        <li key={part}>{part}</li>
      ))}
    </ul>
  );
}

interface RowProps {
  job: Job;
  printerName: string | null;
  canOperate: boolean;
  moveUp?: (() => void) | null;
  moveDown?: (() => void) | null;
  onCancel: () => void;
}

function JobRow({ job, printerName, canOperate, moveUp, moveDown, onCancel }: RowProps): JSX.Element {
  const finished = ["completed", "failed", "cancelled"].includes(job.state);
  return (
    <li class="job" data-job-id={job.id} data-state={job.state}>
      <div class="job-main">
        <p class="job-name" title={job.sha256}>
          {job.filename}
        </p>
        <p class="muted">
          <span class={`badge badge-${job.state}`}>{job.state}</span> · priority {job.priority} · {bytes(job.size_bytes)} ·
          added {dateTime(job.created_at)}
          {job.printer_id && (
            <>
              {" "}
              · on <Link href={`/printers/${encodeURIComponent(job.printer_id)}`}>{printerName ?? job.printer_id}</Link>
            </>
          )}
        </p>
        <Requirements job={job} />
        {job.reason && <p class="hint">{job.reason}</p>}
      </div>
      {canOperate && !finished && (
        <div class="job-actions">
          {moveUp !== undefined && (
            <button type="button" class="button button-small" disabled={!moveUp} onClick={moveUp ?? undefined} aria-label={`Move ${job.filename} up`}>
              ↑ Up
            </button>
          )}
          {moveDown !== undefined && (
            <button type="button" class="button button-small" disabled={!moveDown} onClick={moveDown ?? undefined} aria-label={`Move ${job.filename} down`}>
              ↓ Down
            </button>
          )}
          <button type="button" class="button button-small button-danger" onClick={onCancel} aria-label={`Cancel ${job.filename}`}>
            Cancel
          </button>
        </div>
      )}
    </li>
  );
}

export function QueuePage({ store, canOperate }: { store: FleetStore; canOperate: boolean }): JSX.Element {
  useStore(store);
  const [jobList, setJobList] = useState<Job[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [cancelling, setCancelling] = useState<Job | null>(null);
  const lastLoad = useRef(0);

  const load = useCallback(async () => {
    lastLoad.current = Date.now();
    try {
      setJobList(await listJobs());
      setError(null);
    } catch (err) {
      setError(messageOf(err));
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  // No job feed exists: reload (at most every 5 s) when a printer's state changes, which is when jobs move.
  const printers = store.all();
  const fleetKey = printers.map((p) => `${p.id}:${p.printer_state}:${p.job?.job_id ?? ""}:${p.queue?.state ?? ""}`).join("|");
  useEffect(() => {
    const wait = Math.max(0, lastLoad.current + REFRESH_GAP_MS - Date.now());
    const timer = window.setTimeout(() => void load(), wait);
    return () => window.clearTimeout(timer);
  }, [fleetKey]);

  const act = async (action: () => Promise<unknown>) => {
    try {
      await action();
    } catch (err) {
      setError(messageOf(err));
    }
    await load();
  };

  const names = new Map(printers.map((p) => [p.id, p.name]));
  const { tags, materials } = choices(printers);
  const view = queueView(jobList ?? []);

  return (
    <main id="main" class="page">
      <div class="page-head">
        <h1>Farm queue</h1>
        <button type="button" class="button button-small" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {canOperate && <UploadForm materials={materials} tags={tags} onQueued={() => void load()} />}
      {jobList === null ? (
        <p class="muted">Loading jobs…</p>
      ) : (
        <>
          <section class="panel" aria-labelledby="waiting-title">
            <h2 id="waiting-title">Waiting ({view.waiting.length})</h2>
            {view.waiting.length === 0 ? (
              <p class="muted">Nothing waiting.</p>
            ) : (
              <ol class="jobs">
                {view.waiting.map((job, i) => {
                  const up = movedPriority(view.waiting, i, -1);
                  const down = movedPriority(view.waiting, i, 1);
                  return (
                    <JobRow
                      key={job.id}
                      job={job}
                      printerName={null}
                      canOperate={canOperate}
                      moveUp={up === null ? null : () => void act(() => setJobPriority(job.id, up))}
                      moveDown={down === null ? null : () => void act(() => setJobPriority(job.id, down))}
                      onCancel={() => setCancelling(job)}
                    />
                  );
                })}
              </ol>
            )}
          </section>
          <section class="panel" aria-labelledby="active-title">
            <h2 id="active-title">On printers ({view.active.length})</h2>
            {view.active.length === 0 ? (
              <p class="muted">No job on a printer.</p>
            ) : (
              <ul class="jobs">
                {view.active.map((job) => (
                  <JobRow
                    key={job.id}
                    job={job}
                    printerName={job.printer_id ? (names.get(job.printer_id) ?? null) : null}
                    canOperate={canOperate}
                    onCancel={() => setCancelling(job)}
                  />
                ))}
              </ul>
            )}
          </section>
          <section class="panel" aria-labelledby="finished-title">
            <h2 id="finished-title">Finished</h2>
            {view.finished.length === 0 ? (
              <p class="muted">No finished job yet.</p>
            ) : (
              <ul class="jobs">
                {view.finished.map((job) => (
                  <JobRow
                    key={job.id}
                    job={job}
                    printerName={job.printer_id ? (names.get(job.printer_id) ?? null) : null}
                    canOperate={false}
                    onCancel={() => undefined}
                  />
                ))}
              </ul>
            )}
          </section>
        </>
      )}
      {cancelling && (
        <ConfirmDialog
          title={`Cancel ${cancelling.filename}?`}
          body={
            cancelling.state === "queued"
              ? "It leaves the queue and will not print."
              : "The printer holding it is told to stop. This cannot be undone."
          }
          confirmLabel="Cancel job"
          danger
          onConfirm={() => {
            const job = cancelling;
            setCancelling(null);
            void act(() => cancelJob(job.id));
          }}
          onCancel={() => setCancelling(null)}
        />
      )}
    </main>
  );
}
