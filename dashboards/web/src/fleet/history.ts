// Job history from a printer's events: one row per job, newest first.
import type { FleetEvent } from "../api/types";

export interface JobRun {
  jobId: string;
  filename: string | null;
  queuedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  outcome: string;
  durationS: number | null;
}

const FINAL: Record<string, string> = {
  "job.completed": "completed",
  "job.failed": "failed",
  "job.cancelled": "cancelled",
};

const LIVE: Record<string, string> = {
  "job.queued": "queued",
  "job.started": "printing",
  "job.paused": "paused",
  "job.resumed": "printing",
  "job.interrupted": "interrupted",
};

export function jobRuns(events: FleetEvent[]): JobRun[] {
  const runs = new Map<string, JobRun>();
  for (const event of [...events].sort((a, b) => a.seq - b.seq)) {
    if (!event.job_id) continue;
    let run = runs.get(event.job_id);
    if (!run) {
      run = { jobId: event.job_id, filename: null, queuedAt: null, startedAt: null, finishedAt: null, outcome: "queued", durationS: null };
      runs.set(event.job_id, run);
    }
    const filename = event.data["filename"];
    if (typeof filename === "string") run.filename = filename;
    if (event.event_type === "job.queued") run.queuedAt ??= event.ts;
    if (event.event_type === "job.started") run.startedAt ??= event.ts;
    const final = FINAL[event.event_type];
    const live = LIVE[event.event_type];
    if (final) {
      run.outcome = final;
      run.finishedAt = event.ts;
      const duration = event.data["print_duration_s"];
      if (typeof duration === "number") run.durationS = duration;
    } else if (live && !run.finishedAt) {
      run.outcome = live;
    }
  }
  return [...runs.values()].reverse();
}
