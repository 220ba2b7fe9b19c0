/**
 * 100,000 certificates in the store, 10,000 of them due for AutoRenew: the time the renewal job
 * takes to find and renew the due ones (new software keys, self-signed), as renewals per second,
 * beside the in-process issuance rate (key + self-signed certificate, as in bench/cert-create) in
 * the same run; then the time of a sweep that finds nothing due. Run with `npm run bench:renewal-sweep`.
 */
import "reflect-metadata";
import { randomBytes, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { loadConfig } from "../src/config/config.js";
import { createAesGcmSealer } from "../src/crypto/aes-gcm-sealer.js";
import { masterKeyFrom } from "../src/crypto/master-key.js";
import { createSoftwareKeyProtector } from "../src/crypto/software-key-protector.js";
import { createX509Factory } from "../src/crypto/x509-factory.js";
import { normalizePolicy } from "../src/domain/certificates/policy.js";
import { jobList, openCore } from "../src/main.js";
import { tempDataDir } from "../test/support/server-process.js";

const TOTAL = 100_000;
const DUE = 10_000;
const BASELINE_S = 10;

async function pem(notBefore: Date, notAfter: Date): Promise<string> {
  const keys = await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: "CN=sweep.example",
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey)).toString("base64");
  return `-----BEGIN PRIVATE KEY-----\n${pkcs8}\n-----END PRIVATE KEY-----\n${cert.toString("pem")}`;
}

async function inProcessRate(): Promise<number> {
  const protector = createSoftwareKeyProtector(createAesGcmSealer(masterKeyFrom(randomBytes(32))));
  const factory = createX509Factory();
  const policy = normalizePolicy({
    issuer: { name: "Self" },
    key: { kty: "EC", curve: "P-256" },
    subject: "CN=sweep.example",
  });
  const until = performance.now() + BASELINE_S * 1000;
  let done = 0;
  const start = performance.now();
  while (performance.now() < until) {
    const context = `bench/${done}`;
    const key = await protector.generate({ kind: "EC", protection: "software", curve: "P-256" }, context);
    await factory.selfSigned(
      policy,
      { publicKey: key.publicKey, sign: protector.sign.bind(null, key.material, context) },
      new Date(),
    );
    done++;
  }
  return done / ((performance.now() - start) / 1000);
}

async function main(): Promise<void> {
  const data = tempDataDir();
  const core = await openCore(
    loadConfig({ env: {}, flags: { dataDir: data.dir, logLevel: "silent", jobs: false } }),
  );
  try {
    const vault = await core.vaults.create("default");
    const now = Date.now();
    const policy = {
      issuer: { name: "Self" },
      contentType: "application/x-pem-file",
      key: { kty: "EC", curve: "P-256" },
      lifetimeActions: [{ lifetimePercentage: 80, action: "AutoRenew" }],
    };
    // Two templates, imported once each through the API's service; the rest are copies of their rows.
    await core.certificates.import(vault, "template-due", {
      value: await pem(new Date(now - 300 * 86_400_000), new Date(now + 30 * 86_400_000)),
      policy,
    });
    await core.certificates.import(vault, "template-fresh", {
      value: await pem(new Date(now - 86_400_000), new Date(now + 365 * 86_400_000)),
      policy,
    });

    const seedStart = performance.now();
    const { db } = core.storage;
    const templates = await db
      .selectFrom("objects")
      .selectAll()
      .where("collection", "=", "certificates")
      .execute();
    const versions = await db
      .selectFrom("object_versions")
      .selectAll()
      .where("collection", "=", "certificates")
      .execute();
    const template = (name: string) => ({
      object: templates.find((t) => t.name === name),
      version: versions.find((v) => v.name_key === name),
    });
    const due = template("template-due");
    const fresh = template("template-fresh");
    if (!due.object || !due.version || !fresh.object || !fresh.version) throw new Error("templates missing");
    for (let i = 0; i < TOTAL; i += 1000) {
      const objects: (typeof templates)[number][] = [];
      const rows: Omit<(typeof versions)[number], "seq">[] = [];
      for (let j = i; j < Math.min(TOTAL, i + 1000); j++) {
        const t = j < DUE ? due : fresh;
        const name = `sweep-${j}`;
        const version = randomBytes(16).toString("hex");
        objects.push({ ...t.object, name, name_key: name, latest_version: version } as typeof due.object &
          object);
        const { seq: _seq, ...row } = t.version as (typeof versions)[number];
        rows.push({ ...row, name_key: name, version });
      }
      await db.transaction().execute(async (trx) => {
        for (let k = 0; k < objects.length; k += 200)
          await trx
            .insertInto("objects")
            .values(objects.slice(k, k + 200))
            .execute();
        for (let k = 0; k < rows.length; k += 200)
          await trx
            .insertInto("object_versions")
            .values(rows.slice(k, k + 200))
            .execute();
      });
    }
    console.log(
      `seeded ${TOTAL} certificates (${DUE} due) in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`,
    );

    const renewals = jobList(core).find((j) => j.name === "renewals");
    if (!renewals) throw new Error("no renewals job");
    const signal = new AbortController().signal;
    const renewStart = performance.now();
    const summary = await renewals.run(signal);
    const renewS = (performance.now() - renewStart) / 1000;
    const renewed = Number(/renewed (\d+)/.exec(summary)?.[1]);
    console.log(
      `renewal job: ${summary} in ${renewS.toFixed(1)} s → ${(renewed / renewS).toFixed(0)} renewals/s`,
    );
    const sweepStart = performance.now();
    const idle = await renewals.run(signal);
    console.log(
      `sweep with nothing due: ${idle} in ${((performance.now() - sweepStart) / 1000).toFixed(2)} s over ${TOTAL + 2 + renewed} certificates`,
    );
    const baseline = await inProcessRate();
    console.log(`in-process issuance: ${baseline.toFixed(0)} certificates/s (key + self-signed certificate)`);
    console.log(`ratio renewals/in-process issuance: ${(renewed / renewS / baseline).toFixed(2)}`);
  } finally {
    await core.close();
    data.remove();
  }
}

await main();
