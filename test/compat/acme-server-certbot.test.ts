import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AcmeServerUnderTest,
  ocspStatus,
  openssl,
  runClient,
  startAcmeServer,
} from "../support/acme-server.js";
import { pebbleAvailable } from "../support/pebble.js";
import { commandExists, requireTool } from "../support/tools.js";

const certbotAvailable = requireTool("certbot", commandExists("certbot"), "apt-get install -y certbot");

describe.runIf(certbotAvailable && pebbleAvailable)("certbot against Strongroom's ACME server", () => {
  let acme: AcmeServerUnderTest;
  let webroot: Server | undefined;

  function certbot(name: string, ...args: string[]) {
    const dirs = join(acme.work, name);
    mkdirSync(dirs, { recursive: true });
    return runClient(
      "certbot",
      [
        ...args,
        "--non-interactive",
        "--agree-tos",
        "--register-unsafely-without-email",
        "--server",
        acme.directory("web"),
        "--config-dir",
        join(dirs, "config"),
        "--work-dir",
        join(dirs, "work"),
        "--logs-dir",
        join(dirs, "logs"),
      ],
      { REQUESTS_CA_BUNDLE: acme.tlsCaFile },
    );
  }

  const live = (name: string, domain: string, file: string) =>
    join(acme.work, name, "config", "live", domain, file);

  /** openssl verify of the leaf against the CA's root, with the served chain as untrusted. */
  const verify = (name: string, domain: string) =>
    openssl(
      acme.work,
      "verify",
      "-CAfile",
      acme.rootFile,
      "-untrusted",
      live(name, domain, "chain.pem"),
      live(name, domain, "cert.pem"),
    );

  const ocsp = (name: string, domain: string) =>
    ocspStatus(acme.work, live(name, domain, "cert.pem"), live(name, domain, "chain.pem"), acme.rootFile);

  beforeAll(async () => {
    acme = await startAcmeServer({ web: { validityDays: 30 } });
  }, 60_000);

  afterAll(async () => {
    await new Promise<void>((resolve) => (webroot ? webroot.close(() => resolve()) : resolve()));
    await acme?.stop();
  });

  it("obtains, renews and revokes a certificate with standalone http-01, which openssl and OCSP agree on", async () => {
    const domain = "standalone.example.test";
    const args = ["--standalone", "--http-01-port", String(acme.httpPort), "--http-01-address", "127.0.0.1"];
    const obtained = await certbot("standalone", "certonly", ...args, "-d", domain);
    expect(obtained.status, obtained.output).toBe(0);
    expect(await verify("standalone", domain)).toContain(": OK");
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
    expect(await verify("standalone", domain)).toContain(": OK");
    expect(await ocsp("standalone", domain)).toMatch(/: good/);

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
    expect(await ocsp("standalone", domain)).toMatch(/: revoked/);
  }, 180_000);

  it("obtains a certificate with webroot http-01 served by another web server", async () => {
    const root = join(acme.work, "webroot");
    mkdirSync(join(root, ".well-known", "acme-challenge"), { recursive: true });
    webroot = createServer((request, response) => {
      try {
        response.end(readFileSync(join(root, (request.url ?? "/").replace(/\.\./g, ""))));
      } catch {
        response.statusCode = 404;
        response.end();
      }
    });
    await new Promise<void>((resolve) => webroot?.listen(acme.httpPort, "127.0.0.1", resolve));
    const domain = "webroot.example.test";
    const obtained = await certbot("webroot", "certonly", "--webroot", "-w", root, "-d", domain);
    await new Promise<void>((resolve) => webroot?.close(() => resolve()));
    webroot = undefined;
    expect(obtained.status, obtained.output).toBe(0);
    expect(await verify("webroot", domain)).toContain(": OK");
  }, 120_000);

  it("obtains a wildcard certificate with dns-01 through a manual auth hook writing TXT records", async () => {
    const hook = join(acme.work, "dns-hook.sh");
    writeFileSync(
      hook,
      `#!/bin/sh\ncurl -sf -X POST -d "{\\"host\\":\\"_acme-challenge.$CERTBOT_DOMAIN.\\",\\"value\\":\\"$CERTBOT_VALIDATION\\"}" ${acme.dns.managementUrl}/set-txt\n`,
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
    expect(await verify("dns", "dns.example.test")).toContain(": OK");
    const names = await openssl(
      acme.work,
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
