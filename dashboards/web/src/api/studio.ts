// The design studio's API: sessions, turns, undo, model files, print.
import { get, request } from "./client";
import { authedFetch } from "./http";
import type { Job } from "./types";

export type DesignSpec = { family: string } & Record<string, unknown>;

export interface PrintIssue {
  code: string;
  severity: "error" | "warning";
  message: string;
}

export interface Printability {
  ok: boolean;
  issues: PrintIssue[];
  volume_cm3: number;
  mass_g: number;
  filament_m: number;
  cost: number;
  overhang_area_mm2: number;
}

export type TurnKind = "spec" | "question" | "refusal" | "undo";

export interface Turn {
  seq: number;
  role: "user" | "studio";
  text: string;
  kind: string | null;
  version: number;
  created_at: string;
}

export interface TurnResult {
  reply: string;
  kind: TurnKind;
  lang: "en" | "pt";
  question?: string | null;
  spec: DesignSpec | null;
  version: number;
  printability?: Printability | null;
  preview_url?: string | null;
}

export interface DesignSummary {
  id: string;
  title: string | null;
  lang: "en" | "pt" | null;
  spec: DesignSpec | null;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface DesignDetail extends DesignSummary {
  turns: Turn[];
  printability?: Printability | null;
  preview_url?: string | null;
  last?: TurnResult | null;
}

const base = (id: string): string => `/api/designs/${encodeURIComponent(id)}`;

export const listDesigns = (): Promise<DesignSummary[]> => get<DesignSummary[]>("/api/designs", { limit: 50 });

export const createDesign = (text: string): Promise<DesignDetail> =>
  request<DesignDetail>("POST", "/api/designs", { json: { text } });

export const getDesign = (id: string): Promise<DesignDetail> => get<DesignDetail>(base(id));

export const sayToDesign = (id: string, text: string): Promise<TurnResult> =>
  request<TurnResult>("POST", `${base(id)}/turns`, { json: { text } });

export const undoDesign = (id: string): Promise<TurnResult> => request<TurnResult>("POST", `${base(id)}/undo`);

export const printDesign = (id: string, printerId: string | null): Promise<Job> =>
  request<Job>("POST", `${base(id)}/print`, { json: printerId ? { printer_id: printerId } : {} });

export const modelPath = (id: string, kind: "stl" | "3mf"): string => `${base(id)}/model.${kind}`;

/** The current design as binary STL (fetched with the token, never a bare URL). */
export async function modelStl(id: string, signal?: AbortSignal): Promise<ArrayBuffer> {
  const response = await authedFetch("GET", modelPath(id, "stl"), { accept: "model/stl" });
  signal?.throwIfAborted();
  return response.arrayBuffer();
}

/** The server-rendered preview (for browsers without WebGL): waits out the 202s while it is rendered. */
export async function previewPng(url: string, tries = 30): Promise<Blob> {
  for (let attempt = 0; attempt < tries; attempt++) {
    const response = await authedFetch("GET", url, { accept: "image/png" });
    if (response.status === 200) return response.blob();
    const wait = Number(response.headers.get("Retry-After") ?? "1");
    await new Promise((resolve) => window.setTimeout(resolve, Math.min(10, Math.max(1, wait || 1)) * 1000));
  }
  throw new Error("the preview is still being rendered: try again in a moment");
}
