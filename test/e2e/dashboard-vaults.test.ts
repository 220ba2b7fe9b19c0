import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { artifactsDir, axeProblems, launchChromium } from "../support/chromium.js";
import { openFromNavigation, signedInPage } from "../support/dashboard-browser.js";
import { auditRows, type InProcess, startInProcess } from "../support/in-process.js";

const PASSWORD = "a long enough passphrase";
const V = "api-version=7.6";

describe("the dashboard's Vaults page in Chromium", () => {
  let server: InProcess;
  let browser: Browser | undefined;
  let origin: string;
  const shots = artifactsDir("dashboard-vaults");

  const policyOf = async (name: string) =>
    (await server.kv({ method: "GET", url: `/certificates/${name}/policy?${V}` })).json();

  /** Carol, signed in: a dashboard Reader who is a Key Vault Administrator of the default vault. */
  async function carolAt(path: string): Promise<Page> {
    const page = await signedInPage(browser as Browser, origin, "carol", PASSWORD);
    await openFromNavigation(page, "Vaults");
    await page.getByRole("link", { name: "default", exact: true }).click();
    await page.locator("main h2").filter({ hasText: "Vault default" }).waitFor();
    if (path) await page.getByRole("link", { name: path, exact: true }).click();
    return page;
  }

  beforeAll(async () => {
    browser = await launchChromium();
    server = await startInProcess({ flags: { jobs: false } });
    origin = `https://localhost:${server.strongroom.port}`;
    const created = await server.createCertificate("web", {
      policy: {
        issuer: { name: "Self" },
        key_props: { kty: "EC", crv: "P-256" },
        x509_props: { subject: "CN=web.example", validity_months: 12 },
        lifetime_actions: [{ trigger: { lifetime_percentage: 80 }, action: { action_type: "AutoRenew" } }],
      },
    });
    expect(created.json().status, created.body).toBe("completed");
    const secret = await server.kv({
      method: "PUT",
      url: `/secrets/db-password?${V}`,
      body: { value: "s3cret!" },
    });
    expect(secret.statusCode).toBe(200);
    const { users, access } = server.strongroom.core;
    const carol = await users.create("carol", PASSWORD);
    await access.assign(carol.principal.id, "Strongroom Reader", "/");
    await access.assign(carol.principal.id, "Key Vault Administrator", "/vaults/default");
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("opens a vault, edits a certificate's lifetime actions and saves them, as the Key Vault API then reads them", async (context) => {
    if (!browser) return context.skip();
    const page = await carolAt("");
    await expect.poll(() => page.locator("#objects tbody tr").count()).toBe(1);
    expect(await page.locator("#objects tbody").textContent()).toContain("web");
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: join(shots, "vault.png"), fullPage: true });

    await page.getByRole("link", { name: "web", exact: true }).click();
    await page.locator("main h2").filter({ hasText: "Certificate web" }).waitFor();
    await page.locator("#policy").waitFor();
    await page.getByLabel("When (action 1)").selectOption("days_before_expiry");
    await page.getByLabel("Value (action 1)").fill("30");
    await page.getByRole("button", { name: "Add lifetime action" }).click();
    await page.getByLabel("Action (action 2)").selectOption("EmailContacts");
    await page.getByLabel("Value (action 2)").fill("60");
    expect(await axeProblems(page)).toEqual([]);
    await page.getByRole("button", { name: "Save policy" }).click();
    await expect.poll(() => page.locator("#policy-outcome").textContent()).toBe("Policy saved.");
    await page.screenshot({ path: join(shots, "policy-saved.png"), fullPage: true });
    expect((await policyOf("web")).lifetime_actions).toEqual([
      { trigger: { days_before_expiry: 30 }, action: { action_type: "AutoRenew" } },
      { trigger: { days_before_expiry: 60 }, action: { action_type: "EmailContacts" } },
    ]);

    await page.getByRole("button", { name: "Remove action 2" }).click();
    await page.getByRole("button", { name: "Save policy" }).click();
    await expect.poll(async () => (await policyOf("web")).lifetime_actions.length).toBe(1);
  });

  it("shows an organisation rule's refusal of a policy change beside Save, and stores nothing", async (context) => {
    if (!browser) return context.skip();
    const rule = await server.strongroom.core.rules.set({
      kind: "key-types",
      value: ["RSA"],
      vault: "default",
    });
    try {
      const page = await carolAt("");
      await page.getByRole("link", { name: "web", exact: true }).click();
      await page.locator("#policy").waitFor();
      await page.getByLabel("Validity (months)").fill("6");
      await page.getByRole("button", { name: "Save policy" }).click();
      await expect
        .poll(() => page.getByRole("alert").filter({ hasText: "Organisation rule" }).textContent())
        .toMatch(/^Failed: Organisation rule key-types \(vault default\)/);
      expect(await axeProblems(page)).toEqual([]);
      await page.screenshot({ path: join(shots, "policy-refused.png"), fullPage: true });
    } finally {
      await server.strongroom.core.rules.remove(rule.id);
    }
    expect((await policyOf("web")).x509_props.validity_months).toBe(12);
  });

  it("shows a secret's value only after Reveal, audits it, and forgets it on leaving the page", async (context) => {
    if (!browser) return context.skip();
    const page = await carolAt("Secrets");
    await page.getByRole("link", { name: "db-password", exact: true }).click();
    await page.locator("main h2").filter({ hasText: "Secret db-password" }).waitFor();
    await page.locator("#versions").waitFor();
    expect(await page.content()).not.toContain("s3cret!");
    expect(await axeProblems(page)).toEqual([]);
    await page.getByRole("button", { name: /^Reveal version / }).click();
    await expect.poll(() => page.locator(".secret-value").textContent()).toBe("s3cret!");
    await page.screenshot({ path: join(shots, "secret-revealed.png"), fullPage: true });
    const reveal = (await auditRows(server)).filter((r) => r.operation === "SecretGet").at(-1);
    expect(reveal).toMatchObject({
      outcome: "success",
      objectId: expect.stringMatching(/\/secrets\/db-password$/),
    });

    await page.getByRole("link", { name: /^Back to the secrets/ }).click();
    await page.locator("main h2").filter({ hasText: "Vault default" }).waitFor();
    await page.getByRole("link", { name: "db-password", exact: true }).click();
    await page.locator("#versions").waitFor();
    expect(await page.locator(".secret-value").count()).toBe(0);
    expect(await page.content()).not.toContain("s3cret!");
  });

  it("adds an issuer that the policy editor then offers, and saves the vault's contacts", async (context) => {
    if (!browser) return context.skip();
    const page = await carolAt("");
    await page.getByLabel("Issuer name").fill("corp");
    await page.getByLabel("Account (the CA's name for PrivateCA)").fill("corp-issuing");
    await page.getByRole("button", { name: "Save issuer" }).click();
    await expect
      .poll(() => page.locator("#issuers").textContent())
      .toContain("corp (PrivateCA, account corp-issuing)");
    const issuer = await server.kv({ method: "GET", url: `/certificates/issuers/corp?${V}` });
    expect(issuer.json()).toMatchObject({
      provider: "PrivateCA",
      credentials: { account_id: "corp-issuing" },
    });

    await page
      .getByLabel("Contacts, one a line: e-mail, name, phone")
      .fill("pki@example.com, PKI team\nops@example.com");
    await page.getByRole("button", { name: "Save contacts" }).click();
    await expect.poll(() => page.locator("#contacts-outcome").textContent()).toBe("2 contacts saved.");
    const contacts = (await server.kv({ method: "GET", url: `/certificates/contacts?${V}` })).json().contacts;
    expect(contacts).toEqual([{ email: "pki@example.com", name: "PKI team" }, { email: "ops@example.com" }]);
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: join(shots, "issuers-contacts.png"), fullPage: true });

    await page.getByRole("link", { name: "web", exact: true }).click();
    await page.locator("#policy").waitFor();
    expect(await page.getByLabel("Issuer").locator("option").allTextContents()).toEqual([
      "Self",
      "Unknown",
      "corp",
    ]);
  });

  it("re-issues a certificate and shows its new version", async (context) => {
    if (!browser) return context.skip();
    const page = await carolAt("");
    await page.getByRole("link", { name: "web", exact: true }).click();
    const versions = page.locator("#versions tbody tr");
    await expect.poll(() => versions.count()).toBe(1);
    await page.getByRole("button", { name: "Re-issue default/web" }).click();
    await expect
      .poll(() => page.locator(".reissue-outcome").textContent())
      .toMatch(/^Re-issued: new version [0-9a-f]{32}\.$/);
    await expect.poll(() => versions.count()).toBe(2);
    const latest = (await server.kv({ method: "GET", url: `/certificates/web?${V}` })).json();
    const shown = /new version ([0-9a-f]{32})/.exec(
      (await page.locator(".reissue-outcome").textContent()) ?? "",
    )?.[1];
    expect(latest.id.endsWith(`/${shown}`)).toBe(true);
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: join(shots, "reissued.png"), fullPage: true });
  });
});
