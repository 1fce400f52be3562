// Calls the JSON client cannot make: extra headers (Idempotency-Key) and binary bodies (STL, 3MF, downloads).
// Same rules as client.ts: the bearer token, the cloud's `{code, message}` errors as ApiError, sign-out on 401.
import { ApiError } from "./client";
import { accessToken, signOut } from "./session";

async function failure(response: Response): Promise<ApiError> {
  let code = "http_" + response.status;
  let message = response.statusText || "request failed";
  try {
    const body = (await response.json()) as { code?: unknown; message?: unknown; detail?: unknown };
    if (typeof body.code === "string") code = body.code;
    if (typeof body.message === "string") message = body.message;
    else if (typeof body.detail === "string") message = body.detail;
  } catch {
    // not JSON: keep the status text
  }
  return new ApiError(response.status, code, message);
}

/** A fetch with the token; throws ApiError when the answer is not 2xx. */
export async function authedFetch(
  method: string,
  path: string,
  options: { json?: unknown; headers?: Record<string, string>; accept?: string } = {},
): Promise<Response> {
  const headers: Record<string, string> = { Accept: options.accept ?? "application/json", ...options.headers };
  const token = accessToken();
  if (token) headers["Authorization"] = `Bearer ${token}`;
  const init: RequestInit = { method, headers };
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.json);
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    const error = await failure(response);
    if (response.status === 401) signOut();
    throw error;
  }
  return response;
}

/** The file name of a Content-Disposition header, or `fallback`. */
export function fileNameOf(response: Response, fallback: string): string {
  const header = response.headers.get("Content-Disposition") ?? "";
  const found = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(header);
  if (!found?.[1]) return fallback;
  try {
    return decodeURIComponent(found[1]);
  } catch {
    return found[1];
  }
}

/** Download an authenticated file: fetched with the token, saved from a blob URL. */
export async function downloadFile(path: string, fallbackName: string): Promise<string> {
  const response = await authedFetch("GET", path, { accept: "*/*" });
  const name = fileNameOf(response, fallbackName);
  const url = URL.createObjectURL(await response.blob());
  try {
    const link = document.createElement("a");
    link.href = url;
    link.download = name;
    link.rel = "noopener";
    document.body.append(link);
    link.click();
    link.remove();
  } finally {
    window.setTimeout(() => URL.revokeObjectURL(url), 30_000);
  }
  return name;
}
