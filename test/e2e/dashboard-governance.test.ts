import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ClientSecretCredential } from "@azure/identity";
import { CertificateClient, type CertificatePolicy, WellKnownIssuer } from "@azure/keyvault-certificates";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { artifactsDir, axeProblems, launchChromium } from "../support/chromium.js";
import { aliceAndBob, openFromNavigation, signedInPage } from "../support/dashboard-browser.js";
import { type InProcess, startInProcess } from "../support/in-process.js";

const PASSWORD = "a long enough passphrase";
const poll = { intervalInMs: 100 };

const wildcard = (host: string): CertificatePolicy => ({
  issuerName: WellKnownIssuer.Self,
  subject: `CN=*.${host}`,
  subjectAlternativeNames: { dnsNames: [`*.${host}`] },
});

describe("the dashboard's Approvals, Alerts, Rules and Access pages in Chromium", () => {
  let server: InProcess;
  let browser: Browser | undefined;
  let origin: string;
  let client: CertificateClient;
  const shots = artifactsDir("dashboard-governance");

  const signedIn = (username: string, width?: number): Promise<Page> =>
    signedInPage(browser as Browser, origin, username, PASSWORD, width);

  const approvalState = async (host: string) => {
    const listed = (await server.kv({ method: "GET", url: "/admin/approvals" })).json().value as {
      summary: string;
      state: string;
    }[];
    return listed.find((a) => a.summary.includes(host))?.state;
  };
  /** How many role assignments bob holds. */
  const bobs = async () => {
    const principals = (await server.kv({ method: "GET", url: "/admin/principals" })).json().value as {
      id: string;
      displayName: string;
    }[];
    const bob = principals.find((p) => p.displayName === "bob")?.id;
    const assignments = (await server.kv({ method: "GET", url: "/admin/roleassignments" })).json().value as {
      principalId: string;
    }[];
    return assignments.filter((a) => a.principalId === bob).length;
  };
  const alertStates = async () =>
    ((await server.kv({ method: "GET", url: "/admin/alerts" })).json().value as { state: string }[])
      .map((a) => a.state)
      .sort();

  beforeAll(async () => {
    browser = await launchChromium();
    // Every certificate made here is within the threshold, so each opens an expiring alert.
    server = await startInProcess({ flags: { jobs: false, alertExpiringDays: [800] } });
    origin = `https://localhost:${server.strongroom.port}`;
    await aliceAndBob(server, PASSWORD);

    const rule = await server.kv({
      method: "PUT",
      url: "/admin/rules",
      body: { kind: "approval", value: { approvals: 1, wildcards: true }, entries: ["keyvault-create"] },
    });
    expect(rule.statusCode, rule.body).toBe(200);

    // The SDK calls as the installation's admin principal: the requester, who may not decide.
    const { admin } = server.strongroom;
    const ca = readFileSync(admin.caFile as string, "utf8");
    const credential = new ClientSecretCredential(admin.tenantId, admin.clientId, admin.clientSecret, {
      authorityHost: admin.authorityHost,
      disableInstanceDiscovery: true,
      tlsOptions: { ca },
    });
    client = new CertificateClient(admin.vaultUrl, credential, {
      disableChallengeResourceVerification: true,
      tlsOptions: { ca },
    });

    for (const [name, months] of [
      ["payroll", 6],
      ["intranet", 12],
    ] as const) {
      const created = await server.createCertificate(name, {
        policy: {
          issuer: { name: "Self" },
          key_props: { kty: "EC" },
          x509_props: { subject: `CN=${name}.example`, validity_months: months },
        },
      });
      expect(created.statusCode, created.body).toBe(202);
    }
    await server.strongroom.scheduler.runOnce("inventory");
    await server.strongroom.scheduler.runOnce("alerts");
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("approves a held Key Vault create with a reason, and the official SDK's poller completes", async (context) => {
    if (!browser) return context.skip();
    const poller = await client.beginCreateCertificate("held", wildcard("held.example"), poll);
    await poller.poll();
    expect(poller.isDone()).toBe(false);

    const page = await signedIn("alice");
    await openFromNavigation(page, "Approvals");
    await page.getByLabel("State").selectOption("pending");
    await page.waitForURL(`${origin}/ui/approvals?state=pending`);
    await page.getByRole("link", { name: /held\.example/ }).click();
    await expect.poll(() => page.locator("#approval-fields").textContent()).toContain("pending");
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: join(shots, "approval-pending.png"), fullPage: true });

    await page.getByLabel("Reason (required to deny)").fill("wildcard agreed with the edge team");
    await page.getByRole("button", { name: "Approve" }).click();
    await expect
      .poll(() => page.locator("#decision-outcome").textContent())
      .toBe("Approved: the request is approved.");
    await expect
      .poll(() => page.locator("#votes").textContent())
      .toContain("wildcard agreed with the edge team");
    await page.screenshot({ path: join(shots, "approval-approved.png"), fullPage: true });

    const certificate = await poller.pollUntilDone();
    const x509 = new X509Certificate(certificate.cer as Uint8Array);
    expect(x509.subjectAltName).toBe("DNS:*.held.example");

    await page.getByRole("link", { name: "All approval requests" }).click();
    await expect.poll(() => page.locator("#approvals tbody tr").count()).toBe(1);
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: join(shots, "approvals.png"), fullPage: true });
  });

  it("filters alerts by kind and state, acknowledges one and resolves another", async (context) => {
    if (!browser) return context.skip();
    const page = await signedIn("alice");
    await openFromNavigation(page, "Alerts");
    await page.getByLabel("Kind").selectOption("expiring");
    await page.getByLabel("State").selectOption("open");
    await page.waitForURL(`${origin}/ui/alerts?kind=expiring&state=open`);
    const rows = page.locator("#alerts tbody tr");
    await expect.poll(() => rows.count()).toBe(2);
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: join(shots, "alerts.png"), fullPage: true });

    await page.getByRole("button", { name: /^Acknowledge .*payroll/ }).click();
    await expect
      .poll(() => page.locator("#alert-outcome").textContent())
      .toMatch(/payroll.* is acknowledged\.$/);
    await expect.poll(() => rows.count()).toBe(1);
    await page.getByRole("button", { name: /^Resolve .*intranet/ }).click();
    await expect
      .poll(() => page.locator("#alert-outcome").textContent())
      .toMatch(/intranet.* is resolved\.$/);
    expect(await alertStates()).toEqual(["acknowledged"]);
    expect(
      (await server.kv({ method: "GET", url: "/admin/alerts?state=resolved" })).json().value,
    ).toHaveLength(1);

    await page.getByLabel("State").selectOption("");
    await page.waitForURL(`${origin}/ui/alerts?kind=expiring`);
    await expect.poll(() => rows.count()).toBe(1);
  });

  it("sets a rule, shows the findings it opens by rule, and deletes it", async (context) => {
    if (!browser) return context.skip();
    const page = await signedIn("alice");
    await openFromNavigation(page, "Rules");
    await expect.poll(() => page.locator("#rules tbody").textContent()).toContain("approval");
    await page.getByLabel("Rule kind").selectOption("key-types");
    await page.getByLabel(/^Value/).fill('["RSA"]');
    await page.getByRole("button", { name: "Set rule" }).click();
    await expect
      .poll(() => page.locator("#set-rule-outcome").textContent())
      .toBe("Rule key-types set at installation.");
    // Grading runs as a job after a rule change; both EC certificates then break the rule.
    await server.strongroom.scheduler.runOnce("grading");
    await page.reload();
    const findings = page.locator("#findings tbody tr").filter({ hasText: "key-types (installation)" });
    await expect.poll(() => findings.count()).toBe(2);
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: join(shots, "rules.png"), fullPage: true });

    await page.getByRole("button", { name: "Delete rule key-types at installation" }).click();
    await expect
      .poll(() => page.locator("#rule-outcome").textContent())
      .toBe("Rule key-types at installation deleted.");
    const kinds = (await server.kv({ method: "GET", url: "/admin/rules" }))
      .json()
      .value.map((r: { kind: string }) => r.kind);
    expect(kinds).toEqual(["approval"]);
  });

  it("assigns a role at a vault's scope and removes it again", async (context) => {
    if (!browser) return context.skip();
    const before = await bobs();
    const page = await signedIn("alice");
    await openFromNavigation(page, "Access");
    await page.getByLabel("Principal", { exact: true }).selectOption({ label: "bob (user)" });
    await page.getByLabel("Role", { exact: true }).selectOption("Strongroom Reader");
    await page.getByLabel(/^Scope/).fill("/vaults/default");
    await page.getByRole("button", { name: "Assign role" }).click();
    await expect
      .poll(() => page.locator("#assign-outcome").textContent())
      .toBe("Assigned Strongroom Reader at /vaults/default to bob.");
    expect(await bobs()).toBe(before + 1);
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: join(shots, "access.png"), fullPage: true });

    await page.getByRole("button", { name: "Remove Strongroom Reader at /vaults/default from bob" }).click();
    await expect
      .poll(() => page.locator("#assignment-outcome").textContent())
      .toBe("Removed Strongroom Reader at /vaults/default from bob.");
    expect(await bobs()).toBe(before);
  });

  it("shows a Reader that deciding an approval, resolving an alert, deleting a rule and removing an assignment are refused, and changes nothing", async (context) => {
    if (!browser) return context.skip();
    const poller = await client.beginCreateCertificate("readers", wildcard("readers.example"), poll);
    await poller.poll();
    const page = await signedIn("bob");
    await page.goto(`${origin}/ui/approvals?state=pending`);
    await page.getByRole("link", { name: /readers\.example/ }).click();
    await page.getByRole("button", { name: "Approve" }).click();
    await expect
      .poll(() => page.locator("#decision-outcome").textContent())
      .toMatch(/^Refused: .*not authorized/);
    expect(await approvalState("readers.example")).toBe("pending");
    await page.screenshot({ path: join(shots, "reader-approval-refused.png"), fullPage: true });

    const before = await alertStates();
    await page.goto(`${origin}/ui/alerts?state=acknowledged`);
    await page.getByRole("button", { name: /^Resolve / }).click();
    await expect
      .poll(() => page.locator("#alert-outcome").textContent())
      .toMatch(/^Refused: .*not authorized/);
    expect(await alertStates()).toEqual(before);

    await openFromNavigation(page, "Rules");
    await page.getByRole("button", { name: "Delete rule approval at installation" }).click();
    await expect
      .poll(() => page.locator("#rule-outcome").textContent())
      .toMatch(/^Refused: .*not authorized/);
    expect((await server.kv({ method: "GET", url: "/admin/rules" })).json().value).toHaveLength(1);
    await openFromNavigation(page, "Access");
    const assignments = await bobs();
    await page.getByRole("button", { name: "Remove Strongroom Reader at / from bob" }).click();
    await expect
      .poll(() => page.locator("#assignment-outcome").textContent())
      .toMatch(/^Refused: .*not authorized/);
    expect(await bobs()).toBe(assignments);
  });

  it("lays out the pages readably at 768 pixels with no serious accessibility problem", {
    timeout: 180_000,
  }, async (context) => {
    if (!browser) return context.skip();
    const page = await signedIn("alice", 768);
    for (const title of ["Approvals", "Alerts", "Rules", "Access"]) {
      await openFromNavigation(page, title);
      await page.locator("table").first().waitFor();
      expect(await axeProblems(page), title).toEqual([]);
      // Nothing wider than the window: no sideways scrolling to reach a column or a button.
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(768);
      await page.screenshot({ path: join(shots, `${title.toLowerCase()}-768.png`), fullPage: true });
    }
  });
});
