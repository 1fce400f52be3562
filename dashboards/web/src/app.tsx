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
import { FleetPage } from "./pages/FleetPage";
import { LoginPage, safeNext } from "./pages/LoginPage";
import { PrinterPage } from "./pages/PrinterPage";
import { QueuePage } from "./pages/QueuePage";
import { Link, match, navigate, useLocation } from "./router";

const TITLES: Record<string, string> = { "/": "Fleet", "/queue": "Farm queue", "/login": "Sign in" };

export function App(): JSX.Element {
  const { path, query } = useLocation();
  const [token, setToken] = useState(accessToken());
  const [me, setMe] = useState<Me | null>(null);
  const store = useMemo(() => new FleetStore(), []);
  const feed = useMemo(() => new FleetFeed(store, accessToken), [store]);
  useStore(store);

  useEffect(() => onSessionChange(() => setToken(accessToken())), []);

  useEffect(() => {
    if (!token) {
      feed.stop();
      store.clear();
      setMe(null);
      return;
    }
    feed.start();
    fetchMe().then(setMe, () => setMe(null));
    return () => feed.stop();
  }, [token]);

  useEffect(() => {
    if (!token && path !== "/login") {
      const next = path === "/" && !location.search ? "" : `?next=${encodeURIComponent(path + location.search)}`;
      navigate(`/login${next}`, { replace: true });
    }
  }, [token, path]);

  useEffect(() => {
    document.title = `${TITLES[path] ?? (path.startsWith("/printers/") ? "Printer" : "3D Pot")} · 3D Pot`;
  }, [path]);

  useEffect(() => {
    if (token && path === "/login") navigate(safeNext(query.get("next")), { replace: true });
  }, [token, path]);

  if (!token) return <LoginPage next={query.get("next")} />;

  const canOperate = me !== null && me.role !== "viewer";
  const printer = match("/printers/:pid", path);
  let page: JSX.Element;
  if (path === "/" || path === "/login") page = <FleetPage store={store} query={query} />;
  else if (printer?.["pid"]) page = <PrinterPage pid={printer["pid"]} store={store} canOperate={canOperate} />;
  else if (path === "/queue") page = <QueuePage store={store} canOperate={canOperate} />;
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
      <Nav path={path} me={me} feed={store.status} />
      {page}
    </>
  );
}
