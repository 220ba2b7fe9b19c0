import type { IssuedCertificate } from "../ca/model.js";
import type { CertificateIssuer, CertificatePolicy } from "../certificates/model.js";
import type { VaultEvent } from "../events/model.js";
import type { PublicKeyParts } from "../keys/model.js";

export interface IssuanceRequest {
  vaultId: string;
  vaultName: string;
  certificateName: string;
  /** The certificate operation's request id: one per issuance, stable while it is pending. */
  requestId: string;
  /** The version the issued certificate will become. */
  version: string;
  /** DER PKCS#10 request signed with the certificate's new key. */
  csr: Buffer;
  policy: CertificatePolicy;
  issuer: CertificateIssuer;
}

export type IssuanceResult =
  | { status: "issued"; certificates: Buffer[] }
  | { status: "pending"; details?: string }
  | { status: "failed"; code: string; message: string };

/** A request signed at once for a key the vault made, with no CSR: the issuer stores nothing. */
export type PreparedIssuanceRequest = Omit<IssuanceRequest, "csr" | "requestId"> & {
  publicKey: PublicKeyParts;
};

/**
 * A certificate signed but not stored, with the CA's record of it: the caller stores both with the
 * vault version in one transaction.
 */
export type PreparedIssuance =
  | { status: "issued"; certificates: Buffer[]; record: { issued: IssuedCertificate; events: VaultEvent[] } }
  | { status: "failed"; code: string; message: string };

/** Obtains a certificate for a CSR from one kind of issuer (the private CA, an ACME CA…). */
export interface IssuerAdapter {
  /** The issuer provider name it serves, as in Key Vault issuer objects. */
  readonly provider: string;
  issue(request: IssuanceRequest): Promise<IssuanceResult>;
  /**
   * Moves a request that `issue` left pending one step on (the pending-issuance job calls it);
   * adapters that never answer "pending" leave it out.
   */
  resume?(request: IssuanceRequest): Promise<IssuanceResult>;
  /**
   * Signs a batch at once without storing (issuers of this installation only): what a re-issuance
   * campaign commits in batches; one answer per request, in order. Adapters that cannot leave it out.
   */
  prepare?(requests: readonly PreparedIssuanceRequest[]): Promise<PreparedIssuance[]>;
}
