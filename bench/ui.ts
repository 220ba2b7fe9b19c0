/**
 * The dashboard's Inventory page at scale: `--count` inventory records (default 1,000,000; the
 * bench/inventory corpus, three locations each, ingested once into bench/.cache/ui-{count}/ and
 * reused), the real server on SQLite, and Debian's Chromium. Measured in the same run, alternating:
 *
 *   - first page: navigation to /ui/inventory until its rows are shown, beside the same two API
 *     calls (the first page and the facet counts) made directly; both as a document load (an
 *     address typed or a bookmark) and from the navigation (Inventory clicked on the Overview);
 *   - filter change: pressing Apply on a typed filter until the new rows are shown, beside the
 *     same calls for that filter made directly (the time to the page of rows, with the facets in
 *     flight, as the page has them).
 *
 * UI times are read off the page's own clock (from the navigation's start, or the click's event
 * time, to the mutation that shows the rows); the wall time through Playwright, which adds its
 * round trips to the browser, is printed beside them.
 *
 * The ratio's baseline stays the calls made directly from Node. Beside it, the floors the browser
 * itself sets, measured in the same runs: the same calls made by fetch() from inside the signed-in
 * page (its clock, its session cookie, Chromium's network stack), and for the document load the
 * same bytes of HTML with the same headers, served from the dashboard's own listener (same origin, same
 * connections) ahead of Fastify, doing no work, until the parser shows the rows.
 *
 * Also the initial JavaScript (the entry and the modules the page preloads with it) gzipped.
 *
 *   npm run bench:ui -- --count 1000000 [--runs 20]
 */
import "reflect-metadata";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { globalAgent } from "node:https";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import pino from "pino";
import { chromium } from "playwright-core";
import { loadConfig } from "../src/config/config.js";
import type { Observation } from "../src/domain/inventory/observation.js";
import { BUILT_CLIENT_DIR, loadUiAssets } from "../src/http/ui/ui-assets.js";
import { startStrongroom } from "../src/main.js";
import { corpus, domainOf, observations } from "./inventory-corpus.js";
import { expectOk, fetchToken, send } from "./support.js";

const BATCH = 500;
const PAGE_SIZE = "25";
const TARGETS = { firstPageMs: 1000, filterP95Ms: 300, overhead: 2, initialJsGzBytes: 300 * 1024 };

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? (process.argv[at + 1] ?? fallback) : fallback;
}
const count = Number(argument("count", "1000000"));
const runs = Number(argument("runs", "20"));
const log = (line: string) => console.log(line);

/**
 * The entry module and every module the page names for the browser to fetch with it (what the entry
 * imports statically and the modules the pages share), gzipped: what a first visit loads.
 */
function initialJavaScript(): { files: string[]; gzBytes: number } {
  const assets = loadUiAssets(BUILT_CLIENT_DIR);
  if (!assets) throw new Error("The dashboard is not built: run npm run build");
  const files = ["main.js", ...assets.entryImports, ...assets.pageImports];
  const gzBytes = files.reduce((sum, f) => sum + gzipSync(readFileSync(join(BUILT_CLIENT_DIR, f))).length, 0);
  return { files, gzBytes };
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
};
const ms = (v: number) => `${v.toFixed(0)} ms`;

const dataDir = fileURLToPath(new URL(`./.cache/ui-${count}/`, import.meta.url));
mkdirSync(dataDir, { recursive: true });
const ingested = join(dataDir, "ingested");
const config = loadConfig({
  env: {},
  cwd: dataDir,
  flags: { dataDir, port: 0, pkiPort: 0, logLevel: "warn", jobs: false },
});
const server = await startStrongroom(config, { logger: pino({ level: "warn" }) });
const { core } = server;

