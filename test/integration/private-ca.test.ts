import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toPem } from "../../src/crypto/pem.js";
import { FULL_CRL } from "../../src/domain/ca/model.js";
import { DomainError } from "../../src/domain/errors.js";
import { createSqlEventStore } from "../../src/storage/sql-event-store.js";
import { fakeClock, type InProcess, startInProcess } from "../support/in-process.js";
import { opensslCsr, opensslSelfSigned } from "../support/openssl-req.js";
import { tempDataDir } from "../support/server-process.js";

const V = "api-version=7.6";
const DAY_MS = 86_400_000;

describe("the private CA over time, in process", () => {
  const clock = fakeClock(new Date("2026-01-01T00:00:00Z"));
  const work = tempDataDir();
  let server: InProcess;
  const core = () => server.strongroom.core;
  const events = async () => createSqlEventStore(core().storage).after(0, 10_000);

  beforeAll(async () => {
    server = await startInProcess({ clock, flags: { jobs: false } });
    await core().ca.createRoot({ name: "root", subject: "CN=Timeline Root", pathLength: 1 });
    await core().ca.createIntermediate({
      name: "issuing",
      parent: "root",
      subject: "CN=Timeline Issuing",
      validityDays: 1000,
    });
    const issuer = await server.kv({
      method: "PUT",
      url: `/certificates/issuers/corp?${V}`,
      body: { provider: "PrivateCA", credentials: { account_id: "issuing" } },
    });
    expect(issuer.statusCode).toBe(200);
  });

  afterAll(async () => {
    await server?.stop();
    work.remove();
  });

  it("renews an AutoRenew certificate through the PrivateCA issuer from the renewal job", async () => {
    const created = await server.createCertificate("svc", {
      policy: {
        issuer: { name: "corp" },
        key_props: { kty: "EC" },
        x509_props: {
          subject: "CN=svc.internal",
          validity_months: 1,
          sans: { dns_names: ["svc.internal"] },
        },
        lifetime_actions: [{ trigger: { days_before_expiry: 10 }, action: { action_type: "AutoRenew" } }],
      },
    });
    expect(created.statusCode, created.body).toBe(202);
    expect(created.json().status).toBe("completed");
    clock.advance(25 * DAY_MS);
    await server.strongroom.scheduler.runOnce("renewals");
    const versions = (await server.kv({ method: "GET", url: `/certificates/svc/versions?${V}` })).json()
      .value;
    expect(versions).toHaveLength(2);
    const issuing = await core().ca.get("issuing");
    const issued = (await core().ca.listIssued("issuing")).filter((i) => i.vault?.name === "svc");
    expect(issued).toHaveLength(2);
    expect(issued.every((i) => i.caId === issuing.id && i.status === "good")).toBe(true);
  });

  it("raises CertificateRevoked and CertificateRevocationRemoved events for the vault certificate", async () => {
    const latest = (await server.kv({ method: "GET", url: `/certificates/svc?${V}` })).json();
    const version = latest.id.split("/").pop() as string;
    const vault = await core().vaults.get("default");
    const issued = await core().ca.findIssuedForVersion(vault.id, "svc", version);
    await core().ca.revoke(issued, "certificateHold");
    const held = (await server.kv({ method: "GET", url: `/certificates/svc/${version}?${V}` })).json();
    expect(held.attributes).toMatchObject({ revoked: true, revocationReason: "certificateHold" });
    await core().ca.release(await core().ca.findIssued(issued.serial));
    const released = (await server.kv({ method: "GET", url: `/certificates/svc/${version}?${V}` })).json();
    expect(released.attributes.revoked).toBeUndefined();
    const mine = (await events()).filter((e) => e.objectName === "svc" && e.type.includes("Revo"));
    expect(mine.map((e) => [e.type, e.version, e.detail])).toEqual([
      ["CertificateRevoked", version, "certificateHold"],
      ["CertificateRevocationRemoved", version, "certificateHold removed"],
    ]);
  });

  it("regenerates CRLs once half their validity has passed, and renews the OCSP responder in time", async () => {
    // Catch up after the weeks the first test skipped, then nothing is due.
    await server.strongroom.scheduler.runOnce("crl");
    const issuing = await core().ca.get("issuing");
    const before = await core().ca.crl(issuing.id, FULL_CRL);
    expect(await server.strongroom.scheduler.runOnce("crl")).toBe(
      "0 CRLs regenerated, 0 OCSP responder certificates renewed",
    );
    clock.advance(13 * 3_600_000);
    expect(await server.strongroom.scheduler.runOnce("crl")).toMatch(/^2 CRLs regenerated/);
    const after = await core().ca.crl(issuing.id, FULL_CRL);
    expect(after?.number).toBeGreaterThan(before?.number ?? 0);
    expect(after?.nextUpdate.getTime()).toBe(clock.now().getTime() + DAY_MS);
    const generation = issuing.responder?.generation ?? 0;
    clock.advance(21 * DAY_MS);
    expect(await server.strongroom.scheduler.runOnce("crl")).toContain(
      "2 OCSP responder certificates renewed",
    );
    const renewed = (await core().ca.get("issuing")).responder;
    expect(renewed?.generation).toBe(generation + 1);
    // The previous key stays for one more generation, for nodes still holding the old responder.
    expect(renewed?.retiredKeyMaterial?.equals(issuing.responder?.keyMaterial ?? Buffer.alloc(0))).toBe(true);
  });

  it("refuses an intermediate below a CA whose path length is 0", async () => {
    const error = await core()
      .ca.createIntermediate({ name: "too-deep", parent: "issuing", subject: "CN=Too Deep" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).message).toContain("path length 0");
  });
});

