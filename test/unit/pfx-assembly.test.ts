import "reflect-metadata";
import { execFileSync } from "node:child_process";
import { webcrypto } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { afterAll, describe, expect, it } from "vitest";
import { assemblePfx, createCertificateBundleCodec } from "../../src/crypto/certificate-bundle-codec.js";
import { pkijsPfx } from "../support/pkijs-pfx.js";

const dir = mkdtempSync(join(tmpdir(), "strongroom-pfx-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function chain(): Promise<{ pkcs8: Buffer; certificates: Buffer[] }> {
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const rootKeys = (await webcrypto.subtle.generateKey(alg, false, ["sign", "verify"])) as CryptoKeyPair;
  const leafKeys = (await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    name: "CN=PFX Root",
    keys: rootKeys,
    signingAlgorithm: alg,
  });
  const leaf = await x509.X509CertificateGenerator.create({
    subject: "CN=pfx.example",
    issuer: root.subject,
    publicKey: leafKeys.publicKey,
    signingKey: rootKeys.privateKey,
    signingAlgorithm: alg,
  });
  const pkcs8 = Buffer.from(
    await webcrypto.subtle.exportKey("pkcs8", leafKeys.privateKey as webcrypto.CryptoKey),
  );
  return { pkcs8, certificates: [Buffer.from(leaf.rawData), Buffer.from(root.rawData)] };
}

describe("the PFX of a certificate's secret", () => {
  // How Strongroom built it before assembling it from DER parts.
  it("is byte for byte what pkijs writes for the same salt, MAC included", async () => {
    const { pkcs8, certificates } = await chain();
    const reference = await pkijsPfx(pkcs8, certificates);
    expect(assemblePfx(pkcs8, certificates, reference.salt)).toEqual(reference.pfx);
  });

  it("opens in openssl with an empty password, its MAC verified, and reads back in our codec", async () => {
    const { pkcs8, certificates } = await chain();
    const pfx = await createCertificateBundleCodec().buildPfx(pkcs8, certificates);
    const file = join(dir, "bundle.pfx");
    writeFileSync(file, pfx);
    const info = execFileSync("openssl", ["pkcs12", "-in", file, "-passin", "pass:", "-info", "-nodes"], {
      stdio: ["ignore", "pipe", "pipe"],
    }).toString();
    expect(info).toContain("BEGIN PRIVATE KEY");
    expect(info.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    // openssl exits non-zero on a MAC it cannot verify; a wrong password must be refused.
    expect(() =>
      execFileSync("openssl", ["pkcs12", "-in", file, "-passin", "pass:wrong", "-noout"], {
        stdio: "ignore",
      }),
    ).toThrow();
    const read = createCertificateBundleCodec().parsePfx(pfx, "");
    expect(read.pkcs8).toEqual(pkcs8);
    expect(read.certificates).toEqual(certificates);
  });

  it("holds only certificates when there is no exportable key", async () => {
    const { certificates } = await chain();
    const read = createCertificateBundleCodec().parsePfx(
      await createCertificateBundleCodec().buildPfx(undefined, certificates),
      "",
    );
    expect(read.pkcs8).toBeUndefined();
    expect(read.certificates).toEqual(certificates);
  });
});
