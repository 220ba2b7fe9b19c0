import "reflect-metadata";
import { createHash, webcrypto } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Observation } from "../../src/domain/inventory/observation.js";
import type { Core } from "../../src/main.js";
import { fakeClock, type InProcess, startInProcess } from "../support/in-process.js";
import { serverBackends } from "../support/server-backends.js";
import { tempDataDir } from "../support/server-process.js";

x509.cryptoProvider.set(webcrypto as Crypto);

const DAY = 86_400_000;
const EC = { name: "ECDSA", namedCurve: "P-256" };

interface Made {
  der: Buffer;
  keys: CryptoKeyPair;
  name: string;
  sha256: string;
}

/** A certificate with key identifiers, so the inventory links it to its issuer as real chains link. */
async function make(options: {
  name: string;
  issuer?: Made;
  ca?: boolean;
  dns?: string[];
  rsaBits?: number;
  hash?: "SHA-1" | "SHA-256";
  notBefore: Date;
  notAfter: Date;
}): Promise<Made> {
  const keys = (await webcrypto.subtle.generateKey(
    options.rsaBits
      ? {
          name: "RSASSA-PKCS1-v1_5",
          modulusLength: options.rsaBits,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: "SHA-256",
        }
      : EC,
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  const signer = options.issuer?.keys ?? keys;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(options.ca ?? false, undefined, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(signer.publicKey),
  ];
  if (options.dns)
    extensions.push(
      new x509.SubjectAlternativeNameExtension(options.dns.map((value) => ({ type: "dns" as const, value }))),
    );
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: createHash("sha1")
      .update(`${options.name}${Math.random()}`)
      .digest("hex")
      .slice(0, 16)
      .replace(/^[89a-f]/, "1"),
    subject: options.name,
    issuer: options.issuer?.name ?? options.name,
    notBefore: options.notBefore,
    notAfter: options.notAfter,
    publicKey: keys.publicKey,
    signingKey: signer.privateKey,
    signingAlgorithm:
      signer.privateKey.algorithm.name === "ECDSA"
        ? { name: "ECDSA", hash: options.hash ?? "SHA-256" }
        : { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    extensions,
  });
  const der = Buffer.from(cert.rawData);
  return { der, keys, name: options.name, sha256: createHash("sha256").update(der).digest("hex") };
}

for (const backend of serverBackends) {
  describe.runIf(backend.enabled)(
    `grading the inventory finds exactly what is wrong (${backend.name})`,
    () => {
      const clock = fakeClock(new Date());
      const now = clock.now();
      const dates = {
        notBefore: new Date(now.getTime() - DAY),
        notAfter: new Date(now.getTime() + 90 * DAY),
      };
      let server: InProcess;
      let core: Core;
      let drop: (() => Promise<void>) | undefined;
      const made = {} as Record<
        "good" | "weakRsa" | "sha1" | "expired" | "mismatch" | "lonely" | "long" | "self",
        Made
      >;
      let inter: Made;
      let revoked: Buffer;
      const signal = new AbortController().signal;

      const tls = (host: string, cert: Made | Buffer, chain: Buffer[] = []): Observation => ({
        der: Buffer.isBuffer(cert) ? cert : cert.der,
        chain,
        location: `tls://${host}:443`,
        source: "tls",
        seenAt: clock.now(),
      });
      const fp = (der: Buffer) => createHash("sha256").update(der).digest("hex");

      /** Open findings as `kind@location`, by certificate fingerprint. */
      async function openFindings(): Promise<Record<string, string[]>> {
        const found: Record<string, string[]> = {};
        let after: number | undefined;
        do {
          const page = await core.findings.listOpen(2, after);
          for (const f of page.items)
            found[f.fingerprintSha256] = [
              ...(found[f.fingerprintSha256] ?? []),
              `${f.kind}@${f.locationUri ?? ""}`,
            ];
          after = page.next;
        } while (after !== undefined);
        for (const list of Object.values(found)) list.sort();
        return found;
      }

      beforeAll(async () => {
        const database = await backend.database();
        drop = database?.drop;
        const data = tempDataDir();
        const bundleRoot = await make({
          name: "CN=Bundle Root",
          ca: true,
          ...dates,
          notAfter: new Date(now.getTime() + 3650 * DAY),
        });
        const bundle = join(data.dir, "trust.pem");
        writeFileSync(bundle, new x509.X509Certificate(new Uint8Array(bundleRoot.der)).toString("pem"));
        server = await startInProcess({
          clock,
          dataDir: data.dir,
          ...(database && { database: database.url }),
          flags: { jobs: false, trustBundleFile: bundle },
        });
        core = server.strongroom.core;
        inter = await make({ name: "CN=Bundle Inter", ca: true, issuer: bundleRoot, ...dates });
        const leaf = (name: string, extra: Partial<Parameters<typeof make>[0]> = {}) =>
          make({ name: `CN=${name}`, dns: [name], issuer: inter, ...dates, ...extra });
        made.good = await leaf("good.example.com");
        made.weakRsa = await leaf("weak.example.com", { rsaBits: 1024 });
        made.sha1 = await leaf("sha1.example.com", { hash: "SHA-1" });
        made.expired = await leaf("old.example.com", {
          notBefore: new Date(now.getTime() - 100 * DAY),
          notAfter: new Date(now.getTime() - DAY),
        });
        made.mismatch = await leaf("other.example.com");
        made.lonely = await leaf("lonely.example.com");
        made.long = await leaf("long.example.com", { notAfter: new Date(now.getTime() + 364 * DAY) });
        made.self = await make({ name: "CN=self.example.com", dns: ["self.example.com"], ...dates });

        // A certificate the private CA issued, then revoked, while a server still presents it.
        await core.ca.createRoot({ name: "corp-root", subject: "CN=Corp Root" });
        const keys = (await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
        const csr = await x509.Pkcs10CertificateRequestGenerator.create({
          name: "CN=revoked.example.com",
          keys,
          signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
          extensions: [
            new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "revoked.example.com" }]),
          ],
        });
        const { issued } = await core.ca.signCsr("corp-root", Buffer.from(csr.rawData), { validityDays: 30 });
        await core.ca.revoke(issued, "keyCompromise");
        revoked = issued.der;

        await server.kv({
          method: "PUT",
          url: "/admin/rules",
          body: { kind: "max-validity-days", value: 200, vault: "default" },
        });
        await core.inventory.observe([
          tls("good.example.com", made.good, [inter.der]),
          tls("weak.example.com", made.weakRsa, [inter.der]),
          tls("sha1.example.com", made.sha1, [inter.der]),
          tls("old.example.com", made.expired, [inter.der]),
          tls("wrong.example.com", made.mismatch, [inter.der]),
          tls("lonely.example.com", made.lonely),
          tls("long.example.com", made.long, [inter.der]),
          tls("self.example.com", made.self),
          tls("revoked.example.com", revoked),
          {
            der: made.long.der,
            chain: [inter.der],
            location: "vault://default/certificates/long/v1",
            source: "vault",
            seenAt: clock.now(),
          },
        ]);
      });
      afterAll(async () => {
        await server?.stop();
        await drop?.();
      });

      it("opens exactly the expected findings and nothing on the certificates that are fine", async () => {
        const progress = await core.grading.grade(signal);
        expect(progress.mode).toBe("full");
        const rule = (await core.rules.list({ vault: "default" }))[0];
        expect(await openFindings()).toEqual({
          [made.weakRsa.sha256]: ["weak-algorithm@"],
          [made.sha1.sha256]: ["weak-algorithm@"],
          [made.expired.sha256]: ["expired-in-use@tls://old.example.com:443"],
          [made.mismatch.sha256]: ["hostname-mismatch@tls://wrong.example.com:443"],
          [made.lonely.sha256]: ["missing-intermediate@tls://lonely.example.com:443"],
          [made.self.sha256]: ["unknown-ca@"],
          [fp(revoked)]: ["revoked-in-use@tls://revoked.example.com:443"],
          [made.long.sha256]: ["violation@"],
        });
        const violation = (await core.findings.forCertificate(made.long.sha256))[0];
        expect(violation?.ruleId).toBe(rule?.id);
        expect(violation?.reason).toMatch(/validity of 36\d days exceeds 200/);
      });

      it("re-grades only the records a change touched and resolves what no longer holds", async () => {
        const renewed = await make({
          name: "CN=old.example.com",
          dns: ["old.example.com"],
          issuer: inter,
          ...dates,
        });
        await core.inventory.observe([tls("old.example.com", renewed, [inter.der])]);
        const progress = await core.grading.grade(signal);
        expect(progress.mode).toBe("changed");
        // The renewed certificate, the expired one it replaced, and the intermediate in its chain.
        expect(progress.graded).toBe(3);
        expect(progress.resolved).toBe(1);
        const open = await openFindings();
        expect(open[made.expired.sha256]).toBeUndefined();
        expect(open[renewed.sha256]).toBeUndefined();
        const history = await core.findings.forCertificate(made.expired.sha256);
        expect(history.map((f) => [f.kind, f.resolvedAt !== undefined])).toEqual([["expired-in-use", true]]);
      });

      it("re-grades everything after a rule change: a deleted rule's violations resolve, a new one's open", async () => {
        const [rule] = await core.rules.list({ vault: "default" });
        await core.rules.remove(rule?.id as string);
        await core.rules.set({ kind: "key-types", value: ["EC"] });
        const progress = await core.grading.grade(signal);
        expect(progress.mode).toBe("full");
        const open = await openFindings();
        expect(open[made.long.sha256]).toBeUndefined();
        expect(open[made.weakRsa.sha256]).toEqual(["violation@", "weak-algorithm@"]);
        // Grading again changes nothing: findings are not opened twice.
        const again = await core.grading.gradeAll(signal);
        expect([again.opened, again.resolved]).toEqual([0, 0]);
      });

      it("grades nothing when nothing changed", async () => {
        expect((await core.grading.grade(signal)).graded).toBe(0);
      });

      it("grades a certificate by its owner's rules, which replace the installation's, and by no other owner's", async () => {
        await core.rules.set({ kind: "max-validity-days", value: 60 });
        const set = await server.kv({
          method: "PUT",
          url: "/admin/rules",
          body: { kind: "max-validity-days", value: 400, owner: "Payments" },
        });
        expect(set.statusCode).toBe(200);
        const ownerRule = (await core.rules.list({ owner: "payments" }))[0];
        expect(ownerRule).toMatchObject({ level: "owner", targetName: "Payments" });
        await core.rules.set({ kind: "dns-names", value: ["example.org"], owner: "checkout" });
        await core.inventory.setOwner(made.good.sha256, { team: "PAYMENTS" });
        await core.grading.grade(signal);
        const installationRule = (await core.rules.list()).find((r) => r.kind === "max-validity-days");
        const violations = async (fingerprint: string) =>
          (await core.findings.forCertificate(fingerprint))
            .filter((f) => f.kind === "violation" && f.resolvedAt === undefined)
            .map((f) => f.ruleId);
        // 91 days of validity: within the owner's 400, beyond the installation's 60.
        expect(await violations(made.good.sha256)).toEqual([]);
        expect(await violations(made.mismatch.sha256)).toEqual([installationRule?.id]);

        // Another owner's rule follows the record when its owner changes, and only then.
        const checkoutRule = (await core.rules.list({ owner: "checkout" }))[0];
        await core.inventory.setOwner(made.good.sha256, { application: "Checkout" });
        expect((await core.grading.grade(signal)).mode).toBe("changed");
        expect((await violations(made.good.sha256)).sort()).toEqual(
          [installationRule?.id, checkoutRule?.id].sort(),
        );
        expect(await violations(made.mismatch.sha256)).toEqual([installationRule?.id]);
      });

      it("refuses an owner rule with no name or set at two places at once", async () => {
        const blank = await server.kv({
          method: "PUT",
          url: "/admin/rules",
          body: { kind: "wildcards", value: false, owner: "  " },
        });
        expect(blank.statusCode).toBe(400);
        expect(blank.json().error.code).toBe("BadParameter");
        const both = await server.kv({
          method: "PUT",
          url: "/admin/rules",
          body: { kind: "wildcards", value: false, owner: "payments", vault: "default" },
        });
        expect(both.statusCode).toBe(400);
        expect((await core.rules.list()).filter((r) => r.kind === "wildcards")).toEqual([]);
      });
    },
  );
}
