// Notifications: the newest first (mark one or all read), and which kinds reach me by which channel.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { messageOf } from "../api/client";
import {
  getPreferences,
  markAllRead,
  markRead,
  putPreferences,
  type ChannelPrefs,
  type Notice,
} from "../api/notifications";
import { dateTime } from "../format";
import { useNotifications, type NotificationCenter } from "../notify/center";
import { Link } from "../router";

const KIND_LABELS: Record<string, string> = {
  "job.completed": "Job completed",
  "job.failed": "Job failed",
  "printer.error": "Printer error",
  "printer.offline": "Printer offline",
  sale: "Sale",
  review: "Review",
};
const CHANNEL_LABELS: Record<string, string> = { in_app: "In the app", email: "E-mail" };

const kindLabel = (kind: string): string => KIND_LABELS[kind] ?? kind;

/** Where a notification points to, if anywhere in this UI. */
function target(notice: Notice): { href: string; label: string } | null {
  const printer = notice.payload["printer_id"];
  const listing = notice.payload["listing_id"];
  if (typeof listing === "string") return { href: `/market/${encodeURIComponent(listing)}`, label: "Open the listing" };
  if (typeof printer === "string") return { href: `/printers/${encodeURIComponent(printer)}`, label: "Open the printer" };
  return null;
}

function NoticeRow({ notice, onRead }: { notice: Notice; onRead: () => void }): JSX.Element {
  const unread = notice.read_at === null;
  const link = target(notice);
  return (
    <li class={unread ? "notice notice-unread" : "notice"} data-notification-id={notice.id} data-unread={unread}>
      <div class="notice-main">
        <p class="notice-title">
          {unread && <span class="visually-hidden">Unread: </span>}
          {notice.title}
        </p>
        <p class="muted">
          <span class="badge">{kindLabel(notice.kind)}</span> · {dateTime(notice.created_at)}
          {link && (
            <>
              {" "}
              · <Link href={link.href}>{link.label}</Link>
            </>
          )}
        </p>
      </div>
      {unread && (
        <button type="button" class="button button-small" onClick={onRead} aria-label={`Mark read: ${notice.title}`}>
          Mark read
        </button>
      )}
    </li>
  );
}

function PreferencesForm(): JSX.Element {
  const [kinds, setKinds] = useState<Record<string, ChannelPrefs> | null>(null);
  const [status, setStatus] = useState<{ text: string; error: boolean } | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    getPreferences().then(
      (prefs) => setKinds(prefs.kinds),
      (err) => setStatus({ text: messageOf(err), error: true }),
    );
  }, []);

  const toggle = (kind: string, channel: string, on: boolean) => {
    setKinds((held) => (held ? { ...held, [kind]: { ...held[kind], [channel]: on } } : held));
    setStatus(null);
  };

  const save = async (event: Event) => {
    event.preventDefault();
    if (!kinds) return;
    setBusy(true);
    try {
      setKinds((await putPreferences(kinds)).kinds);
      setStatus({ text: "Preferences saved.", error: false });
    } catch (err) {
      setStatus({ text: messageOf(err), error: true });
    } finally {
      setBusy(false);
    }
  };

  const channels = kinds ? [...new Set(Object.values(kinds).flatMap((c) => Object.keys(c)))].sort().reverse() : [];
  return (
    <form class="panel" onSubmit={save} aria-labelledby="prefs-title">
      <h2 id="prefs-title">What reaches me</h2>
      {kinds === null ? (
        <p class="muted">Loading preferences…</p>
      ) : (
        <div class="table-wrap">
          <table class="table prefs">
            <caption class="visually-hidden">Channels per kind of notification</caption>
            <thead>
              <tr>
                <th scope="col">Kind</th>
                {channels.map((channel) => (
                  <th key={channel} scope="col">
                    {CHANNEL_LABELS[channel] ?? channel}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {Object.keys(kinds)
                .sort()
                .map((kind) => (
                  <tr key={kind}>
                    <th scope="row">{kindLabel(kind)}</th>
                    {channels.map((channel) => {
                      const id = `pref-${kind}-${channel}`.replace(/[^A-Za-z0-9_-]/g, "-");
                      return (
                        <td key={channel}>
                          <input
                            id={id}
                            type="checkbox"
                            class="check"
                            checked={kinds[kind]?.[channel] ?? false}
                            onChange={(e) => toggle(kind, channel, e.currentTarget.checked)}
                            aria-label={`${kindLabel(kind)}: ${CHANNEL_LABELS[channel] ?? channel}`}
                          />
                        </td>
                      );
                    })}
                  </tr>
                ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="button-row form-end">
        <button type="submit" class="button button-primary" disabled={busy || kinds === null}>
          {busy ? "Saving…" : "Save preferences"}
        </button>
        <p class={status?.error ? "error" : "muted"} role="status" aria-live="polite">
          {status?.text}
        </p>
      </div>
    </form>
  );
}

export function NotificationsPage({ center }: { center: NotificationCenter }): JSX.Element {
  useNotifications(center);
  const [error, setError] = useState<string | null>(null);
  const [onlyUnread, setOnlyUnread] = useState(false);

  useEffect(() => {
    void center.reload();
  }, [center]);

  const act = async (action: () => Promise<void>, ids: string[] | "all") => {
    try {
      await action();
      center.markedRead(ids);
      setError(null);
    } catch (err) {
      setError(messageOf(err));
    }
  };

  const items = center.recent().filter((n) => !onlyUnread || n.read_at === null);
  return (
    <main id="main" class="page">
      <div class="page-head">
        <h1>Notifications</h1>
        <p class="muted" role="status" aria-live="polite" data-unread-count={center.unread}>
          {center.unread === 0 ? "Nothing unread" : `${center.unread} unread`}
        </p>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <section class="panel" aria-labelledby="inbox-title">
        <div class="page-head">
          <h2 id="inbox-title">Inbox</h2>
          <div class="button-row">
            <label class="inline-check">
              <input type="checkbox" class="check" checked={onlyUnread} onChange={(e) => setOnlyUnread(e.currentTarget.checked)} />
              Only unread
            </label>
            <button
              type="button"
              class="button button-small"
              disabled={center.unread === 0}
              onClick={() => void act(markAllRead, "all")}
            >
              Mark all read
            </button>
          </div>
        </div>
        {!center.loaded ? (
          <p class="muted">Loading notifications…</p>
        ) : items.length === 0 ? (
          <p class="muted">{onlyUnread ? "Nothing unread." : "No notifications yet."}</p>
        ) : (
          <ul class="notices">
            {items.map((notice) => (
              <NoticeRow key={notice.id} notice={notice} onRead={() => void act(() => markRead(notice.id), [notice.id])} />
            ))}
          </ul>
        )}
      </section>
      <PreferencesForm />
    </main>
  );
}
