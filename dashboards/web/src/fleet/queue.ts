// The farm queue as the dispatcher sees it: waiting jobs in dispatch order, then those on printers, then done.
import type { Job, JobState } from "../api/types";

const WAITING: JobState[] = ["queued"];
const ACTIVE: JobState[] = ["offered", "accepted", "printing", "paused", "interrupted"];
const FINISHED_SHOWN = 50;

export interface QueueView {
  waiting: Job[];
  active: Job[];
  finished: Job[];
}

/** Higher priority first, then oldest first: the order the dispatcher offers jobs in. */
export function dispatchOrder(a: Job, b: Job): number {
  return b.priority - a.priority || Date.parse(a.created_at) - Date.parse(b.created_at);
}

export function queueView(jobs: Job[]): QueueView {
  return {
    waiting: jobs.filter((j) => WAITING.includes(j.state)).sort(dispatchOrder),
    active: jobs.filter((j) => ACTIVE.includes(j.state)).sort(dispatchOrder),
    finished: jobs.filter((j) => !WAITING.includes(j.state) && !ACTIVE.includes(j.state)).slice(0, FINISHED_SHOWN),
  };
}

/** The priority that moves `waiting[index]` one place up (-1) or down (+1), or null at either end. */
export function movedPriority(waiting: Job[], index: number, direction: -1 | 1): number | null {
  const neighbour = waiting[index + direction];
  if (!neighbour) return null;
  const priority = direction === -1 ? neighbour.priority + 1 : neighbour.priority - 1;
  return Math.max(-1000, Math.min(1000, priority));
}

export function requirementsText(job: Job): string[] {
  const r = job.requirements;
  const parts: string[] = [];
  if (r.material) parts.push(r.material);
  if (r.nozzle_mm !== null) parts.push(`${r.nozzle_mm} mm nozzle`);
  if (r.min_build_volume) parts.push(`≥ ${r.min_build_volume.x_mm}×${r.min_build_volume.y_mm}×${r.min_build_volume.z_mm} mm`);
  parts.push(...r.tags.map((t) => `#${t}`));
  return parts;
}
