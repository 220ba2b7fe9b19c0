import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { certId } from "../../src/issuers/acme/renewal-info.js";
import { createSqlAcmeStore } from "../../src/storage/sql-acme-store.js";
import { fakeClock, type InProcess, startInProcess } from "../support/in-process.js";
import { opensslCsr, opensslSelfSigned } from "../support/openssl-req.js";

const V = "api-version=7.6";
const DAY_MS = 86_400_000;

describe("RFC 9773 certificate identifiers", () => {
  const dir = mkdtempSync(join(tmpdir(), "strongroom-ari-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, encoding: "utf8" });

  it("names a certificate by its AKI and its serial's DER bytes, leading zero kept", () => {
    opensslSelfSigned(join(dir, "ca.key"), join(dir, "ca.pem"), "/CN=ARI test CA", { days: 2 });
    opensslCsr(join(dir, "leaf.key"), join(dir, "leaf.csr"), "/CN=leaf.test");
    writeFileSync(join(dir, "ext.cnf"), "authorityKeyIdentifier=keyid\n");
    // RFC 9773 appendix A's serial: 0x87654321 is encoded 00 87 65 43 21, "AIdlQyE" in base64url.
    openssl(
      ...[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-set_serial",
        "0x87654321",
      ],
      ...["-days", "1", "-out", "leaf.pem", "-extfile", "ext.cnf"],
    );
    const text = openssl("x509", "-in", "leaf.pem", "-noout", "-ext", "authorityKeyIdentifier");
    const aki = (text.match(/([0-9A-F]{2}(?::[0-9A-F]{2})+)/)?.[1] ?? "").replaceAll(":", "");
    const der = Buffer.from(
      readFileSync(join(dir, "leaf.pem"), "utf8").replace(/-----[^-]+-----|\s/g, ""),
      "base64",
    );
    expect(certId(der)).toBe(`${Buffer.from(aki, "hex").toString("base64url")}.AIdlQyE`);
  });
});

// Debian's pebble (2.4) predates ARI, so the CA side of renewalInfo is this small server.
describe("renewal times from ACME renewal information", () => {
  const clock = fakeClock(new Date("2026-03-01T00:00:00Z"));
  let server: InProcess;
  let ari: Server;
  let ariUrl: string;
  let answer: { status: number; body: unknown };

  beforeAll(async () => {
    server = await startInProcess({ clock, flags: { jobs: false } });
    ari = createServer((_request, response) => {
      response.writeHead(answer.status, { "content-type": "application/json", "retry-after": "21600" });
      response.end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => ari.listen(0, "127.0.0.1", resolve));
    const address = ari.address();
    ariUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/renewalInfo`;
  });
  afterAll(async () => {
    await server?.stop();
    await new Promise((resolve) => ari?.close(resolve));
  });

  const run = (job: string) => server.strongroom.scheduler.runOnce(job);
  const store = () => createSqlAcmeStore(server.strongroom.core.storage);

  it("renews when the CA's window comes, long before the policy's lifetime action", async () => {
    const created = await server.createCertificate("ari", {
      policy: {
        issuer: { name: "Self" },
        key_props: { kty: "EC" },
        x509_props: { subject: "CN=ari.test", validity_months: 12 },
        lifetime_actions: [{ trigger: { lifetime_percentage: 90 }, action: { action_type: "AutoRenew" } }],
      },
    });
    expect(created.statusCode).toBe(202);
    const first = (await server.kv({ method: "GET", url: `/certificates/ari?${V}` })).json();
    const version = first.id.split("/").at(-1) as string;
    const vault = await server.strongroom.core.vaults.get("default");
    await store().putRenewalInfo({
      vaultId: vault.id,
      name: "ari",
      version,
      issuerName: "le",
      renewalInfoUrl: `${ariUrl}/abc.AIdlQyE`,
      nextCheckAt: clock.now(),
    });
    const start = new Date(clock.now().getTime() + DAY_MS);
    const end = new Date(clock.now().getTime() + 2 * DAY_MS);
    answer = { status: 200, body: { suggestedWindow: { start, end } } };

    expect(await run("acme-upkeep")).toMatch(/^renewal info checked 1, failed 0;/);
    const [row] = await server.strongroom.core.storage.db
      .selectFrom("acme_renewal_info")
      .selectAll()
      .execute();
    expect(Number(row?.renew_at)).toBeGreaterThanOrEqual(start.getTime());
    expect(Number(row?.renew_at)).toBeLessThanOrEqual(end.getTime());
    expect(Number(row?.next_check_at)).toBe(clock.now().getTime() + 6 * 3_600_000);

    expect(await run("renewals")).toMatch(/renewed 0/);
    clock.advance(2 * DAY_MS + 60_000);
    expect(await run("renewals")).toMatch(/renewed 1/);
    const versions = (await server.kv({ method: "GET", url: `/certificates/ari/versions?${V}` })).json()
      .value;
    expect(versions).toHaveLength(2);
  });

  it("forgets the renewed version, keeps the policy's time and asks again in an hour when the CA does not answer", async () => {
    const vault = await server.strongroom.core.vaults.get("default");
    const current = (await server.kv({ method: "GET", url: `/certificates/ari?${V}` })).json();
    await store().putRenewalInfo({
      vaultId: vault.id,
      name: "ari",
      version: current.id.split("/").at(-1) as string,
      issuerName: "le",
      renewalInfoUrl: `${ariUrl}/def.AIdlQyE`,
      nextCheckAt: clock.now(),
    });
    answer = { status: 500, body: { type: "about:blank" } };
    expect(await run("acme-upkeep")).toMatch(/^renewal info checked 0, failed 1;/);
    const rows = await server.strongroom.core.storage.db
      .selectFrom("acme_renewal_info")
      .selectAll()
      .execute();
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(row?.renew_at).toBeNull();
    expect(Number(row?.next_check_at)).toBe(clock.now().getTime() + 3_600_000);
  });
});
