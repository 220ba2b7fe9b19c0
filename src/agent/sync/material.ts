import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { createCertificateBundleCodec } from "../../crypto/certificate-bundle-codec.js";
import { toPem } from "../../crypto/pem.js";
import type { OutputKind } from "./config.js";

/** A certificate version as the files want it: the leaf, the rest of its chain, and the key. */
export interface Material {
  leafPem: string;
  chainPem: string;
  keyPem: string;
  /** The key as PKCS#8 DER, for keystores. */
  pkcs8: Uint8Array;
  /** The leaf's DER, then the rest of its chain's. */
  certificates: Uint8Array[];
  /** SHA-256 of the leaf's DER, hex, as a TLS peer's `fingerprint256` shows it without colons. */
  fingerprint: string;
  serialNumber: string;
}

const codec = createCertificateBundleCodec();

/**
 * The certificate's secret as Key Vault returns it (`contentType` PEM or PKCS#12, base64) to
 * PEM parts. The leaf is the certificate of the private key, wherever the bundle puts it.
 */
export function materialFromSecret(value: string, contentType: string | undefined): Material {
  const bundle =
    contentType === "application/x-pem-file"
      ? codec.parsePem(value)
      : codec.parsePfx(Buffer.from(value, "base64"), undefined);
  if (!bundle.pkcs8) throw new Error("the secret holds no private key: is the certificate's key exportable?");
  const key = createPrivateKey({ key: bundle.pkcs8, format: "der", type: "pkcs8" });
  const certificates = bundle.certificates.map((der) => new X509Certificate(der));
  const leaf = certificates.find((c) => c.checkPrivateKey(key));
  if (!leaf) throw new Error("no certificate in the secret belongs to its private key");
  const chain = certificates.filter((c) => c !== leaf && !(c.issuer === c.subject && c.verify(c.publicKey)));
  return {
    leafPem: toPem("CERTIFICATE", leaf.raw),
    chainPem: chain.map((c) => toPem("CERTIFICATE", c.raw)).join(""),
    keyPem: key.export({ format: "pem", type: "pkcs8" }) as string,
    pkcs8: key.export({ format: "der", type: "pkcs8" }),
    certificates: [leaf, ...chain].map((c) => c.raw),
    fingerprint: createHash("sha256").update(leaf.raw).digest("hex"),
    serialNumber: leaf.serialNumber,
  };
}

/** What a PEM output of `kind` holds; keystores are rendered by keystores.ts. */
export function render(material: Material, kind: Exclude<OutputKind, "pkcs12" | "jks">): string {
  switch (kind) {
    case "cert":
      return material.leafPem;
    case "chain":
      return material.chainPem;
    case "fullchain":
      return material.leafPem + material.chainPem;
    case "key":
      return material.keyPem;
    case "combined":
      return material.keyPem + material.leafPem + material.chainPem;
  }
}
