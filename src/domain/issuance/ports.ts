import type { CertificateIssuer, CertificatePolicy } from "../certificates/model.js";

export interface IssuanceRequest {
  vaultId: string;
  vaultName: string;
  certificateName: string;
  /** The version the issued certificate will be stored as (its key's version). */
  certificateVersion: string;
  /** DER PKCS#10 request signed with the certificate's new key. */
  csr: Buffer;
  policy: CertificatePolicy;
  issuer: CertificateIssuer;
}

export type IssuanceResult =
  | { status: "issued"; certificates: Buffer[] }
  | { status: "pending"; details?: string }
  | { status: "failed"; code: string; message: string };

/** Obtains a certificate for a CSR from one kind of issuer (the private CA, an ACME CA…). */
export interface IssuerAdapter {
  /** The issuer provider name it serves, as in Key Vault issuer objects. */
  readonly provider: string;
  issue(request: IssuanceRequest): Promise<IssuanceResult>;
}
