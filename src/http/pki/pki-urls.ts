import { FULL_CRL } from "../../domain/ca/model.js";
import type { PkiUrls } from "../../domain/ca/ports.js";

/**
 * The URLs baked into certificates, under the PKI listener's public base URL. They outlive this
 * process in every certificate issued, so the base must be a name relying parties can reach.
 */
export function pkiUrls(base: () => string): PkiUrls {
  return {
    caIssuers: (caId) => `${base()}/pki/ca/${caId}.crt`,
    ocsp: () => `${base()}/ocsp`,
    crl: (caId, shard) =>
      shard === FULL_CRL ? `${base()}/pki/crl/${caId}.crl` : `${base()}/pki/crl/${caId}/${shard}.crl`,
  };
}
