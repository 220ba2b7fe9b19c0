import { chmodSync, readFileSync, writeFileSync } from "node:fs";
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

const legoAvailable = requireTool("lego", commandExists("lego"), "apt-get install -y lego");

describe.runIf(legoAvailable && pebbleAvailable)("lego against Strongroom's ACME server", () => {
  let acme: AcmeServerUnderTest;

  /** lego with its own data directory per run, trusting the server's TLS CA. */
  const lego = (
    path: string,
    profile: string,
    args: string[],
    command: string[],
    env: NodeJS.ProcessEnv = {},
  ) =>
    runClient(
      "lego",
      [
        "--server",
        acme.directory(profile),
        "--path",
        join(acme.work, path),
        "--email",
        "ops@example.test",
        "--accept-tos",
        ...args,
        ...command,
      ],
      { LEGO_CA_CERTIFICATES: acme.tlsCaFile, ...env },
    );

  const certificates = (path: string, domain: string) => join(acme.work, path, "certificates", `${domain}`);

  /** Splits lego's bundle (leaf then issuer) and verifies the leaf against the root. */
  async function verify(
    path: string,
    domain: string,
  ): Promise<{ leaf: string; issuer: string; output: string }> {
    const bundle = readFileSync(`${certificates(path, domain)}.crt`, "utf8");
    const [leafPem, ...rest] = bundle.split(/(?=-----BEGIN CERTIFICATE-----)/);
    const leaf = join(acme.work, `${path}-leaf.pem`);
    const issuer = join(acme.work, `${path}-issuer.pem`);
    writeFileSync(leaf, leafPem ?? "");
    writeFileSync(issuer, rest.join(""));
    const output = await openssl(acme.work, "verify", "-CAfile", acme.rootFile, "-untrusted", issuer, leaf);
    return { leaf, issuer, output };
  }

  beforeAll(async () => {
    acme = await startAcmeServer({ web: { validityDays: 30 }, partners: { eabRequired: true } });
  }, 60_000);

  afterAll(async () => {
    await acme?.stop();
  });

  it("obtains, renews and revokes a certificate with http-01", async () => {
    const domain = "lego-http.example.test";
    const args = ["--http", "--http.port", `127.0.0.1:${acme.httpPort}`, "--domains", domain];
    const run = await lego("http", "web", args, ["run"]);
    expect(run.status, run.output).toBe(0);
    const first = await verify("http", domain);
    expect(first.output).toContain(": OK");
    const before = readFileSync(first.leaf, "utf8");

    const renew = await lego("http", "web", args, ["renew", "--days", "45", "--no-random-sleep"]);
    expect(renew.status, renew.output).toBe(0);
    const second = await verify("http", domain);
    expect(readFileSync(second.leaf, "utf8")).not.toBe(before);
    expect(await ocspStatus(acme.work, second.leaf, second.issuer, acme.rootFile)).toMatch(/: good/);

    const revoke = await lego("http", "web", args, ["revoke", "--keep", "--reason", "4"]);
    expect(revoke.status, revoke.output).toBe(0);
    expect(await ocspStatus(acme.work, second.leaf, second.issuer, acme.rootFile)).toMatch(/: revoked/);
  }, 180_000);

  it("obtains a certificate with tls-alpn-01", async () => {
    const domain = "lego-tls.example.test";
    const run = await lego(
      "tls",
      "web",
      ["--tls", "--tls.port", `127.0.0.1:${acme.tlsPort}`, "--domains", domain],
      ["run"],
    );
    expect(run.status, run.output).toBe(0);
    expect((await verify("tls", domain)).output).toContain(": OK");
  }, 120_000);

  it("obtains a certificate with dns-01 through the exec provider", async () => {
    const hook = join(acme.work, "lego-dns.sh");
    // lego's exec provider calls: present|cleanup <fqdn> <value>.
    writeFileSync(
      hook,
      `#!/bin/sh\n[ "$1" = present ] || exit 0\ncurl -sf -X POST -d "{\\"host\\":\\"$2\\",\\"value\\":\\"$3\\"}" ${acme.dns.managementUrl}/set-txt\n`,
    );
    chmodSync(hook, 0o755);
    const domain = "lego-dns.example.test";
    const run = await lego(
      "dns",
      "web",
      ["--dns", "exec", "--dns.resolvers", acme.dns.dnsServer, "--dns.disable-cp", "--domains", domain],
      ["run"],
      { EXEC_PATH: hook, EXEC_PROPAGATION_TIMEOUT: "10", EXEC_POLLING_INTERVAL: "1" },
    );
    expect(run.status, run.output).toBe(0);
    expect((await verify("dns", domain)).output).toContain(": OK");
  }, 120_000);

  // lego reads meta.externalAccountRequired and stops before asking; the server's own refusal of a
  // newAccount without a binding is in test/integration/acme-server-protocol.test.ts.
  it("is told by the directory that the profile requires external account binding", async () => {
    const run = await lego(
      "no-eab",
      "partners",
      ["--http", "--http.port", `127.0.0.1:${acme.httpPort}`, "-d", "eab.example.test"],
      ["run"],
    );
    expect(run.status).not.toBe(0);
    expect(run.output).toContain("Server requires External Account Binding");
  }, 60_000);

  it("registers with an EAB key made for the profile and obtains a certificate", async () => {
    const { keyId, hmacKey } = await acme.server.strongroom.core.acmeProfiles.createEabKey("partners");
    const domain = "eab.example.test";
    const run = await lego(
      "eab",
      "partners",
      [
        "--eab",
        "--kid",
        keyId,
        "--hmac",
        hmacKey,
        "--http",
        "--http.port",
        `127.0.0.1:${acme.httpPort}`,
        "-d",
        domain,
      ],
      ["run"],
    );
    expect(run.status, run.output).toBe(0);
    expect((await verify("eab", domain)).output).toContain(": OK");
    const keys = await acme.server.strongroom.core.acmeProfiles.listEabKeys("partners");
    expect(keys.find((k) => k.keyId === keyId)?.accountId).toBeDefined();
  }, 120_000);
});
