import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Browser, Page } from "playwright-core";
import type { InProcess } from "./in-process.js";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
}

/** Serious and critical axe-core findings on the page as it is now. */
export async function axeProblems(page: Page): Promise<AxeViolation[]> {
  // Evaluated through the debugging protocol, which the page's CSP does not govern.
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe;
    return (await axe.run()).violations.map(({ id, impact, help }) => ({ id, impact, help }));
  });
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/** A new browser context signed in to the dashboard at `origin` through its form, `width` pixels wide. */
export async function signedInPage(
  browser: Browser,
  origin: string,
  username: string,
  password: string,
  width = 1440,
): Promise<Page> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${origin}/ui/sign-in`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${origin}/ui/`);
  return page;
}

/** Follows the navigation entry `title` and waits for its page's heading. */
export async function openFromNavigation(page: Page, title: string): Promise<void> {
  await page
    .getByRole("navigation", { name: "Dashboard" })
    .getByRole("link", { name: title, exact: true })
    .click();
  await page.locator("main h2").filter({ hasText: title }).first().waitFor();
}

/** Two dashboard users signing in with `password`: alice, a Strongroom Administrator, and bob, a Reader. */
export async function aliceAndBob(server: InProcess, password: string): Promise<void> {
  const { users, access } = server.strongroom.core;
  const alice = await users.create("alice", password);
  await access.assign(alice.principal.id, "Strongroom Administrator", "/");
  const bob = await users.create("bob", password);
  await access.assign(bob.principal.id, "Strongroom Reader", "/");
}