if (!existsSync(ingested)) {
  const c = corpus(count, log);
  const seenAt = new Date(c.madeAt);
  const started = performance.now();
  for (let i = 0; i < c.count; i += BATCH) {
    const batch: Observation[] = [];
    for (let j = i; j < Math.min(i + BATCH, c.count); j++) batch.push(...observations(c, j, seenAt));
    await core.inventory.observe(batch);
    if ((i / BATCH) % 200 === 0 && i > 0) {
      const s = (performance.now() - started) / 1000;
      log(`  ingested ${i.toLocaleString("en")}, ${Math.round(i / s).toLocaleString("en")}/s`);
    }
  }
  writeFileSync(ingested, `${count}\n`);
  log(
    `ingested ${count.toLocaleString("en")} certificates in ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
}
const total = (await core.inventory.facets({})).total;
log(`inventory: ${total.toLocaleString("en")} certificates (bench/.cache/ui-${count})`);

const origin = `https://localhost:${server.port}`;
const ca = readFileSync(server.admin.caFile as string, "utf8");
const token = await fetchToken(origin, server.admin, ca);
const direct = (path: string) =>
  send(`${origin}${path}`, ca, { headers: { authorization: `Bearer ${token}`, accept: "application/json" } });

const username = `bench-ui-${Date.now()}`;
const password = "a long enough bench passphrase";
const user = await core.users.create(username, password);
await core.access.assign(user.principal.id, "Strongroom Administrator", "/");

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu"],
});
const page = await (
  await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1440, height: 900 } })
).newPage();
// The page's own clock: when the rows for a query were first shown, and when the last click came,
// in ms since the document's navigation started. Playwright's round trips to the browser (each
// poll, each command) are the harness's cost, not the page's, and under load they added 100–200 ms.
await page.addInitScript(() => {
  const w = window as unknown as { __shown: Record<string, number>; __clickAt: number };
  w.__shown = {};
  w.__clickAt = 0;
  document.addEventListener(
    "click",
    (e) => {
      w.__clickAt = e.timeStamp;
    },
    true,
  );
  new MutationObserver(() => {
    const table = document.querySelector("#inventory");
    const q = table?.getAttribute("data-query");
    if (q != null && table?.getAttribute("aria-busy") === "false" && !(q in w.__shown))
      w.__shown[q] = performance.now();
  }).observe(document, { subtree: true, childList: true, attributes: true });
});
/** When the rows for `query` were shown, and the last click, by the page's clock. */
const pageClock = (query: string) =>
  page.evaluate((q) => {
    const w = window as unknown as { __shown: Record<string, number>; __clickAt: number };
    return { shownAt: w.__shown[q] as number, clickAt: w.__clickAt };
  }, query);

await page.goto(`${origin}/ui/sign-in`);
await page.getByLabel("Username").fill(username);
await page.getByLabel("Password").fill(password);
await page.getByRole("button", { name: "Sign in" }).click();
await page.waitForURL(`${origin}/ui/`);

/** The rows the page shows answer `query` (the address's query string), and it takes input. */
const rowsFor = (query: string) =>
  page.waitForFunction(
    (q) => {
      const table = document.querySelector("#inventory");
      return table?.getAttribute("data-query") === q && table.getAttribute("aria-busy") === "false";
    },
    query,
    // A short interval, not animation frames, which a headless tab may delay.
    { timeout: 60_000, polling: 5 },
  );

type Measure = {
  ui: number[];
  api: number[];
  harness: number[];
  browser: number[];
  staticDocument: number[];
};
const measure = (): Measure => ({ ui: [], api: [], harness: [], browser: [], staticDocument: [] });
const firstPage = measure();
const fromNavigation = measure();
const filterChange = measure();

// One warm-up of each, so assets are cached as a returning user has them and the database pages
// the first queries touch are in memory for both sides alike.
const warmUp = await page.goto(`${origin}/ui/inventory`);
if (!warmUp) throw new Error("no Inventory document");
const inventoryDocument = await warmUp.body();
const documentHeaders = warmUp.headers();
await rowsFor("");
expectOk("warm-up", await direct(`/admin/inventory?limit=${PAGE_SIZE}`));

// The document-load floor: the Inventory's own HTML (the rows the server drew in it, the same bytes
// and headers) answered at once on the same origin, ahead of Fastify on the same listener. Another
// origin is no floor: the dashboard's Cross-Origin-Opener-Policy makes Chromium move between origins
// in a new renderer process, which cost more than the whole server render in a trial.
const STATIC_PATH = "/bench-ui-static-inventory";
{
  const headers: Record<string, string> = { "content-length": String(inventoryDocument.length) };
  for (const [name, value] of Object.entries(documentHeaders))
    if (!["content-length", "set-cookie", "date", "connection", "keep-alive"].includes(name))
      headers[name] = value;
  const listener = server.app.server;
  const dashboard = listener.listeners("request") as ((req: IncomingMessage, res: ServerResponse) => void)[];
  listener.removeAllListeners("request");
  listener.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === STATIC_PATH) res.writeHead(200, headers).end(inventoryDocument);
    else for (const handle of dashboard) handle.call(listener, req, res);
  });
}
/**
 * The static document's rows were shown (by the page's clock): its scripts then run on a path the
 * dashboard does not know and draw "Page not found" over them, so the DOM cannot be waited on.
 */
