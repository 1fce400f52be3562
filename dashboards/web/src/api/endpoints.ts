// Every call the UI makes, typed. Paths and bodies follow the cloud's OpenAPI.
import { get, request } from "./client";
import type {
  CommandAccepted,
  CommandOut,
  EventPage,
  FleetPrinter,
  Job,
  JobState,
  Me,
  PrinterPage,
  PrinterVerb,
  TelemetrySeries,
  TokenResponse,
} from "./types";

export const login = (email: string, password: string): Promise<TokenResponse> =>
  request<TokenResponse>("POST", "/api/auth/login", { json: { email, password }, anonymous: true });

export const me = (): Promise<Me> => get<Me>("/api/me");

const PAGE = 1000;

/** Every printer of the organisation with its latest state (all pages). */
export async function fleetPrinters(): Promise<FleetPrinter[]> {
  const all: FleetPrinter[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await get<PrinterPage>("/api/fleet/printers", { limit: PAGE, offset });
    all.push(...page.items);
    if (all.length >= page.total || page.items.length < PAGE) return all;
  }
}

export const fleetPrinter = (pid: string): Promise<FleetPrinter> =>
  get<FleetPrinter>(`/api/fleet/printers/${encodeURIComponent(pid)}`);

export const printerEvents = (pid: string, afterSeq = -1, limit = PAGE): Promise<EventPage> =>
  get<EventPage>(`/api/fleet/printers/${encodeURIComponent(pid)}/events`, { after_seq: afterSeq, limit });

export const printerTelemetry = (pid: string, since: Date, until?: Date): Promise<TelemetrySeries> =>
  get<TelemetrySeries>(`/api/fleet/printers/${encodeURIComponent(pid)}/telemetry`, {
    since: since.toISOString(),
    until: until?.toISOString(),
    resolution: "raw",
  });

export const sendCommand = (pid: string, verb: PrinterVerb): Promise<CommandAccepted> =>
  request<CommandAccepted>("POST", `/api/printers/${encodeURIComponent(pid)}/commands/${verb}`);

export const command = (cmdId: string): Promise<CommandOut> =>
  get<CommandOut>(`/api/commands/${encodeURIComponent(cmdId)}`);

export const jobs = (states?: JobState[]): Promise<Job[]> =>
  get<Job[]>("/api/jobs", { state: states, limit: 500 });

export const uploadJob = (form: FormData): Promise<Job> => request<Job>("POST", "/api/jobs", { form });

export const setJobPriority = (jobId: string, priority: number): Promise<Job> =>
  request<Job>("PATCH", `/api/jobs/${encodeURIComponent(jobId)}`, { json: { priority } });

export const cancelJob = (jobId: string): Promise<{ job: Job; cmd_id: string | null }> =>
  request("POST", `/api/jobs/${encodeURIComponent(jobId)}/cancel`);

/** The live feed's URL: EventSource cannot set headers, so the token goes in the query. */
export const streamUrl = (token: string): string =>
  `/api/fleet/stream?access_token=${encodeURIComponent(token)}`;
