import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServerClient } from "../../src/agent/server-client.js";
import { readAgentConfig } from "../../src/agent/sync/config.js";
import { keepInSync, vaultReader } from "../../src/agent/sync/runner.js";
import { createStateReporter } from "../../src/agent/sync/state-reporter.js";
import { createWakeup } from "../../src/agent/sync/wakeup.js";
import { assignRole } from "../support/access.js";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { commandExists, requireTool } from "../support/tools.js";

const V = "api-version=7.6";
const haveTools =
  requireTool("openssl", commandExists("openssl"), "apt-get install openssl") &&
  requireTool("keytool", commandExists("keytool"), "apt-get install default-jre-headless");

const until = async (what: string, check: () => boolean | Promise<boolean>, ms: number) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe.runIf(haveTools)("a tag selector sync writing PKCS#12 and Java keystores", () => {
  let server: InProcess;
  const dir = mkdtempSync(join(tmpdir(), "strongroom-sync-outputs-"));
  const stop = new AbortController();
  let running: Promise<void>;
  const log: string[] = [];
  const passwordFile = join(dir, "store.pass");

  const create = async (name: string, tags: Record<string, string>) => {
    const created = await server.createCertificate(name, {
      policy: {
        issuer: { name: "Self" },
        x509_props: { subject: `CN=${name}.example`, validity_months: 12 },
        key_props: { kty: "RSA", key_size: 2048, exportable: true },
      },
      tags,
    });
    expect(created.statusCode).toBe(202);
    const got = (await server.kv({ method: "GET", url: `/certificates/${name}?${V}` })).json();
    return new X509Certificate(Buffer.from(got.cer, "base64")).serialNumber;
  };
  const serialIn = (args: string[]) =>
    execFileSync("openssl", ["x509", "-noout", "-serial"], {
      input: execFileSync("openssl", args, { encoding: "utf8" }),
      encoding: "utf8",
    })
      .trim()
      .replace("serial=", "");

  beforeAll(async () => {
    server = await startInProcess();
    const core = server.strongroom.core;
    const { clientId, clientSecret } = await core.discovery.registerAgent("app-host");
    const principal = (await core.principals.list()).find((p) => p.clientId === clientId);
    await assignRole(server, principal?.id as string, "Key Vault Certificate User", "/vaults/default");
    writeFileSync(passwordFile, "correct horse\n", { mode: 0o600 });
    await create("app-one", { env: "prod", team: "payments" });
    await create("app-two", { env: "prod" });
    await create("app-dev", { env: "dev" });

    const configFile = join(dir, "agent.json");
    writeFileSync(
      configFile,
      JSON.stringify({
        syncs: [
          {
            name: "prod",
            vaultUrl: server.strongroom.admin.vaultUrl,
            tags: { env: "prod" },
            outputs: [
              { kind: "pkcs12", path: join(dir, "{certificate}", "store.p12"), passwordFile, alias: "app" },
              { kind: "jks", path: join(dir, "{certificate}", "store.jks"), passwordFile },
            ],
            pollSeconds: 1,
          },
        ],
      }),
    );
    const [spec] = readAgentConfig(configFile).syncs;
    const port = server.strongroom.port;
    const client = createServerClient({
      name: "app-host",
      serverUrl: `https://localhost:${port}`,
      tenantId: server.strongroom.admin.tenantId,
      clientId,
      clientSecret,
      authorityHost: `https://localhost:${port}`,
      scope: "https://localhost/.default",
      ca: readFileSync(server.strongroom.admin.caFile as string, "utf8"),
    });
    running = keepInSync(spec as NonNullable<typeof spec>, {
      vault: vaultReader(client),
      states: createStateReporter(client, (line) => log.push(line)),
      wakeup: createWakeup(),
      signal: stop.signal,
      log: (line) => log.push(line),
    });
  }, 120_000);

  afterAll(async () => {
    stop.abort();
    await running;
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("gives each certificate with the tags a directory of its own and leaves the others out", async () => {
    await until(
      "both keystores of both certificates",
      () => existsSync(join(dir, "app-two", "store.jks")) && existsSync(join(dir, "app-one", "store.jks")),
      60_000,
    );
    expect(readdirSync(dir).sort()).toEqual(["agent.json", "app-one", "app-two", "store.pass"]);
  }, 70_000);

  it("writes a PKCS#12 that openssl opens with the password file and a JKS that keytool lists", async () => {
    const serial = (await server.kv({ method: "GET", url: `/certificates/app-one?${V}` })).json();
    const expected = new X509Certificate(Buffer.from(serial.cer, "base64")).serialNumber;
    const p12 = join(dir, "app-one", "store.p12");
    expect(serialIn(["pkcs12", "-in", p12, "-passin", `file:${passwordFile}`, "-nokeys", "-clcerts"])).toBe(
      expected,
    );
    const listed = execFileSync(
      "keytool",
      ["-list", "-v", "-keystore", join(dir, "app-one", "store.jks"), "-storepass:file", passwordFile],
      { encoding: "utf8" },
    );
    expect(listed).toMatch(/Keystore type: JKS/i);
    expect(listed).toMatch(/Entry type: PrivateKeyEntry/);
    expect(listed.toLowerCase()).toContain(`serial number: ${expected.toLowerCase().replace(/^0+/, "")}`);
    // Key material stays private to the agent's user unless the configuration says otherwise.
    expect(statSync(p12).mode & 0o777).toBe(0o600);
  });

  it("rewrites the keystores only when the certificate changes, and tells the server", async () => {
    const p12 = join(dir, "app-two", "store.p12");
    const before = readFileSync(p12);
    await new Promise((r) => setTimeout(r, 2500));
    expect(readFileSync(p12).equals(before)).toBe(true);
    const renewed = await create("app-two", { env: "prod" });
    await until("the renewal in the PKCS#12", () => !readFileSync(p12).equals(before), 30_000);
    expect(serialIn(["pkcs12", "-in", p12, "-passin", `file:${passwordFile}`, "-nokeys", "-clcerts"])).toBe(
      renewed,
    );
    const core = server.strongroom.core;
    const agent = await core.discovery.agent("app-host");
    await until(
      "the server to know",
      async () =>
        (await core.deployments.syncs(agent.id)).some(
          (s) => s.name === "prod/app-two" && s.state === "in-sync",
        ),
      10_000,
    );
    expect((await core.deployments.syncs(agent.id)).map((s) => `${s.name} ${s.state}`)).toEqual([
      "prod/app-one in-sync",
      "prod/app-two in-sync",
    ]);
  }, 60_000);
});
