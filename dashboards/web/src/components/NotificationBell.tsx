// The bell in the top bar: a link to the notifications page that says how many are unread, live.
import type { JSX } from "preact";
import { useNotifications, type NotificationCenter } from "../notify/center";
import { Link } from "../router";

export function NotificationBell({ center, path }: { center: NotificationCenter; path: string }): JSX.Element {
  useNotifications(center);
  const count = center.unread;
  const label = count === 0 ? "Notifications, none unread" : `Notifications, ${count} unread`;
  return (
    <Link
      href="/notifications"
      class="bell"
      aria-label={label}
      title={label}
      aria-current={path === "/notifications" ? "page" : undefined}
      data-unread={count}
    >
      <svg aria-hidden="true" viewBox="0 0 24 24" width="20" height="20" focusable="false">
        <path
          fill="currentColor"
          d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z"
        />
      </svg>
      {count > 0 && (
        <span class="bell-count" aria-hidden="true">
          {count > 99 ? "99+" : count}
        </span>
      )}
    </Link>
  );
}
