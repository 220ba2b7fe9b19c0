import "reflect-metadata";
import { execFileSync } from "node:child_process";
import { webcrypto } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { afterAll, describe, expect, it } from "vitest";
import { assemblePfx, createCertificateBundleCodec } from "../../src/crypto/certificate-bundle-codec.js";

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

/** The PFX as pkijs writes it (how Strongroom built it before), with the salt pkijs drew. */
async function pkijsPfx(pkcs8: Buffer, certificates: Buffer[]): Promise<{ pfx: Buffer; salt: Buffer }> {
  pkijs.setEngine("node", new pkijs.CryptoEngine({ name: "node", crypto: webcrypto as unknown as Crypto }));
  const bags = certificates.map(
    (der) =>
      new pkijs.SafeBag({
        bagId: "1.2.840.113549.1.12.10.1.3",
        bagValue: new pkijs.CertBag({
          certId: "1.2.840.113549.1.9.22.1",
          certValue: new asn1js.OctetString({ valueHex: new Uint8Array(der).buffer }),
        }),
      }),
  );
  const key = new pkijs.SafeBag({
    bagId: "1.2.840.113549.1.12.10.1.1",
    bagValue: pkijs.PrivateKeyInfo.fromBER(new Uint8Array(pkcs8).buffer),
  });
  const contents = [new pkijs.SafeContents({ safeBags: [key] }), new pkijs.SafeContents({ safeBags: bags })];
  const authenticatedSafe = new pkijs.AuthenticatedSafe({
    parsedValue: { safeContents: contents.map((value) => ({ privacyMode: 0, value })) },
  });
  await authenticatedSafe.makeInternalValues({ safeContents: contents.map(() => ({})) });
  const pfx = new pkijs.PFX({ parsedValue: { integrityMode: 0, authenticatedSafe } });
  await pfx.makeInternalValues({
    password: new ArrayBuffer(0),
    iterations: 1,
    pbkdf2HashAlgorithm: "SHA-256",
    hmacHashAlgorithm: "SHA-256",
  });
  const salt = Buffer.from((pfx.macData as pkijs.MacData).macSalt.valueBlock.valueHexView);
  return { pfx: Buffer.from(pfx.toSchema().toBER(false)), salt };
}

describe("the PFX of a certificate's secret", () => {
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
