import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { artifactsDir, axeProblems, launchChromium } from "../support/chromium.js";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { startOpenIdProvider, type TestOpenIdProvider } from "../support/oidc-provider.js";

const PASSWORD = "correct horse battery staple";

describe("dashboard sign-in in Chromium", () => {
  let server: InProcess;
  let provider: TestOpenIdProvider;
  let browser: Browser | undefined;
  let origin: string;
  const shots = artifactsDir("dashboard-sign-in");

  const newPage = async (width = 1440) =>
    (
      await (browser as Browser).newContext({ ignoreHTTPSErrors: true, viewport: { width, height: 900 } })
    ).newPage();

  async function signIn(page: Page, username: string, password: string): Promise<void> {
    await page.goto(`${origin}/ui/sign-in`);
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForLoadState();
  }

  beforeAll(async () => {
    browser = await launchChromium();
    provider = await startOpenIdProvider();
    server = await startInProcess({
      flags: {
        jobs: false,
        signInUserFailures: 3,
        oidcIssuer: provider.issuer,
        oidcClientId: provider.clientId,
        oidcClientSecret: provider.clientSecret,
      },
    });
    origin = `https://localhost:${server.strongroom.port}`;
    provider.serve(`${origin}/ui/oidc/callback`);
    const { users, access } = server.strongroom.core;
    const admin = await users.create("alice", PASSWORD);
    await access.assign(admin.principal.id, "Strongroom Administrator", "/");
    for (const reader of [await users.create("bob", PASSWORD), await users.create("oscar")]) {
      await access.assign(reader.principal.id, "Strongroom Reader", "/");
    }
    await users.create("dave", PASSWORD);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await provider?.close();
  });

  it("sends a browser without a session to an accessible sign-in form, and no API call works without one", async (context) => {
    if (!browser) return context.skip();
    for (const width of [768, 1440]) {
      const page = await newPage(width);
      await page.goto(`${origin}/ui/vaults`);
      expect(new URL(page.url()).pathname).toBe("/ui/sign-in");
      expect(await axeProblems(page), `at ${width} px`).toEqual([]);
      await page.screenshot({ path: join(shots, `sign-in-${width}.png`), fullPage: true });
      const status = await page.evaluate(async () => (await fetch("/admin/vaults")).status);
      expect(status).toBe(401);
    }
  });

  it("signs a local user in from the keyboard, shows who is signed in, and signs out", async (context) => {
    if (!browser) return context.skip();
    const page = await newPage();
    await page.goto(`${origin}/ui/`);
    // The Username field has focus on arrival; Tab leads to Password and Enter submits.
    await page.keyboard.type("alice");
    await page.keyboard.press("Tab");
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("#signed-in").textContent()).toBe("Signed in as alice");
    await expect.poll(() => page.locator("#server-status").textContent()).toBe("Server ready.");
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: join(shots, "overview.png"), fullPage: true });

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${origin}/ui/sign-in`);
    await page.goto(`${origin}/ui/`);
    expect(new URL(page.url()).pathname).toBe("/ui/sign-in");
  });

  it("creates a vault from the Vaults page as the signed-in user, and refuses a write without the CSRF token", async (context) => {
    if (!browser) return context.skip();
    const page = await newPage();
    await signIn(page, "alice", PASSWORD);
    await page.getByRole("link", { name: "Vaults" }).click();
    await page.getByLabel("Vault name").fill("from-the-browser");
    await page.getByRole("button", { name: "Create vault" }).click();
    await expect
      .poll(() => page.locator("#vault-outcome").textContent())
      .toBe("Vault from-the-browser created.");
    await expect.poll(() => page.locator("#vaults td", { hasText: "from-the-browser" }).count()).toBe(1);
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: join(shots, "vaults.png"), fullPage: true });

    const forged = await page.evaluate(async () => {
      const post = (headers: Record<string, string>) =>
        fetch("/admin/vaults", {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify({ name: "forged" }),
        }).then((r) => r.status);
      const token = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? "";
      return { without: await post({}), wrong: await post({ "x-csrf-token": "guess" }), token: token !== "" };
    });
    expect(forged).toEqual({ without: 403, wrong: 403, token: true });
    expect((await server.strongroom.core.vaults.list()).map((v) => v.name)).not.toContain("forged");
  });

  it("shows a Reader that write actions are refused", async (context) => {
    if (!browser) return context.skip();
    const page = await newPage();
    await signIn(page, "bob", PASSWORD);
    await page.goto(`${origin}/ui/vaults`);
    await page.getByLabel("Vault name").fill("by-a-reader");
    await page.getByRole("button", { name: "Create vault" }).click();
    await expect
      .poll(() => page.locator("#vault-outcome").textContent())
      .toMatch(/^Refused: .*not authorized/);
    await page.screenshot({ path: join(shots, "reader-refused.png"), fullPage: true });
    expect((await server.strongroom.core.vaults.list()).map((v) => v.name)).not.toContain("by-a-reader");
  });

  it("signs a user in through the OpenID Connect provider", async (context) => {
    if (!browser) return context.skip();
    const page = await newPage();
    await page.goto(`${origin}/ui/sign-in`);
    await page.getByRole("link", { name: "Sign in with single sign-on" }).click();
    await page.waitForURL(`${provider.issuer}/**`);
    await page.locator('input[name="login"]').fill("oscar");
    await page.locator('input[name="password"]').fill("anything");
    await page.locator('button[type="submit"]').click();
    const consent = page.getByRole("button", { name: "Continue" });
    await page.waitForURL((url) => url.origin === origin || url.pathname.includes("interaction"));
    if (new URL(page.url()).origin !== origin) await consent.click();
    await page.waitForURL(`${origin}/ui/`);
    await expect.poll(() => page.locator("#signed-in").textContent()).toBe("Signed in as oscar");
    await page.screenshot({ path: join(shots, "single-sign-on.png"), fullPage: true });
  });

  it("locks a user out after repeated wrong passwords, even with the right one", async (context) => {
    if (!browser) return context.skip();
    const page = await newPage();
    for (let attempt = 0; attempt < 3; attempt++) await signIn(page, "dave", "not the right password");
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("Too many failed sign-ins");
    await signIn(page, "dave", PASSWORD);
    expect(new URL(page.url()).pathname).toBe("/ui/sign-in");
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("Too many failed sign-ins");
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: join(shots, "locked-out.png"), fullPage: true });
  });
});