// The external CA (openssl) signs with the real time, so this runs on the real clock.
describe("an intermediate signed by an external CA", () => {
  const work = tempDataDir();
  let server: InProcess;
  const core = () => server.strongroom.core;
  const file = (name: string) => join(work.dir, name);

  beforeAll(async () => {
    server = await startInProcess();
  });

  afterAll(async () => {
    await server?.stop();
    work.remove();
  });

  it.each(["EC-P384", "Ed25519"] as const)(
    "makes a CSR for an external CA with an %s key and takes back the certificate it signs",
    async (keyAlgorithm) => {
      const name = `external-${keyAlgorithm}`;
      const pending = await core().ca.createIntermediate({
        name,
        external: true,
        subject: `CN=Externally Signed ${keyAlgorithm} Issuing CA`,
        keyAlgorithm,
      });
      expect(pending.status).toBe("awaitingCertificate");
      writeFileSync(file(`${name}.csr`), toPem("CERTIFICATE REQUEST", pending.csr as Buffer));
      // The "external CA" is openssl with a root of its own.
      const run = (...args: string[]) => execFileSync("openssl", args, { cwd: work.dir, stdio: "pipe" });
      opensslSelfSigned(file("ext-root.key"), file("ext-root.pem"), "/CN=Outside Root", { days: 3650 });
      writeFileSync(
        file("ca.ext"),
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
      );
      run(
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        "ext-root.pem",
        "-CAkey",
        "ext-root.key",
        "-CAcreateserial",
        "-out",
        `${name}.pem`,
        "-days",
        "365",
        "-extfile",
        "ca.ext",
      );
      const wrongKey = await core()
        .ca.importCertificate(name, [
          Buffer.from(readFileSync(file("ext-root.pem"), "utf8").split("\n").slice(1, -2).join(""), "base64"),
        ])
        .catch((e: unknown) => e);
      expect((wrongKey as DomainError).message).toContain(`not for CA ${name}'s key`);
      const der = (pem: string) =>
        Buffer.from(readFileSync(file(pem), "utf8").replace(/-----[^-]+-----|\s/g, ""), "base64");
      const imported = await core().ca.importCertificate(name, [der(`${name}.pem`), der("ext-root.pem")]);
      expect(imported.status).toBe("active");
      opensslCsr(file("x.key"), file("x.csr"), "/CN=x.example");
      const { issued, chain } = await core().ca.signCsr(name, der("x.csr"), {});
      writeFileSync(file("x.pem"), toPem("CERTIFICATE", issued.der));
      writeFileSync(file("untrusted.pem"), toPem("CERTIFICATE", chain[0] as Buffer));
      const verify = spawnSync(
        "openssl",
        ["verify", "-CAfile", file("ext-root.pem"), "-untrusted", file("untrusted.pem"), file("x.pem")],
        { encoding: "utf8" },
      );
      expect(`${verify.stdout}${verify.stderr}`).toContain("x.pem: OK");
    },
  );
});
