// Bodies of the cloud API the UI reads (see /openapi.json of a running cloud).

export type PrinterState = "standby" | "printing" | "paused" | "complete" | "cancelled" | "error";

export interface HeaterReading {
  actual: number;
  target: number;
  power?: number | null;
}

export interface JobProgress {
  job_id?: string | null;
  filename: string;
  progress: number;
  print_duration: number;
  filament_used: number;
  current_layer?: number | null;
  total_layer?: number | null;
  eta_s?: number | null;
}

export interface QueueSnapshot {
  state: "ready" | "loading" | "starting" | "paused";
  length: number;
}

export interface FleetPrinter {
  id: string;
  name: string;
  tags: string[];
  nozzle_mm: number | null;
  material: string | null;
  online: boolean;
  online_since: string | null;
  printer_state: PrinterState | null;
  link: string | null;
  message: string | null;
  queue: QueueSnapshot | null;
  progress: number | null;
  job: JobProgress | null;
  temps: Record<string, HeaterReading>;
  seq: number | null;
  state_at: string | null;
  updated_at: string | null;
}

export interface PrinterPage {
  items: FleetPrinter[];
  total: number;
  limit: number;
  offset: number;
}

export interface FleetEvent {
  event_id: string;
  seq: number;
  ts: string;
  event_type: string;
  job_id: string | null;
  data: Record<string, unknown>;
  received_at: string;
}

export interface EventPage {
  items: FleetEvent[];
  next_after_seq: number | null;
}

export interface RawSample {
  ts: string;
  temps: Record<string, HeaterReading>;
  progress: number | null;
  layer: number | null;
}

export interface TelemetrySeries {
  printer_id: string;
  resolution: "raw" | "minute";
  since: string;
  until: string;
  items: RawSample[];
  truncated: boolean;
}

export interface BuildVolume {
  x_mm: number;
  y_mm: number;
  z_mm: number;
}

export interface Requirements {
  material: string | null;
  nozzle_mm: number | null;
  min_build_volume: BuildVolume | null;
  tags: string[];
}

export type JobState =
  | "queued"
  | "offered"
  | "accepted"
  | "printing"
  | "paused"
  | "interrupted"
  | "completed"
  | "failed"
  | "cancelled";

export interface Job {
  id: string;
  filename: string;
  state: JobState;
  reason: string | null;
  priority: number;
  requirements: Requirements;
  printer_id: string | null;
  revision: number;
  size_bytes: number;
  sha256: string;
  est_print_s: number;
  filament_mm: number;
  offer_attempts: number;
  created_at: string;
  updated_at: string;
  offered_at: string | null;
  started_at: string | null;
  finished_at: string | null;
}

export interface CommandAccepted {
  cmd_id: string;
  printer_id: string;
  verb: string;
  status: string;
}

export interface CommandOut {
  cmd_id: string;
  printer_id: string;
  verb: string;
  status: string;
  code: string | null;
  message: string | null;
  attempts: number;
  acked_at: string | null;
}

export type Role = "viewer" | "operator" | "admin";

export interface Me {
  kind: "user" | "api_key";
  id: string;
  email: string | null;
  role: Role;
  organisation: { id: string; name: string };
}

export interface TokenResponse {
  access_token: string;
  token_type: "bearer";
  expires_in: number;
  expires_at: string;
}

export type PrinterVerb = "pause" | "resume" | "cancel" | "queue-start";
