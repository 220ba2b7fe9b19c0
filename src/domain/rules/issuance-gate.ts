import type { SubjectAltName } from "../inventory/model.js";

/** Every way a certificate enters Strongroom; a rule may apply to some of them only. */
export type EntryPoint =
  | "keyvault-create"
  | "keyvault-policy-update"
  | "keyvault-import"
  | "keyvault-merge"
  | "ca-sign"
  | "acme-issuer"
  | "acme-server"
  | "est"
  | "scep";

/** Where a request lands: rules attached to each level apply, the installation's always. */
export interface RuleScope {
  vaultId?: string | undefined;
  caId?: string | undefined;
  /** An ACME, EST or SCEP server profile, by its kind and name. */
  profile?: { kind: "acme" | "est" | "scep"; name: string } | undefined;
  /** The certificate's owner: its team and application, lower-cased, as owner rules name them. */
  owners?: readonly string[] | undefined;
}

/**
 * What a request asks for, in the terms rules judge. Each entry point fills what it knows: a CSR gives
 * the subject, names, key and EKUs; a Key Vault policy adds exportability and lifetime actions; an
 * import adds its chain.
 */
export interface CertificateRequestFacts {
  /** RFC 4514-style subject: `CN=a, O=b`. */
  subject: string;
  sans: SubjectAltName[];
  /** `RSA`, `EC`, `Ed25519`, `Ed448`. */
  keyType: string;
  keySize?: number | undefined;
  curve?: string | undefined;
  /** The hash of the signature the certificate will carry (`SHA-256`), when the request decides it. */
  signatureHash?: string | undefined;
  validityDays?: number | undefined;
  /** Dotted OIDs of the extended key usages asked for. */
  ekus?: string[] | undefined;
  exportable?: boolean | undefined;
  /** Days before expiry of the AutoRenew lifetime action, when the policy has one. */
  autoRenewDaysBeforeExpiry?: number | undefined;
  /** The Key Vault issuer name or the private CA's name that will sign. */
  issuerName?: string | undefined;
  /** An import's chain, leaf first, as DER. */
  chain?: Buffer[] | undefined;
}

/**
 * Asked at every entry point before anything is written. Refuses by throwing
 * `DomainError("BadParameter", message, { reason: "PolicyViolation" })` whose message names the rule
 * and the offending value; each surface renders it in its own format.
 */
export interface IssuanceGate {
  check(entry: EntryPoint, scope: RuleScope, facts: CertificateRequestFacts): Promise<void>;
  /**
   * This gate over the rules as they are now, read once, for a batch of requests judged together
   * (a campaign batch): a rule changed meanwhile applies from the next batch on. A gate that reads
   * nothing per check leaves it out and is asked as it is.
   */
  snapshot?(): Promise<IssuanceGate>;
}

/** The gate of an installation without rules. */
export const openGate: IssuanceGate = { check: async () => {} };
