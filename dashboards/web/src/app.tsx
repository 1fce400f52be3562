// The app shell: session, the one live feed, the top bar and the routes.
// A new top-level route also goes in the cloud's _WebPath (cloud/main.py), which serves index.html for it.
import type { JSX } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { me as fetchMe } from "./api/endpoints";
import { accessToken, onSessionChange } from "./api/session";
import type { Me } from "./api/types";
import { Nav } from "./components/Nav";
import { FleetFeed } from "./fleet/feed";
import { FleetStore, useStore } from "./fleet/store";
import { NotificationCenter } from "./notify/center";
import { ListingPage } from "./pages/ListingPage";
import { MarketPage } from "./pages/MarketPage";
import { NotificationsPage } from "./pages/NotificationsPage";
import { StudioPage } from "./pages/StudioPage";
import { FleetPage } from "./pages/FleetPage";
import { LoginPage, safeNext } from "./pages/LoginPage";
import { PrinterPage } from "./pages/PrinterPage";
import { QueuePage } from "./pages/QueuePage";
import { Link, match, navigate, useLocation } from "./router";

const TITLES: Record<string, string> = {
  "/": "Fleet",
  "/queue": "Farm queue",
  "/login": "Sign in",
  "/studio": "Design studio",
  "/market": "Marketplace",
  "/notifications": "Notifications",
};

function titleOf(path: string): string {
  if (TITLES[path]) return TITLES[path];
  if (path.startsWith("/printers/")) return "Printer";
  if (path.startsWith("/studio/")) return "Design studio";
  if (path.startsWith("/market/")) return "Marketplace";
  return "3D Pot";
}

export function App(): JSX.Element {
  const { path, query } = useLocation();
  const [token, setToken] = useState(accessToken());
  const [me, setMe] = useState<Me | null>(null);
  const store = useMemo(() => new FleetStore(), []);
  const feed = useMemo(() => new FleetFeed(store, accessToken), [store]);
  const notices = useMemo(() => new NotificationCenter(accessToken), []);
  useStore(store);

  useEffect(() => onSessionChange(() => setToken(accessToken())), []);

  useEffect(() => {
    if (!token) {
      feed.stop();
      notices.stop();
      store.clear();
      setMe(null);
      return;
    }
    feed.start();
    notices.start();
    fetchMe().then(setMe, () => setMe(null));
    return () => {
      feed.stop();
      notices.stop();
    };
  }, [token]);

  useEffect(() => {
    if (!token && path !== "/login") {
      const next = path === "/" && !location.search ? "" : `?next=${encodeURIComponent(path + location.search)}`;
      navigate(`/login${next}`, { replace: true });
    }
  }, [token, path]);

  useEffect(() => {
    document.title = `${titleOf(path)} · 3D Pot`;
  }, [path]);

  useEffect(() => {
    if (token && path === "/login") navigate(safeNext(query.get("next")), { replace: true });
  }, [token, path]);

  if (!token) return <LoginPage next={query.get("next")} />;

  const canOperate = me !== null && me.role !== "viewer";
  const printer = match("/printers/:pid", path);
  const design = match("/studio/:id", path);
  const listing = match("/market/:id", path);
  let page: JSX.Element;
  if (path === "/" || path === "/login") page = <FleetPage store={store} query={query} />;
  else if (printer?.["pid"]) page = <PrinterPage pid={printer["pid"]} store={store} canOperate={canOperate} />;
  else if (path === "/queue") page = <QueuePage store={store} canOperate={canOperate} />;
  else if (path === "/studio" || design?.["id"])
    page = <StudioPage designId={design?.["id"] ?? null} store={store} canOperate={canOperate} />;
  else if (path === "/market") page = <MarketPage query={query} />;
  else if (listing?.["id"]) page = <ListingPage key={listing["id"]} listingId={listing["id"]} store={store} me={me} />;
  else if (path === "/notifications") page = <NotificationsPage center={notices} />;
  else
    page = (
      <main id="main" class="page">
        <h1>Not found</h1>
        <p>
          Nothing lives at {path}. <Link href="/">Back to the fleet</Link>
        </p>
      </main>
    );

  return (
    <>
      <Nav path={path} me={me} feed={store.status} notices={notices} />
      {page}
    </>
  );
}
