import { createHash, X509Certificate } from "node:crypto";
import type { CertificateInspector } from "../domain/access/ports.js";

/** Thumbprints as `x5t` (SHA-1) and `x5t#S256` name a certificate, in hex. */
export function createX509CertificateInspector(): CertificateInspector {
  return {
    inspect(encoded) {
      const certificate = new X509Certificate(encoded);
      const der = certificate.raw;
      return {
        der,
        thumbprintSha1: createHash("sha1").update(der).digest("hex"),
        thumbprintSha256: createHash("sha256").update(der).digest("hex"),
        notAfter: new Date(certificate.validTo),
      };
    },
  };
}
