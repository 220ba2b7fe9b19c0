import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { artifactsDir, axeProblems, launchChromium } from "../support/chromium.js";
import { aliceAndBob, openFromNavigation, signedInPage } from "../support/dashboard-browser.js";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { opensslCsr } from "../support/openssl-req.js";

const PASSWORD = "a long enough passphrase";
const run = promisify(execFile);

describe("the dashboard's CAs and Discovery pages in Chromium", () => {
  let server: InProcess;
  let browser: Browser | undefined;
  let origin: string;
  const dir = mkdtempSync(join(tmpdir(), "strongroom-dashboard-ca-"));
  const file = (name: string) => join(dir, name);
  const shots = artifactsDir("dashboard-ca-discovery");

  const signedIn = (username: string, width?: number): Promise<Page> =>
    signedInPage(browser as Browser, origin, username, PASSWORD, width);

  /**
   * What the server's OCSP responder says about leaf.pem, as openssl asks and reads it. Run as a
   * child process without blocking: the responder answers from this very process.
   */
  async function ocspStatus(): Promise<string> {
    const { stdout } = await run("openssl", [
      "ocsp",
      "-issuer",
      file("issuing.pem"),
      "-cert",
      file("leaf.pem"),
      "-url",
      `http://127.0.0.1:${server.strongroom.pkiPort}/ocsp`,
      "-noverify",
    ]);
    return /leaf\.pem: (\w+)/.exec(stdout)?.[1] ?? stdout;
  }

  const issuedStatus = async () =>
    (
      (await server.kv({ method: "GET", url: "/admin/cas/issuing/issued" })).json().value as {
        status: string;
      }[]
    ).map((i) => i.status);

  beforeAll(async () => {
    browser = await launchChromium();
    server = await startInProcess({ flags: { jobs: false } });
    origin = `https://localhost:${server.strongroom.port}`;
    await aliceAndBob(server, PASSWORD);
    for (const body of [
      { name: "root", kind: "root", subject: "CN=Dashboard Root" },
      { name: "issuing", kind: "intermediate", parent: "root", subject: "CN=Dashboard Issuing" },
    ]) {
      const created = await server.kv({ method: "POST", url: "/admin/cas", body });
      expect(created.statusCode, created.body).toBe(201);
    }
    const issuing = (await server.kv({ method: "GET", url: "/admin/cas/issuing" })).json();
    writeFileSync(file("issuing.pem"), issuing.certificate);
    opensslCsr(file("leaf.key"), file("leaf.csr"), "/CN=web.dashboard.test", "DNS:web.dashboard.test");
    const agent = await server.kv({
      method: "POST",
      url: "/admin/discovery/agents",
      body: { name: "edge-1" },
    });
    expect(agent.statusCode, agent.body).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("shows the hierarchy, issues from a pasted CSR, and a revocation, a hold and its release reach OCSP", async (context) => {
    if (!browser) return context.skip();
    const page = await signedIn("alice");
    await openFromNavigation(page, "CAs");
    // The intermediate is nested under its root.
    await expect.poll(() => page.locator("#ca-tree li li").textContent()).toContain("issuing");
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: join(shots, "cas.png"), fullPage: true });

    await page.getByRole("link", { name: "issuing" }).click();
    await expect.poll(() => page.locator("#revocation-status").textContent()).toContain("/ocsp");
    await page.getByLabel("Certificate signing request (PEM)").fill(readFileSync(file("leaf.csr"), "utf8"));
    await page.getByLabel("Validity in days (empty for the CA's default)").fill("30");
    await page.getByRole("button", { name: "Issue certificate" }).click();
    await expect.poll(() => page.locator("#issue-outcome").textContent()).toMatch(/^Issued serial \w+ to /);
    const serial = /serial (\w+)/.exec(
      (await page.locator("#issue-outcome").textContent()) ?? "",
    )?.[1] as string;
    writeFileSync(file("leaf.pem"), await page.getByLabel("Issued certificate (PEM)").inputValue());
    expect(await ocspStatus()).toBe("good");
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: join(shots, "ca-issued.png"), fullPage: true });

    const outcome = page.locator("#revocation-outcome");
    await page.getByLabel("Revocation reason").selectOption("certificateHold");
    await page.getByRole("button", { name: `Revoke ${serial}` }).click();
    await expect.poll(() => outcome.textContent()).toBe(`Certificate ${serial} is hold (certificateHold).`);
    expect(await ocspStatus()).toBe("revoked");
    await page.getByRole("button", { name: `Release ${serial}` }).click();
    await expect.poll(() => outcome.textContent()).toBe(`Certificate ${serial} is good.`);
    expect(await ocspStatus()).toBe("good");

    await page.getByLabel("Revocation reason").selectOption("keyCompromise");
    await page.getByRole("button", { name: `Revoke ${serial}` }).click();
    await expect.poll(() => outcome.textContent()).toBe(`Certificate ${serial} is revoked (keyCompromise).`);
    expect(await ocspStatus()).toBe("revoked");
    await expect.poll(() => page.locator("#issued tbody").textContent()).toContain("revoked (keyCompromise)");
    await page.screenshot({ path: join(shots, "ca-revoked.png"), fullPage: true });
  });

  it("starts a scan of a loopback TLS endpoint and shows its progress reach 100 %, then its results", async (context) => {
    if (!browser) return context.skip();
    const page = await signedIn("alice");
    await openFromNavigation(page, "Discovery");
    await expect.poll(() => page.locator("#agents tbody").textContent()).toContain("edge-1");
    await page.getByLabel("Name (runs of one name are compared)").fill("loopback");
    await page.getByLabel(/^Targets/).fill("127.0.0.1");
    await page.getByLabel("Ports").fill(String(server.strongroom.port));
    await page.getByRole("button", { name: "Start scan" }).click();
    await expect.poll(() => page.locator("#scan-outcome").textContent()).toBe("Scan loopback is queued.");
    const progress = page.getByRole("progressbar", { name: "Progress of loopback" });
    await expect.poll(() => progress.getAttribute("value")).toBe("0");
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: join(shots, "discovery-queued.png"), fullPage: true });

    // The discovery job runs the queued scan; the page polls while a scan is queued or running.
    await server.strongroom.scheduler.runOnce("discovery");
    await expect.poll(() => progress.getAttribute("value")).toBe("100");
    await expect.poll(() => page.locator("#scans tbody").textContent()).toContain("100 % (1 of 1)");
    await page.screenshot({ path: join(shots, "discovery-done.png"), fullPage: true });

    await page.getByRole("link", { name: "loopback" }).click();
    const location = `tls://127.0.0.1:${server.strongroom.port}`;
    await expect.poll(() => page.locator("#results tbody").textContent()).toContain(location);
    expect(await page.locator("#results tbody").textContent()).toContain("ok");
    expect(await axeProblems(page)).toEqual([]);
    await page.screenshot({ path: join(shots, "scan.png"), fullPage: true });
  });

  it("shows a Reader that revoking and starting a scan are refused, and changes nothing", async (context) => {
    if (!browser) return context.skip();
    opensslCsr(file("other.key"), file("other.csr"), "/CN=other.dashboard.test");
    const signed = await server.kv({
      method: "POST",
      url: "/admin/cas/issuing/sign",
      body: { csr: readFileSync(file("other.csr"), "utf8") },
    });
    expect(signed.statusCode, signed.body).toBe(201);
    const before = await issuedStatus();
    const page = await signedIn("bob");
    await page.goto(`${origin}/ui/cas/issuing`);
    await page.getByRole("button", { name: `Revoke ${signed.json().serial}` }).click();
    await expect
      .poll(() => page.locator("#revocation-outcome").textContent())
      .toMatch(/^Refused: .*not authorized/);
    expect(await issuedStatus()).toEqual(before);
    await page.screenshot({ path: join(shots, "reader-revoke-refused.png"), fullPage: true });

    const scans = async () =>
      (await server.kv({ method: "GET", url: "/admin/discovery/scans" })).json().value.length;
    const runs = await scans();
    await openFromNavigation(page, "Discovery");
    await page.getByLabel(/^Targets/).fill("127.0.0.1");
    await page.getByRole("button", { name: "Start scan" }).click();
    await expect
      .poll(() => page.locator("#scan-outcome").textContent())
      .toMatch(/^Refused: .*not authorized/);
    expect(await scans()).toBe(runs);
  });

  it("lays out the pages readably at 768 pixels with no serious accessibility problem", {
    timeout: 180_000,
  }, async (context) => {
    if (!browser) return context.skip();
    const page = await signedIn("alice", 768);
    for (const [name, path] of [
      ["cas", "/ui/cas"],
      ["ca", "/ui/cas/issuing"],
      ["discovery", "/ui/discovery"],
    ]) {
      await page.goto(`${origin}${path}`);
      await page.locator("main h2").waitFor();
      await page.locator("main table, main ul").first().waitFor();
      expect(await axeProblems(page), name).toEqual([]);
      // Nothing wider than the window: no sideways scrolling to reach a column or a button.
      expect(await page.evaluate(() => document.documentElement.scrollWidth), name).toBeLessThanOrEqual(768);
      await page.screenshot({ path: join(shots, `${name}-768.png`), fullPage: true });
    }
  });
});
