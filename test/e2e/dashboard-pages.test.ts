import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { artifactsDir, axeProblems, launchChromium } from "../support/chromium.js";
import { aliceAndBob, signedInPage, versionCount } from "../support/dashboard-browser.js";
import { type InProcess, startInProcess } from "../support/in-process.js";

const PASSWORD = "a long enough passphrase";

/** The pages with content of their own so far. */
const BUILT = ["Overview", "Inventory", "Vaults"];
/** Every entry of the navigation, as the page registry lists them. */
const NAVIGATION = [
  "Overview",
  "Inventory",
  "Vaults",
  "Alerts",
  "Approvals",
  "CAs",
  "Discovery",
  "Rules",
  "Campaigns",
  "Audit",
  "Access",
  "Settings",
];

describe("the dashboard's pages in Chromium", () => {
  let server: InProcess;
  let browser: Browser | undefined;
  let origin: string;
  const shots = artifactsDir("dashboard-pages");

  const signedIn = (username: string, width = 1440): Promise<Page> =>
    signedInPage(browser as Browser, origin, username, PASSWORD, width);

  /** A self-signed certificate in the default vault, valid for `months`, through the Key Vault API. */
  async function vaultCertificate(name: string, months: number) {
    const created = await server.createCertificate(name, {
      policy: {
        issuer: { name: "Self" },
        key_props: { kty: "EC" },
        x509_props: { subject: `CN=${name}.example`, validity_months: months },
      },
    });
    expect(created.statusCode, created.body).toBe(202);
  }

  const versionsOf = (name: string) => versionCount(server, name);

  beforeAll(async () => {
    browser = await launchChromium();
    server = await startInProcess({ flags: { jobs: false } });
    origin = `https://localhost:${server.strongroom.port}`;
    await aliceAndBob(server, PASSWORD);
    await vaultCertificate("expiring-web", 1);
    await vaultCertificate("long-lived", 24);
    await server.strongroom.scheduler.runOnce("inventory");
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("finds an expiring certificate by filter, renews it and shows the new version", async (context) => {
    if (!browser) return context.skip();
    const page = await signedIn("alice");
    await expect.poll(() => page.locator("#counts").textContent()).toContain("2 certificates");
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: join(shots, "overview.png"), fullPage: true });

    await page.getByRole("link", { name: "Inventory", exact: true }).click();
    await page.getByLabel("Expiring within (e.g. 30d)").fill("45d");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await page.waitForURL(`${origin}/ui/inventory?expiringWithin=45d`);
    const rows = page.locator("#inventory tbody tr");
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.textContent()).toContain("CN=expiring-web.example");
    await expect.poll(() => page.locator("#match-count").textContent()).toContain("1 certificate matches");
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: join(shots, "inventory.png"), fullPage: true });

    await page.getByRole("link", { name: "CN=expiring-web.example" }).click();
    await expect.poll(() => page.locator("h2").textContent()).toBe("CN=expiring-web.example");
    const versions = page.locator("table.versions tbody tr");
    await expect.poll(() => versions.count()).toBe(1);
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: join(shots, "certificate.png"), fullPage: true });

    await page.getByRole("button", { name: "Renew default/expiring-web" }).click();
    await expect
      .poll(() => page.locator(".renew-outcome").textContent())
      .toMatch(/^Renewed: new version \w+\.$/);
    await expect.poll(() => versions.count()).toBe(2);
    expect(await versionsOf("expiring-web")).toBe(2);
    await page.screenshot({ path: join(shots, "certificate-renewed.png"), fullPage: true });
  });

  it("keeps the filtered view in the address, so a reload or a saved view shows the same rows", async (context) => {
    if (!browser) return context.skip();
    const page = await signedIn("alice");
    await page.goto(`${origin}/ui/inventory?expiringWithin=45d&sort=-notAfter`);
    await expect.poll(() => page.locator("#inventory tbody tr").count()).toBe(1);
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: "Export CSV" }).click(),
    ]);
    expect(download.suggestedFilename()).toBe("inventory.csv");
    const csv = readFileSync((await download.path()) as string, "utf8")
      .trimEnd()
      .split("\r\n");
    expect(csv).toHaveLength(2);
    expect(csv[1]).toContain("CN=expiring-web.example");
    await page.getByLabel("Save this view as").fill("Expiring soon");
    await page.getByRole("button", { name: "Save view" }).click();
    await page.getByRole("button", { name: "Clear" }).click();
    await expect.poll(() => page.locator("#inventory tbody tr").count()).toBe(2);
    await page.getByRole("link", { name: "Expiring soon" }).click();
    await page.waitForURL(`${origin}/ui/inventory?expiringWithin=45d&sort=-notAfter`);
    await expect.poll(() => page.locator("#inventory tbody tr").count()).toBe(1);
  });

  it("shows the inventory's rows and filters them with no script at all, as the server draws them", async (context) => {
    if (!browser) return context.skip();
    const scriptless = await browser.newContext({ ignoreHTTPSErrors: true, javaScriptEnabled: false });
    try {
      const page = await scriptless.newPage();
      await page.goto(`${origin}/ui/sign-in`);
      await page.getByLabel("Username").fill("alice");
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL(`${origin}/ui/`);
      await page.goto(`${origin}/ui/inventory`);
      expect(await page.locator("#inventory tbody tr").count()).toBe(2);
      await page.getByLabel("Expiring within (e.g. 30d)").fill("45d");
      await page.getByRole("button", { name: "Apply filters" }).click();
      await page.waitForURL(/expiringWithin=45d/);
      const rows = page.locator("#inventory tbody tr");
      expect(await rows.count()).toBe(1);
      expect(await rows.textContent()).toContain("CN=expiring-web.example");
      await page.screenshot({ path: join(shots, "inventory-scriptless.png"), fullPage: true });
    } finally {
      await scriptless.close();
    }
  });

  it("takes over the rows the server drew without redrawing them, and filters in place from there", async (context) => {
    if (!browser) return context.skip();
    const page = await signedIn("alice");
    const complaints: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") complaints.push(message.text());
    });
    page.on("pageerror", (error) => complaints.push(error.message));
    // Counts the rows (or the table) the page loses once the parser has added them: a redraw would.
    await page.addInitScript(() => {
      const w = window as unknown as { rowsRemoved: number };
      w.rowsRemoved = 0;
      new MutationObserver((changes) => {
        for (const change of changes)
          for (const node of change.removedNodes)
            if (
              node instanceof Element &&
              (node.id === "inventory" || ["TR", "TBODY"].includes(node.tagName))
            )
              w.rowsRemoved++;
      }).observe(document, { subtree: true, childList: true });
    });
    await page.goto(`${origin}/ui/inventory`);
    await expect.poll(() => page.locator("#match-count").textContent()).toContain("2 certificates match");
    expect(await page.evaluate(() => (window as unknown as { rowsRemoved: number }).rowsRemoved)).toBe(0);
    await page.getByLabel("Expiring within (e.g. 30d)").fill("45d");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await page.waitForURL(`${origin}/ui/inventory?expiringWithin=45d`);
    await expect.poll(() => page.locator("#inventory tbody tr").count()).toBe(1);
    expect(complaints).toEqual([]);
  });

  it("shows a Reader that renewing and setting an owner are refused, and changes nothing", async (context) => {
    if (!browser) return context.skip();
    const page = await signedIn("bob");
    const before = await versionsOf("long-lived");
    await page.goto(`${origin}/ui/inventory?subject=long-lived`);
    await page.getByRole("link", { name: "CN=long-lived.example" }).click();
    await page.getByRole("button", { name: "Renew default/long-lived" }).click();
    await expect
      .poll(() => page.locator(".renew-outcome").textContent())
      .toMatch(/^Refused: .*not authorized/);
    await page.getByLabel("Team").fill("payments");
    await page.getByRole("button", { name: "Set owner" }).click();
    await expect
      .poll(() => page.locator("#owner-outcome").textContent())
      .toMatch(/^Refused: .*not authorized/);
    await page.screenshot({ path: join(shots, "reader-refused.png"), fullPage: true });
    expect(await versionsOf("long-lived")).toBe(before);
  });

  it("reaches every page from the navigation with no serious accessibility problem at 768 and 1440 pixels", {
    timeout: 180_000,
  }, async (context) => {
    if (!browser) return context.skip();
    // Pages still to be built are only their title in the shell: once, at the wider size, is enough.
    for (const [width, titles] of [
      [1440, NAVIGATION],
      [768, BUILT],
    ] as const) {
      const page = await signedIn("alice", width);
      for (const title of titles) {
        await page
          .getByRole("navigation", { name: "Dashboard" })
          .getByRole("link", { name: title, exact: true })
          .click();
        await expect.poll(() => page.locator("main h2").first().textContent()).toBe(title);
        await expect.poll(() => page.title()).toBe(`${title} – Strongroom`);
        expect(await axeProblems(page), `${title} at ${width} px`).toEqual([]);
        await page.screenshot({ path: join(shots, `${title.toLowerCase()}-${width}.png`), fullPage: true });
      }
    }
  });
});