const staticShown = () =>
  page.waitForFunction(() => "" in (window as unknown as { __shown: Record<string, number> }).__shown, null, {
    timeout: 60_000,
    polling: 5,
  });
await page.goto(`${origin}${STATIC_PATH}`);
await staticShown();

/**
 * The calls made by fetch() from inside the signed-in page, on its clock: ms until `until` has
 * answered in full, with `alongside` in flight beside it (as the page has them); both must be 200.
 */
const browserDirect = (until: string, alongside: string) =>
  page.evaluate(
    async ({ until, alongside }) => {
      const asked = { headers: { accept: "application/json" }, credentials: "same-origin" } as const;
      const started = performance.now();
      const other = fetch(alongside, asked).then((r) =>
        r.ok ? r.text() : Promise.reject(new Error(`${alongside}: HTTP ${r.status}`)),
      );
      const first = await fetch(until, asked);
      if (!first.ok) throw new Error(`${until}: HTTP ${first.status}`);
      await first.text();
      const ms = performance.now() - started;
      await other;
      return ms;
    },
    { until, alongside },
  );
/** Both calls the Inventory opens with, from the page: ms until the later one has answered. */
const browserFirstPage = () =>
  page.evaluate(
    async (paths) => {
      const asked = { headers: { accept: "application/json" }, credentials: "same-origin" } as const;
      const started = performance.now();
      await Promise.all(
        paths.map((p) =>
          fetch(p, asked).then((r) => (r.ok ? r.text() : Promise.reject(new Error(`${p}: ${r.status}`)))),
        ),
      );
      return performance.now() - started;
    },
    [`/admin/inventory?limit=${PAGE_SIZE}`, "/admin/inventory/facets?"],
  );

/** The two calls the Inventory page makes when it opens, made directly: ms until both answered. */
async function firstPageDirect(): Promise<number> {
  const started = performance.now();
  const [list, facets] = await Promise.all([
    direct(`/admin/inventory?limit=${PAGE_SIZE}`),
    direct("/admin/inventory/facets?"),
  ]);
  expectOk("list", list);
  expectOk("facets", facets);
  return performance.now() - started;
}

for (let r = 0; r < runs; r++) {
  let started = performance.now();
  await page.goto(`${origin}/ui/inventory`, { waitUntil: "commit" });
  await rowsFor("");
  // "Interactive": the filter field takes a keystroke.
  await page.getByLabel("Subject contains").focus();
  firstPage.harness.push(performance.now() - started);
  firstPage.ui.push((await pageClock("")).shownAt);
  firstPage.browser.push(await browserFirstPage());

  firstPage.api.push(await firstPageDirect());

  await page.goto(`${origin}${STATIC_PATH}`, { waitUntil: "commit" });
  await staticShown();
  firstPage.staticDocument.push((await pageClock("")).shownAt);

  // The same page reached as people reach it once signed in: Inventory in the navigation.
  await page.goto(`${origin}/ui/`);
  await page.waitForFunction(() => document.querySelector("main h2")?.textContent === "Overview", null, {
    polling: 5,
  });
  started = performance.now();
  await page.getByRole("navigation", { name: "Dashboard" }).getByRole("link", { name: "Inventory" }).click();
  await rowsFor("");
  fromNavigation.harness.push(performance.now() - started);
  const clock = await pageClock("");
  fromNavigation.ui.push(clock.shownAt - clock.clickAt);
  fromNavigation.browser.push(await browserFirstPage());

  fromNavigation.api.push(await firstPageDirect());
}

