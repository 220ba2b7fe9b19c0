import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { artifactsDir, axeProblems, launchChromium } from "../support/chromium.js";
import { aliceAndBob, openFromNavigation, signedInPage, versionCount } from "../support/dashboard-browser.js";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { receiver } from "../support/webhook-receiver.js";

const PASSWORD = "a long enough passphrase";
const poll = { interval: 100 };
const NAMES = ["ops-a", "ops-b", "ops-c"];

describe("the dashboard's Campaigns, Audit and Settings pages in Chromium", () => {
  let server: InProcess;
  let browser: Browser | undefined;
  let origin: string;
  const endpoint = receiver();
  let endpointUrl: string;
  const shots = artifactsDir("dashboard-operations");

  const signedIn = (width?: number): Promise<Page> =>
    signedInPage(browser as Browser, origin, "alice", PASSWORD, width);
  const versionsOf = (name: string) => versionCount(server, name);

  beforeAll(async () => {
    browser = await launchChromium();
    endpointUrl = await endpoint.start();
    server = await startInProcess({ flags: { jobs: false } });
    origin = `https://localhost:${server.strongroom.port}`;
    await aliceAndBob(server, PASSWORD);
    for (const name of [...NAMES, "other-web"]) {
      const created = await server.createCertificate(name, {
        policy: {
          issuer: { name: "Self" },
          key_props: { kty: "EC" },
          x509_props: { subject: `CN=${name}.example`, validity_months: 12 },
        },
      });
      expect(created.statusCode, created.body).toBe(202);
    }
    await server.strongroom.scheduler.runOnce("inventory");
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await endpoint.stop();
  });

  it("creates a campaign from an inventory query, shows its dry run and runs it to completion", async (context) => {
    if (!browser) return context.skip();
    const page = await signedIn();
    await openFromNavigation(page, "Campaigns");
    await page.getByLabel("Name", { exact: true }).fill("rotate-ops");
    await page.getByLabel("Subject contains").fill("CN=ops-");
    await page.getByLabel("Revoke the old certificate with reason").selectOption("superseded");
    await page.getByRole("button", { name: "Create campaign" }).click();
    await page.waitForURL(`${origin}/ui/campaigns/rotate-ops`);

    // The dry run: one planned step per selected certificate, nothing made yet.
    const plan = page.locator("#campaign-plan tbody tr");
    await expect.poll(() => plan.count(), poll).toBe(NAMES.length);
    for (const name of NAMES) {
      await expect
        .poll(() => plan.filter({ hasText: `CN=${name}.example` }).textContent(), poll)
        .toMatch(
          new RegExp(`new version of default/${name} replacing .*then revoke the old \\(superseded\\)`),
        );
    }
    expect(await plan.filter({ hasText: "other-web" }).count()).toBe(0);
    expect(await versionsOf("ops-a")).toBe(1);
    await page.screenshot({ path: join(shots, "campaign-dry-run.png"), fullPage: true });

    await page.getByRole("button", { name: "Run", exact: true }).click();
    await expect
      .poll(() => page.locator("#campaign-outcome").textContent(), poll)
      .toBe("Run: the campaign is running.");
    await expect.poll(() => page.locator("#campaign-fields").textContent(), poll).toContain("Staterunning");
    await expect(page.getByRole("button", { name: "Pause" }).isVisible()).resolves.toBe(true);

    // The job does the work; the page follows it by polling, without a reload.
    await server.strongroom.scheduler.runOnce("campaigns");
    await expect
      .poll(() => page.locator("#campaign-progress").textContent(), { ...poll, timeout: 15_000 })
      .toBe(`100 % (${NAMES.length} of ${NAMES.length})`);
    await expect.poll(() => page.locator("#campaign-fields").textContent(), poll).toContain("Statefinished");
    expect(await page.locator("#campaign-fields").textContent()).toContain(
      `Done${NAMES.length}Failed0Remaining0`,
    );
    await expect.poll(() => plan.filter({ hasText: "done" }).count(), poll).toBe(NAMES.length);
    for (const name of NAMES) expect(await versionsOf(name)).toBe(2);
    expect(await versionsOf("other-web")).toBe(1);
    await page.screenshot({ path: join(shots, "campaign-finished.png"), fullPage: true });

    await openFromNavigation(page, "Campaigns");
    await expect
      .poll(() => page.locator("#campaigns tbody tr").filter({ hasText: "rotate-ops" }).textContent(), poll)
      .toContain("finished");
  });

  it("filters the audit log to the campaign's creation by its user and verifies the chain", async (context) => {
    if (!browser) return context.skip();
    const page = await signedIn();
    await openFromNavigation(page, "Audit");
    await expect.poll(() => page.locator("#audit-rows tbody tr").count(), poll).toBeGreaterThan(0);
    await page.getByLabel("Action (operation, e.g. SecretGet)").fill("CampaignCreate");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await page.waitForURL(`${origin}/ui/audit?action=CampaignCreate`);
    const rows = page.locator("#audit-rows tbody tr");
    // The change's intent row, committed with it, and the row of its answer.
    await expect.poll(() => rows.count(), poll).toBe(2);
    expect(await rows.nth(1).textContent()).toContain("pending");
    await page.getByLabel("Outcome").selectOption("success");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await page.waitForURL(`${origin}/ui/audit?action=CampaignCreate&outcome=success`);
    await expect.poll(() => rows.count(), poll).toBe(1);
    const alice = (await server.strongroom.core.users.list()).find((u) => u.username === "alice")?.principal
      .id;
    expect(await rows.first().textContent()).toContain(alice as string);
    expect(await rows.first().textContent()).toContain("success (201)");

    await page.getByLabel("Actor (principal or client id)").fill("nobody-at-all");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await expect.poll(() => page.locator("main").textContent(), poll).toContain("No rows match.");

    await page.getByRole("button", { name: "Verify the chain" }).click();
    await expect
      .poll(() => page.locator("#audit-verdict").textContent(), { ...poll, timeout: 15_000 })
      .toMatch(/^Chain intact: \d+ rows verified\.$/);
    await page.screenshot({ path: join(shots, "audit.png"), fullPage: true });
  });

  it("adds a webhook and sends it a test delivery, showing the status it answered", async (context) => {
    if (!browser) return context.skip();
    const page = await signedIn();
    await openFromNavigation(page, "Settings");
    await page.getByLabel("Name", { exact: true }).fill("ops-hook");
    await page.getByLabel("Endpoint URL").fill(`${endpointUrl}/ops`);
    await page.getByRole("button", { name: "Add webhook" }).click();
    await expect
      .poll(() => page.locator("#create-webhook-outcome").textContent(), poll)
      .toBe("Webhook ops-hook created (pending-validation).");
    await page.getByRole("button", { name: "Send a test delivery to ops-hook" }).click();
    await expect
      .poll(() => page.locator("#webhook-outcome").textContent(), poll)
      .toBe("Test delivery to ops-hook: HTTP 200 (delivered).");
    expect(endpoint.received.map((r) => r.path)).toEqual(["/ops"]);
    expect(JSON.parse(endpoint.received[0]?.body ?? "[]")[0].eventType).toBe(
      "Strongroom.Webhooks.WebhookTest",
    );
    await expect
      .poll(() => page.locator("main").textContent(), poll)
      .toContain("No SMTP server is configured");
    await page.screenshot({ path: join(shots, "settings.png"), fullPage: true });
  });

  it("has no serious accessibility problem on the three pages at 768 and 1440 pixels", {
    timeout: 180_000,
  }, async (context) => {
    if (!browser) return context.skip();
    for (const width of [768, 1440]) {
      const page = await signedIn(width);
      for (const [title, ready] of [
        ["Campaigns", "#campaigns"],
        ["Audit", "#audit-rows"],
        ["Settings", "#webhooks"],
      ] as const) {
        await openFromNavigation(page, title);
        await page.locator(ready).waitFor();
        expect(await axeProblems(page), `${title} at ${width} px`).toEqual([]);
        await page.screenshot({ path: join(shots, `${title.toLowerCase()}-${width}.png`), fullPage: true });
      }
      await page.goto(`${origin}/ui/campaigns/rotate-ops`);
      await page.locator("#campaign-plan").waitFor();
      expect(await axeProblems(page), `Campaign at ${width} px`).toEqual([]);
      await page.context().close();
    }
  });
});
