// One seam for HTTP: adds the token, maps the cloud's `{code, message}` errors to ApiError, signs out on 401.
import { accessToken, signOut } from "./session";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

type Query = Record<string, string | number | boolean | null | undefined | string[]>;

function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === null || value === undefined || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) params.append(key, String(item));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

async function errorOf(response: Response): Promise<ApiError> {
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

export async function request<T>(
  method: string,
  path: string,
  options: { query?: Query; json?: unknown; form?: FormData; anonymous?: boolean } = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const token = accessToken();
  if (token && !options.anonymous) headers["Authorization"] = `Bearer ${token}`;
  let body: BodyInit | undefined;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.form) {
    body = options.form;
  }
  const response = await fetch(withQuery(path, options.query), body ? { method, headers, body } : { method, headers });
  if (!response.ok) {
    const error = await errorOf(response);
    if (response.status === 401 && !options.anonymous) signOut();
    throw error;
  }
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export const get = <T>(path: string, query?: Query): Promise<T> =>
  request<T>("GET", path, query ? { query } : {});

export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
