import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { artifactsDir, axeProblems, launchChromium } from "../support/chromium.js";
import { type InProcess, startInProcess } from "../support/in-process.js";

const PASSWORD = "a long enough passphrase";

/** A page whose context has signed in as the viewer, at the dashboard's overview. */
async function signedIn(browser: Browser, origin: string, width = 1440): Promise<Page> {
  const page = await (
    await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width, height: 900 } })
  ).newPage();
  await page.goto(`${origin}/ui/sign-in`);
  await page.getByLabel("Username").fill("viewer");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${origin}/ui/`);
  return page;
}

describe("the dashboard in Chromium", () => {
  let server: InProcess;
  let browser: Browser | undefined;

  beforeAll(async () => {
    browser = await launchChromium();
    server = await startInProcess();
    const viewer = await server.strongroom.core.users.create("viewer", PASSWORD);
    // A Reader: the overview reads the admin API, which refuses a user with no role at all.
    await server.strongroom.core.access.assign(viewer.principal.id, "Strongroom Reader", "/");
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("loads under its own Content-Security-Policy from this origin only and reports the server ready", async (context) => {
    if (!browser) return context.skip();
    const origin = `https://localhost:${server.strongroom.port}`;
    const page = await signedIn(browser, origin);
    const requested: string[] = [];
    const complaints: string[] = [];
    page.on("request", (request) => requested.push(request.url()));
    page.on("console", (message) => {
      if (message.type() === "error") complaints.push(message.text());
    });
    page.on("pageerror", (error) => complaints.push(error.message));

    await page.reload();
    await expect.poll(() => page.locator("#server-status").textContent()).toBe("Server ready.");
    await page.screenshot({ path: join(artifactsDir("dashboard"), "shell.png"), fullPage: true });

    expect(complaints).toEqual([]);
    expect(requested.length).toBeGreaterThanOrEqual(4);
    expect(requested.filter((url) => !url.startsWith(`${origin}/`))).toEqual([]);
  });

  it("fetches a page's code while the pointer rests on its link, before any click", async (context) => {
    if (!browser) return context.skip();
    const origin = `https://localhost:${server.strongroom.port}`;
    const page = await signedIn(browser, origin);
    await page.locator("#server-status").waitFor();
    const requested: string[] = [];
    page.on("request", (request) => requested.push(request.url()));
    await page.getByRole("navigation", { name: "Dashboard" }).getByRole("link", { name: "Audit" }).hover();
    await expect.poll(() => requested.some((url) => /\/audit-page-\w+\.js$/.test(url))).toBe(true);
    expect(page.url()).toBe(`${origin}/ui/`);
  });

  it("has no serious or critical accessibility violations at 768 and 1440 pixels wide", async (context) => {
    if (!browser) return context.skip();
    for (const width of [768, 1440]) {
      const page = await signedIn(browser, `https://localhost:${server.strongroom.port}`, width);
      await page.locator("#server-status").waitFor();
      expect(await axeProblems(page), `at ${width} px`).toEqual([]);
    }
  });
});
