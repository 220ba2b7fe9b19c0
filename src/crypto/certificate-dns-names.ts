import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import type { CertificateNames } from "../domain/discovery/ports.js";

const DNS_NAME = /^[a-z0-9*]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

/** The DNS names a certificate is for: its SAN dNSNames, or its CN when it has no SAN and the CN is one. */
export function createCertificateDnsNames(): CertificateNames {
  return {
    dnsNames(der) {
      let cert: x509.X509Certificate;
      try {
        cert = new x509.X509Certificate(Buffer.from(der));
      } catch {
        // A server may present bytes that are not a certificate; they name nothing.
        return [];
      }
      const sans = cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? [];
      const names = sans.filter((n) => n.type === "dns").map((n) => n.value.toLowerCase());
      if (names.length === 0) {
        const cn = cert.subjectName.getField("CN")[0]?.toLowerCase();
        if (cn && DNS_NAME.test(cn) && cn.includes(".")) names.push(cn);
      }
      return [...new Set(names)];
    },
  };
}