/** Filters people type, varied per run so no answer is served from a cache. */
const filters: ((r: number) => { label: string; name: string; value: string })[] = [
  (r) => ({ label: "Expiring within (e.g. 30d)", name: "expiringWithin", value: `${10 + r * 4}d` }),
  (r) => ({ label: "Name (SAN)", name: "san", value: domainOf(r * 97 + 13) }),
  (r) => ({ label: "Owner", name: "owner", value: `team-${r % 40}` }),
  (r) => ({ label: "Key type", name: "keyType", value: r % 2 ? "RSA" : "EC" }),
];
let previous: string | undefined;
for (let r = 0; r < runs; r++) {
  const f = (filters[r % filters.length] as (r: number) => { label: string; name: string; value: string })(r);
  const query = new URLSearchParams({ [f.name]: f.value }).toString();
  if (previous) await page.getByLabel(previous).fill("");
  await page.getByLabel(f.label).fill(f.value);
  previous = f.label;
  let started = performance.now();
  await page.getByRole("button", { name: "Apply filters" }).click();
  await rowsFor(query);
  filterChange.harness.push(performance.now() - started);
  const clock = await pageClock(query);
  filterChange.ui.push(clock.shownAt - clock.clickAt);

  // The other side of each pair gets a fresh value of the same filter, so neither hits a warm answer.
  const g = (filters[r % filters.length] as (r: number) => { label: string; name: string; value: string })(
    r + runs,
  );
  const other = new URLSearchParams({ [g.name]: g.value }).toString();
  started = performance.now();
  const facets = direct(`/admin/inventory/facets?${other}`);
  expectOk("list", await direct(`/admin/inventory?limit=${PAGE_SIZE}&${other}`));
  filterChange.api.push(performance.now() - started);
  expectOk("facets", await facets);

  const h = (filters[r % filters.length] as (r: number) => { label: string; name: string; value: string })(
    r + 2 * runs,
  );
  const third = new URLSearchParams({ [h.name]: h.value }).toString();
  filterChange.browser.push(
    await browserDirect(`/admin/inventory?limit=${PAGE_SIZE}&${third}`, `/admin/inventory/facets?${third}`),
  );
}

await browser.close();
await server.stop();
// Keep-alive connections of the direct side would hold the process open.
globalAgent.destroy();

const js = initialJavaScript();
const p50p95 = (values: number[]) =>
  `p50 ${ms(quantile(values, 0.5)).padStart(7)}  p95 ${ms(quantile(values, 0.95)).padStart(7)}`;
const row = (name: string, m: Measure) => {
  const ratio = quantile(m.ui, 0.95) / quantile(m.api, 0.95);
  log(
    `${name.padEnd(16)} UI ${p50p95(m.ui)}   API ${p50p95(m.api)}   ratio UI/API (p95) ${ratio.toFixed(2)}` +
      `   (with the harness's round trips: p50 ${ms(quantile(m.harness, 0.5))}, p95 ${ms(quantile(m.harness, 0.95))})`,
  );
  // Not the target's baseline: what the browser itself costs, for judging the ratio above.
  log(
    `${"".padEnd(16)} floors: the same calls by fetch() in the page ${p50p95(m.browser)}` +
      `   UI / that (p95) ${(quantile(m.ui, 0.95) / quantile(m.browser, 0.95)).toFixed(2)}`,
  );
  if (m.staticDocument.length > 0)
    log(
      `${"".padEnd(16)} floors: the same ${(inventoryDocument.length / 1024).toFixed(1)} KB document from a server doing no work ` +
        `${p50p95(m.staticDocument)}`,
    );
  return ratio;
};
log(`\n${runs} runs each, ${total.toLocaleString("en")} records:`);
const firstRatio = row("first page", firstPage);
const navigationRatio = row("from the nav", fromNavigation);
const filterRatio = row("filter change", filterChange);
log(`initial JavaScript: ${(js.gzBytes / 1024).toFixed(1)} KB gzipped (${js.files.join(", ")})`);
log(
  `targets: first page < ${TARGETS.firstPageMs} ms (p95 ${ms(quantile(firstPage.ui, 0.95))}), ` +
    `filter change p95 < ${TARGETS.filterP95Ms} ms (${ms(quantile(filterChange.ui, 0.95))}), ` +
    `UI/API <= ${TARGETS.overhead} (document ${firstRatio.toFixed(2)}, from the nav ${navigationRatio.toFixed(2)}, filter ${filterRatio.toFixed(2)}), ` +
    `initial JS <= 300 KB gz (${(js.gzBytes / 1024).toFixed(1)} KB)`,
);
// The esbuild service the dashboard's build starts in this process would keep it alive for ever.
process.exit(0);
