// Notifications: the in-app inbox, its live stream and the per-kind preferences.
import { get, request } from "./client";

export interface Notice {
  id: string;
  kind: string;
  title: string;
  payload: Record<string, unknown>;
  created_at: string;
  read_at: string | null;
}

export type ChannelPrefs = Record<string, boolean>;

export interface Preferences {
  kinds: Record<string, ChannelPrefs>;
}

export const listNotices = (unread = false, limit = 100): Promise<Notice[]> =>
  get<Notice[]>("/api/notifications", { unread: unread || undefined, limit });

export const markRead = (id: string): Promise<void> =>
  request<void>("POST", `/api/notifications/${encodeURIComponent(id)}/read`);

export const markAllRead = (): Promise<void> => request<void>("POST", "/api/notifications/read-all");

export const getPreferences = (): Promise<Preferences> => get<Preferences>("/api/notifications/preferences");

export const putPreferences = (kinds: Record<string, ChannelPrefs>): Promise<Preferences> =>
  request<Preferences>("PUT", "/api/notifications/preferences", { json: { kinds } });

/** EventSource cannot set headers, so the token goes in the query. */
export const noticeStreamUrl = (token: string): string =>
  `/api/notifications/stream?access_token=${encodeURIComponent(token)}`;
