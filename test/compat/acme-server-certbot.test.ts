import { execFile, execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toPem } from "../../src/crypto/pem.js";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { type ChallTestSrv, freePort, pebbleAvailable, startChallTestSrv } from "../support/pebble.js";
import { commandExists, requireTool } from "../support/tools.js";

const certbotAvailable = requireTool("certbot", commandExists("certbot"), "apt-get install -y certbot");

describe.runIf(certbotAvailable && pebbleAvailable)("certbot against Strongroom's ACME server", () => {
  const work = mkdtempSync(join(tmpdir(), "strongroom-certbot-"));
  let server: InProcess;
  let dns: ChallTestSrv;
  let httpPort: number;
  let directory: string;
  let caBundle: string;
  let rootFile: string;
  let webroot: Server | undefined;

  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: work, encoding: "utf8" });

  /** Runs certbot without blocking: the server under test answers it from this process. */
  async function certbot(name: string, ...args: string[]) {
    const dirs = join(work, name);
    mkdirSync(dirs, { recursive: true });
    const child = spawn(
      "certbot",
      [
        ...args,
        "--non-interactive",
        "--agree-tos",
        "--register-unsafely-without-email",
        "--server",
        directory,
        "--config-dir",
        join(dirs, "config"),
        "--work-dir",
        join(dirs, "work"),
        "--logs-dir",
        join(dirs, "logs"),
      ],
      { env: { ...process.env, REQUESTS_CA_BUNDLE: caBundle }, timeout: 120_000 },
    );
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const status = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    return { status, output };
  }

  const live = (name: string, domain: string, file: string) =>
    join(work, name, "config", "live", domain, file);

  /** openssl verify of the leaf against the CA's root, with the served chain as untrusted. */
  const verify = (name: string, domain: string) =>
    openssl(
      "verify",
      "-CAfile",
      rootFile,
      "-untrusted",
      live(name, domain, "chain.pem"),
      live(name, domain, "cert.pem"),
    );

  /** Asks the OCSP responder named in the certificate; async, since the responder is in this process. */
  const ocspStatus = async (name: string, domain: string) => {
    const cert = live(name, domain, "cert.pem");
    const url = openssl("x509", "-in", cert, "-noout", "-ocsp_uri").trim();
    const issuer = live(name, domain, "chain.pem");
    const args = ["ocsp", "-issuer", issuer, "-cert", cert, "-url", url, "-CAfile", rootFile];
    return (await promisify(execFile)("openssl", args, { cwd: work })).stdout;
  };

  beforeAll(async () => {
    dns = await startChallTestSrv();
    httpPort = await freePort();
    server = await startInProcess({
      flags: {
        jobs: false,
        acmeValidationHttpPort: httpPort,
        acmeValidationResolver: dns.dnsServer,
      },
    });
    const core = server.strongroom.core;
    const root = await core.ca.createRoot({ name: "acme-root", subject: "CN=ACME Test Root" });
    await core.acmeProfiles.create("web", { ca: root.id, validityDays: 30 });
    directory = `https://127.0.0.1:${server.strongroom.port}/acme/web/directory`;
    caBundle = server.strongroom.admin.caFile as string;
    rootFile = join(work, "root.pem");
    writeFileSync(rootFile, toPem("CERTIFICATE", root.certificate as Buffer));
  }, 60_000);

  afterAll(async () => {
    await new Promise<void>((resolve) => (webroot ? webroot.close(() => resolve()) : resolve()));
    await server?.stop();
    await dns?.stop();
    if (!process.env.KEEP_WORK) rmSync(work, { recursive: true, force: true });
  });

  it("obtains, renews and revokes a certificate with standalone http-01, which openssl and OCSP agree on", async () => {
    const domain = "standalone.example.test";
    const args = ["--standalone", "--http-01-port", String(httpPort), "--http-01-address", "127.0.0.1"];
    const obtained = await certbot("standalone", "certonly", ...args, "-d", domain);
    expect(obtained.status, obtained.output).toBe(0);
    expect(verify("standalone", domain)).toContain(": OK");
    const first = readFileSync(live("standalone", domain, "cert.pem"), "utf8");

    const renewed = await certbot(
      "standalone",
      "renew",
      "--force-renewal",
      "--no-random-sleep-on-renew",
      ...args,
    );
    expect(renewed.status, renewed.output).toBe(0);
    const second = readFileSync(live("standalone", domain, "cert.pem"), "utf8");
    expect(second).not.toBe(first);
    expect(verify("standalone", domain)).toContain(": OK");
    expect(await ocspStatus("standalone", domain)).toMatch(/: good/);

    const revoked = await certbot(
      "standalone",
      "revoke",
      "--cert-path",
      live("standalone", domain, "cert.pem"),
      "--no-delete-after-revoke",
      "--reason",
      "keycompromise",
    );
    expect(revoked.status, revoked.output).toBe(0);
    expect(await ocspStatus("standalone", domain)).toMatch(/: revoked/);
  }, 180_000);

  it("obtains a certificate with webroot http-01 served by another web server", async () => {
    const root = join(work, "webroot");
    mkdirSync(join(root, ".well-known", "acme-challenge"), { recursive: true });
    webroot = createServer((request, response) => {
      try {
        response.end(readFileSync(join(root, (request.url ?? "/").replace(/\.\./g, ""))));
      } catch {
        response.statusCode = 404;
        response.end();
      }
    });
    await new Promise<void>((resolve) => webroot?.listen(httpPort, "127.0.0.1", resolve));
    const domain = "webroot.example.test";
    const obtained = await certbot("webroot", "certonly", "--webroot", "-w", root, "-d", domain);
    await new Promise<void>((resolve) => webroot?.close(() => resolve()));
    webroot = undefined;
    expect(obtained.status, obtained.output).toBe(0);
    expect(verify("webroot", domain)).toContain(": OK");
  }, 120_000);

  it("obtains a wildcard certificate with dns-01 through a manual auth hook writing TXT records", async () => {
    const hook = join(work, "dns-hook.sh");
    writeFileSync(
      hook,
      `#!/bin/sh\ncurl -sf -X POST -d "{\\"host\\":\\"_acme-challenge.$CERTBOT_DOMAIN.\\",\\"value\\":\\"$CERTBOT_VALIDATION\\"}" ${dns.managementUrl}/set-txt\n`,
    );
    chmodSync(hook, 0o755);
    const obtained = await certbot(
      "dns",
      "certonly",
      "--manual",
      "--preferred-challenges",
      "dns",
      "--manual-auth-hook",
      hook,
      "-d",
      "*.dns.example.test",
    );
    expect(obtained.status, obtained.output).toBe(0);
    expect(verify("dns", "dns.example.test")).toContain(": OK");
    const names = openssl(
      "x509",
      "-in",
      live("dns", "dns.example.test", "cert.pem"),
      "-noout",
      "-ext",
      "subjectAltName",
    );
    expect(names).toContain("DNS:*.dns.example.test");
  }, 120_000);
});
