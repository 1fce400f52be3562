// The top bar: where you are, where you can go, what is new (the bell), who you are.
import type { JSX } from "preact";
import type { Me } from "../api/types";
import { signOut } from "../api/session";
import type { FeedStatus } from "../fleet/store";
import type { NotificationCenter } from "../notify/center";
import { Link } from "../router";
import { NotificationBell } from "./NotificationBell";

const FEED_LABELS: Record<FeedStatus, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  polling: "Live feed down: refreshing every 20 s",
};

interface Props {
  path: string;
  me: Me | null;
  feed: FeedStatus;
  notices: NotificationCenter;
}

function NavLink({ href, path, label }: { href: string; path: string; label: string }): JSX.Element {
  const current = href === "/" ? path === "/" || path.startsWith("/printers") : path.startsWith(href);
  return (
    <li>
      <Link href={href} aria-current={current ? "page" : undefined}>
        {label}
      </Link>
    </li>
  );
}

export function Nav({ path, me, feed, notices }: Props): JSX.Element {
  return (
    <header class="topbar">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Link href="/" class="brand">
        3D Pot
      </Link>
      <nav aria-label="Main">
        <ul class="nav-list">
          <NavLink href="/" path={path} label="Fleet" />
          <NavLink href="/queue" path={path} label="Farm queue" />
          <NavLink href="/studio" path={path} label="Design studio" />
          <NavLink href="/market" path={path} label="Marketplace" />
        </ul>
      </nav>
      <div class="topbar-end">
        <span class={`feed feed-${feed}`} role="status" aria-live="polite" data-feed={feed}>
          {FEED_LABELS[feed]}
        </span>
        <NotificationBell center={notices} path={path} />
        {me && (
          <span class="who" title={me.organisation.name}>
            {me.email ?? "API key"}
          </span>
        )}
        <button type="button" class="button button-small" onClick={signOut}>
          Sign out
        </button>
      </div>
    </header>
  );
}
