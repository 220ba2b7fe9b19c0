import type { FunctionComponent } from "preact";
import { readAhead } from "./api.js";
import { inventoryPaths, viewOf } from "./inventory-requests.js";

/** What a page is given: the address it was opened at and the values of its path's `:params`. */
export interface PageProps {
  url: URL;
  params: Record<string, string>;
}

export interface PageEntry {
  /** `/ui/...`, with `:name` segments for values (matched in order, the first match wins). */
  path: string;
  title: string;
  /** False for detail pages, reached by links rather than from the navigation. */
  nav?: boolean;
  /** The page's module, loaded on first visit; without it the page shows only its title. */
  load?: () => Promise<{ default: FunctionComponent<PageProps> }>;
  /** The admin API paths the page reads as it opens at `url`, asked for before its chunk runs. */
  reads?: (url: URL) => string[];
  /**
   * Those of the reads the server draws the page's first markup with, when it is rendered there;
   * the others (slow ones, such as counts over every match) follow from the browser.
   */
  renderedWith?: (url: URL) => string[];
}

/**
 * Every page of the dashboard, in navigation order. To add one: write pages/<name>-page.tsx with a
 * default export taking PageProps (it renders its own h2), then give its entry here a `load`:
 * `load: () => import("./pages/<name>-page.js")` — esbuild makes each page its own chunk, fetched
 * on first visit. Entries without `load` are pages still to be built: they show only their title.
 */
export const PAGES: readonly PageEntry[] = [
  { path: "/ui", title: "Overview", load: () => import("./pages/overview-page.js") },
  {
    path: "/ui/inventory",
    title: "Inventory",
    load: () => import("./pages/inventory-page.js"),
    reads: (url) => {
      const { list, facets } = inventoryPaths(viewOf(url.searchParams));
      return [list, facets];
    },
    renderedWith: (url) => [inventoryPaths(viewOf(url.searchParams)).list],
  },
  {
    path: "/ui/inventory/:fingerprint",
    title: "Certificate",
    nav: false,
    load: () => import("./pages/certificate-page.js"),
  },
  { path: "/ui/vaults", title: "Vaults", load: () => import("./pages/vaults-page.js") },
  { path: "/ui/vaults/:vault", title: "Vault", nav: false, load: () => import("./pages/vault-page.js") },
  {
    path: "/ui/vaults/:vault/:collection/:name",
    title: "Vault object",
    nav: false,
    load: () => import("./pages/vault-object-page.js"),
  },
  { path: "/ui/alerts", title: "Alerts", load: () => import("./pages/alerts-page.js") },
  { path: "/ui/approvals", title: "Approvals", load: () => import("./pages/approvals-page.js") },
  {
    path: "/ui/approvals/:id",
    title: "Approval request",
    nav: false,
    load: () => import("./pages/approval-page.js"),
  },
  { path: "/ui/cas", title: "CAs", load: () => import("./pages/cas-page.js") },
  { path: "/ui/cas/:name", title: "CA", nav: false, load: () => import("./pages/ca-page.js") },
  { path: "/ui/discovery", title: "Discovery", load: () => import("./pages/discovery-page.js") },
  {
    path: "/ui/discovery/scans/:id",
    title: "Scan",
    nav: false,
    load: () => import("./pages/scan-page.js"),
  },
  { path: "/ui/rules", title: "Rules", load: () => import("./pages/rules-page.js") },
  { path: "/ui/campaigns", title: "Campaigns", load: () => import("./pages/campaigns-page.js") },
  {
    path: "/ui/campaigns/:name",
    title: "Campaign",
    nav: false,
    load: () => import("./pages/campaign-page.js"),
  },
  { path: "/ui/audit", title: "Audit", load: () => import("./pages/audit-page.js") },
  { path: "/ui/access", title: "Access", load: () => import("./pages/access-page.js") },
  { path: "/ui/settings", title: "Settings", load: () => import("./pages/settings-page.js") },
];

/** The page at `pathname` (trailing slashes ignored) and its parameters; undefined when none is. */
export function matchPage(
  pathname: string,
): { entry: PageEntry; params: Record<string, string> } | undefined {
  const parts = pathname.replace(/\/+$/, "").split("/");
  for (const entry of PAGES) {
    const pattern = entry.path.split("/");
    if (pattern.length !== parts.length) continue;
    const params: Record<string, string> = {};
    const matches = pattern.every((segment, i) => {
      const part = parts[i] as string;
      if (segment.startsWith(":")) {
        params[segment.slice(1)] = decodeURIComponent(part);
        return part !== "";
      }
      return segment === part;
    });
    if (matches) return { entry, params };
  }
  return undefined;
}

/**
 * Starts what the page at `url` needs — its chunk and its opening reads — at the user's click or
 * submit, so they run beside each other and beside the render rather than one after another.
 */
export function prepare(url: URL): void {
  loadChunk(url);
  for (const path of matchPage(url.pathname)?.entry.reads?.(url) ?? []) readAhead(path);
}

/**
 * Starts loading the chunk of the page at `url`, and nothing else: a pointer resting on a link or
 * the keyboard's focus on it comes well before the click, and the code changes with no data.
 */
export function loadChunk(url: URL): void {
  // A chunk that fails to load is reported by the App, which asks for it again.
  matchPage(url.pathname)
    ?.entry.load?.()
    .catch(() => undefined);
}
