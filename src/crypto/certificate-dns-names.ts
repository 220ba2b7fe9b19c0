import type { CertificateNames } from "../domain/discovery/ports.js";
import { readCertificateFacts } from "./certificate-facts-reader.js";

const DNS_NAME = /^[a-z0-9*]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

/**
 * The DNS names a certificate is for: its SAN dNSNames, or its CN when it has no SAN and the CN is
 * one. Read with the inventory's DER walker: every scanned endpoint passes through here.
 */
export function createCertificateDnsNames(): CertificateNames {
  return {
    dnsNames(der) {
      let facts: ReturnType<typeof readCertificateFacts>;
      try {
        facts = readCertificateFacts(der);
      } catch {
        // A server may present bytes that are not a certificate; they name nothing.
        return [];
      }
      const names = facts.sans.filter((n) => n.type === "dns").map((n) => n.value.toLowerCase());
      if (names.length === 0) {
        const cn = /(?:^|,\s*)CN=([^,]+)/.exec(facts.subject)?.[1]?.trim().toLowerCase();
        if (cn && DNS_NAME.test(cn) && cn.includes(".")) names.push(cn);
      }
      return [...new Set(names)];
    },
  };
}
