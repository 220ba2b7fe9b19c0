import "reflect-metadata";
import { randomBytes, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import type { Vault } from "../../src/domain/vaults/model.js";
import { type Core, jobList, openCore } from "../../src/main.js";
import { createSqlEventStore } from "../../src/storage/sql-event-store.js";
import { fakeClock } from "../support/in-process.js";
import { createTestDatabase, postgresAvailable } from "../support/postgres.js";
import { tempDataDir } from "../support/server-process.js";

const COUNT = 1000;

/** A certificate half-way through its life: its 50 % AutoRenew action is due the moment it is imported. */
async function halfLivedPem(now: Date): Promise<string> {
  const keys = await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: "CN=fleet.example",
    notBefore: new Date(now.getTime() - 100 * 86_400_000),
    notAfter: new Date(now.getTime() + 10 * 86_400_000),
    keys,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString("base64")}\n-----END PRIVATE KEY-----\n`;
  return key + cert.toString("pem");
}

describe.skipIf(!postgresAvailable)("two nodes sharing one PostgreSQL database", () => {
  const clock = fakeClock(new Date());
  const dirs = [tempDataDir(), tempDataDir()];
  let drop: () => Promise<void>;
  let nodes: Core[];
  let vaultOf: (node: Core) => Promise<Vault>;

  beforeAll(async () => {
    const database = await createTestDatabase();
    drop = database.drop;
    const masterKey = randomBytes(32).toString("base64");
    nodes = [];
    for (const dir of dirs) {
      const config = loadConfig({
        env: {},
        flags: { dataDir: dir.dir, database: database.url, masterKey, logLevel: "silent", jobs: false },
      });
      nodes.push(await openCore(config, clock));
    }
    vaultOf = (node) => node.vaults.get("default");
    const [first] = nodes as [Core];
    await first.vaults.create("default");
    const vault = await vaultOf(first);
    const pem = await halfLivedPem(clock.now());
    for (let i = 0; i < COUNT; i++) {
      await first.certificates.import(vault, `fleet-${i}`, {
        value: pem,
        policy: {
          issuer: { name: "Self" },
          contentType: "application/x-pem-file",
          key: { kty: "EC", curve: "P-256" },
          lifetimeActions: [{ lifetimePercentage: 50, action: "AutoRenew" }],
        },
      });
    }
  }, 180_000);

  afterAll(async () => {
    for (const node of nodes ?? []) await node.close();
    await drop?.();
    for (const dir of dirs) dir.remove();
  });

  it(`renews each of ${COUNT} due certificates exactly once, with no duplicate events, when both nodes run renewals at once`, async () => {
    const renewals = (node: Core) => {
      const job = jobList(node).find((j) => j.name === "renewals");
      if (!job) throw new Error("no renewals job");
      return job;
    };
    const signal = new AbortController().signal;
    // Straight at the jobs, past the scheduler's lease: only the renewal claims keep them apart.
    const summaries = await Promise.all(nodes.map((node) => renewals(node).run(signal)));
    const renewed = summaries.map((s) => Number(/renewed (\d+)/.exec(s)?.[1]));
    expect(renewed.reduce((a, b) => a + b, 0)).toBe(COUNT);

    const [first] = nodes as [Core];
    const vault = await vaultOf(first);
    for (let i = 0; i < COUNT; i += 97) {
      const versions = await first.certificates.listVersions(vault, `fleet-${i}`, undefined, undefined);
      expect(versions.items).toHaveLength(2);
    }
    const events = await createSqlEventStore(first.storage).after(0, 100_000);
    const created = events.filter((e) => e.type === "CertificateNewVersionCreated");
    expect(created).toHaveLength(2 * COUNT);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    const perCertificate = new Map<string, number>();
    for (const e of created) perCertificate.set(e.objectName, (perCertificate.get(e.objectName) ?? 0) + 1);
    expect([...perCertificate.values()].every((n) => n === 2)).toBe(true);

    // Nothing is due any more: the new versions start their own lives.
    const again = await Promise.all(nodes.map((node) => renewals(node).run(signal)));
    expect(again.every((s) => s.startsWith("renewed 0"))).toBe(true);
  }, 300_000);
});
