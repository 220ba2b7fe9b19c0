import type { Browser, Page } from "playwright-core";
import type { InProcess } from "./in-process.js";

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
  // The admin roles grant no vault data, as Azure's Owner grants none: the certificate page's
  // history and Renew ask Key Vault's data-plane rights.
  await access.assign(alice.principal.id, "Key Vault Administrator", "/");
  const bob = await users.create("bob", password);
  await access.assign(bob.principal.id, "Strongroom Reader", "/");
  await access.assign(bob.principal.id, "Key Vault Reader", "/");
}

/** How many versions the default vault's certificate `name` has, read through the core. */
export async function versionCount(server: InProcess, name: string): Promise<number> {
  const { core } = server.strongroom;
  const vault = await core.vaults.get("default");
  return (await core.certificates.listVersions(vault, name, undefined, 25)).items.length;
}
