import type { FunctionComponent } from "preact";
import { useLayoutEffect, useRef, useState } from "preact/hooks";
import { matchPage, PAGES, type PageEntry, type PageProps } from "./pages.js";
import { Link, useLocation } from "./router.js";

/** Whether a navigation entry is the page shown, or the list a detail page belongs to. */
const current = (path: string, pathname: string) => {
  const here = pathname.replace(/\/+$/, "");
  return here === path || (path !== "/ui" && here.startsWith(`${path}/`));
};

/** A page's entry with its module's component, once loaded. */
export type LoadedPage = { entry: PageEntry; Page: FunctionComponent<PageProps> };

/**
 * The navigation and the current page, loaded on demand. `page` is the current page's module
 * already at hand: on the server, and in the browser when it takes over the server's markup.
 */
export function App({ page }: { page?: LoadedPage | undefined }) {
  const url = useLocation();
  const match = matchPage(url.pathname);
  const [loaded, setLoaded] = useState<LoadedPage | undefined>(page);
  const [failed, setFailed] = useState<string>();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  const entry = match?.entry;

  // As in useLoad: the page's module is asked for in the render's own task, not a frame later.
  useLayoutEffect(() => {
    document.title = `${entry?.title ?? "Not found"} – Strongroom`;
    setFailed(undefined);
    // After a move inside the dashboard, a screen reader starts reading at the new page.
    if (!first.current) main.current?.focus();
    first.current = false;
    if (!entry?.load || loaded?.entry === entry) return;
    let live = true;
    entry.load().then(
      (module) => live && setLoaded({ entry, Page: module.default }),
      (error: Error) => live && setFailed(`This page could not be loaded: ${error.message}`),
    );
    return () => {
      live = false;
    };
  }, [entry]);

  let content = <h2>Page not found</h2>;
  if (match && failed) content = <p role="alert">{failed}</p>;
  else if (match && !match.entry.load) content = <h2>{match.entry.title}</h2>;
  else if (match && loaded?.entry === match.entry) content = <loaded.Page url={url} params={match.params} />;
  else if (match) content = <p role="status">Loading…</p>;

  return (
    <div class="layout">
      <nav aria-label="Dashboard">
        <ul>
          {PAGES.filter((p) => p.nav !== false).map((p) => (
            <li key={p.path}>
              <Link
                href={p.path === "/ui" ? "/ui/" : p.path}
                aria-current={current(p.path, url.pathname) ? "page" : undefined}
              >
                {p.title}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <main id="content" ref={main} tabIndex={-1}>
        {content}
      </main>
    </div>
  );
}
