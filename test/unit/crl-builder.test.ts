import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as asn1js from "asn1js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAesGcmSealer } from "../../src/crypto/aes-gcm-sealer.js";
import { createCaKeys } from "../../src/crypto/ca-keys.js";
import { createCaX509 } from "../../src/crypto/ca-x509.js";
import { buildCrl } from "../../src/crypto/crl-builder.js";
import { derTime, elementAt } from "../../src/crypto/der.js";
import { masterKeyFrom } from "../../src/crypto/master-key.js";
import { toPem } from "../../src/crypto/pem.js";
import { createSoftwareKeyProtector } from "../../src/crypto/software-key-protector.js";
import { newSerial } from "../../src/domain/ca/ca-service.js";
import { type CrlSpec, REVOCATION_REASONS, type RevocationReason } from "../../src/domain/ca/model.js";
import type { CaSigner } from "../../src/domain/ca/ports.js";
import { legacyBuildCrl } from "../support/legacy-crl-builder.js";
import { tempDataDir } from "../support/server-process.js";

const DAY_MS = 86_400_000;
const caX509 = createCaX509();
const keys = createCaKeys({
  software: createSoftwareKeyProtector(createAesGcmSealer(masterKeyFrom(randomBytes(32)))),
});
const work = tempDataDir();
afterAll(() => work.remove());

/**
 * The TBSCertList's bytes: what the signature covers, equal between builders when all else is. Found
 * from the DER headers, as asn1js's decoder stops at 10,000 nodes (a CRL of ~1,600 entries).
 */
function toBeSigned(der: Buffer): string {
  const outer = elementAt(der, 0);
  const tbs = outer && elementAt(der, outer.start);
  if (!outer || !tbs) throw new Error("not DER");
  return der.subarray(outer.start, tbs.end).toString("hex");
}

describe("the CRL builder, revoked entries written without pkijs", () => {
  let issuer: Buffer;
  let signer: CaSigner;

  beforeAll(async () => {
    const made = await keys.generate("EC-P256", "software", "test/crl");
    signer = keys.signer("software", made.material, "test/crl", made.publicKey);
    issuer = await caX509.certificate(
      {
        serial: newSerial(),
        subject: "CN=CRL Builder Issuing, O=Example",
        notBefore: new Date(Date.now() - 600_000),
        notAfter: new Date(Date.now() + 30 * DAY_MS),
        publicKey: caX509.spki(made.publicKey),
        ca: { pathLength: 0 },
        keyUsage: ["keyCertSign", "cRLSign"],
        ekus: [],
        sans: { dnsNames: [], emails: [], uris: [], ipAddresses: [], upns: [] },
        policies: [],
      },
      signer,
    );
  });

  const reasons = Object.keys(REVOCATION_REASONS) as RevocationReason[];
  const spec = (entries: CrlSpec["entries"], distributionPoint?: string): CrlSpec => ({
    issuer,
    number: 77,
    thisUpdate: new Date("2026-12-06T10:11:12.345Z"),
    nextUpdate: new Date("2026-12-13T10:11:12.999Z"),
    entries,
    distributionPoint,
  });

  it("writes the to-be-signed bytes the pkijs builder wrote, for every reason, serials of every length and both kinds of time", async () => {
    const entries: CrlSpec["entries"] = [
      ...reasons.map((reason, i) => ({
        serial: newSerial(),
        revokedAt: new Date(Date.now() - i * 997),
        reason,
      })),
      { serial: "01", revokedAt: new Date("2049-12-31T23:59:59.500Z"), reason: "superseded" },
      { serial: "7f", revokedAt: new Date("2050-01-01T00:00:00.000Z"), reason: "keyCompromise" },
      { serial: "00ff", revokedAt: new Date("2000-02-29T01:02:03.000Z"), reason: "unspecified" },
      { serial: "0a".repeat(20), revokedAt: new Date("2099-06-30T12:00:00.000Z"), reason: "cACompromise" },
    ];
    for (const distributionPoint of [undefined, "http://pki.example.test/crl/1/3.crl"]) {
      const built = await buildCrl(spec(entries, distributionPoint), signer);
      const legacy = await legacyBuildCrl(spec(entries, distributionPoint), signer);
      expect(toBeSigned(built)).toBe(toBeSigned(legacy));
    }
  });

  it("writes the bytes the pkijs builder wrote for a CRL that lists nothing", async () => {
    const built = await buildCrl(spec([]), signer);
    expect(toBeSigned(built)).toBe(toBeSigned(await legacyBuildCrl(spec([]), signer)));
  });

  it("makes a CRL of many entries that openssl verifies and reads entry by entry", async () => {
    const entries = Array.from({ length: 3000 }, (_, i) => ({
      serial: newSerial(),
      revokedAt: new Date(Date.now() - Math.floor(i / 7) * 1000 - i),
      reason: reasons[i % reasons.length] as RevocationReason,
    }));
    const crl = await buildCrl(spec(entries), signer);
    expect(toBeSigned(crl)).toBe(toBeSigned(await legacyBuildCrl(spec(entries), signer)));
    const crlFile = join(work.dir, "many.crl");
    const caFile = join(work.dir, "ca.pem");
    writeFileSync(crlFile, toPem("X509 CRL", crl));
    writeFileSync(caFile, toPem("CERTIFICATE", issuer));
    const run = spawnSync("openssl", ["crl", "-in", crlFile, "-CAfile", caFile, "-noout", "-text"], {
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(run.stderr).toContain("verify OK");
    const text = run.stdout;
    const listed = [...text.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1]?.toLowerCase());
    expect(listed).toEqual(entries.map((e) => e.serial));
  });
});

describe("a certificate time written without asn1js", () => {
  it.each([
    "2026-12-06T10:11:12.345Z",
    "1999-01-01T00:00:00.000Z",
    "2049-12-31T23:59:59.999Z",
    "2050-01-01T00:00:00.000Z",
    "2123-07-04T05:06:07.000Z",
  ])("is asn1js's encoding in whole seconds for %s", (iso) => {
    const date = new Date(iso);
    const valueDate = new Date(Math.floor(date.getTime() / 1000) * 1000);
    const library =
      date.getUTCFullYear() < 2050
        ? new asn1js.UTCTime({ valueDate })
        : new asn1js.GeneralizedTime({ valueDate });
    expect(derTime(date).toString("hex")).toBe(Buffer.from(library.toBER()).toString("hex"));
  });
});
