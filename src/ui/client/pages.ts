import type { FunctionComponent } from "preact";

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
}

/**
 * Every page of the dashboard, in navigation order. To add one: write pages/<name>-page.tsx with a
 * default export taking PageProps (it renders its own h2), then give its entry here a `load`:
 * `load: () => import("./pages/<name>-page.js")` — esbuild makes each page its own chunk, fetched
 * on first visit. Entries without `load` are pages still to be built: they show only their title.
 */
export const PAGES: readonly PageEntry[] = [
  { path: "/ui", title: "Overview", load: () => import("./pages/overview-page.js") },
  { path: "/ui/inventory", title: "Inventory", load: () => import("./pages/inventory-page.js") },
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
