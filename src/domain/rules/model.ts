import type { ApprovalRequirement } from "../approvals/requirement.js";
import type { EntryPoint } from "./issuance-gate.js";

/**
 * Organisation rules: what every certificate that enters Strongroom must satisfy and what grading
 * judges the inventory by. Named "rules" beside Key Vault's per-certificate "policy" and the access
 * "policies", which already mean other things.
 */

/**
 * Where a rule is attached. The installation's rules apply everywhere below it. An owner's (a team
 * or application, as inventory records name them) grade the certificates that owner answers for.
 */
export type RuleLevel = "installation" | "vault" | "ca" | "profile" | "owner";

/** Every kind of rule, with the type of its value. */
export interface RuleValues {
  /** Allowed key types: `RSA`, `EC`, `Ed25519`, `Ed448`. */
  "key-types": string[];
  /** The smallest RSA modulus, in bits. */
  "min-rsa-key-size": number;
  /** Allowed EC curves: `P-256`, `P-384`, `P-521`. */
  curves: string[];
  /** The weakest signature hash: `SHA-256`, `SHA-384` or `SHA-512`. */
  "min-signature-hash": string;
  "max-validity-days": number;
  /** DNS SANs must match one: `example.com` (itself and any name under it) or a glob `*.example.com`. */
  "dns-names": string[];
  /** Whether wildcard DNS SANs are allowed. */
  wildcards: boolean;
  /** Whether IP address SANs are allowed. */
  "ip-sans": boolean;
  /** Subject attributes that must be present: `O`, `C`, `OU`… */
  "subject-attributes": string[];
  /** EKUs (dotted OIDs or names such as `serverAuth`) a certificate may carry. */
  ekus: string[];
  /** EKUs a certificate must carry. */
  "required-ekus": string[];
  /** Whether Key Vault policies may mark keys exportable. */
  "exportable-keys": boolean;
  /** An AutoRenew lifetime action is required, at least this many days before expiry. */
  "auto-renew": number;
  /** Issuers allowed to sign: Key Vault issuer names, private CA names, or issuer CNs. */
  issuers: string[];
  /** An import's chain must end at one of these roots (SHA-256 fingerprints of their DER). */
  "import-roots": string[];
  /** Days before expiry at which `expiring` alerts open and escalate (30, 14, 7, 1 when none is set). */
  "expiry-alert-days": number[];
  /** Requests meeting its conditions wait for approvers; never a refusal, and grading ignores it. */
  approval: ApprovalRequirement;
}

export type RuleKind = keyof RuleValues;

export interface Rule<K extends RuleKind = RuleKind> {
  id: string;
  level: RuleLevel;
  /** The vault's or CA's id, `acme:name` for a profile, the lower-cased name for an owner, empty for the installation. */
  target: string;
  /** The vault's or CA's name, as people set it; the target itself for the others. */
  targetName: string;
  kind: K;
  value: RuleValues[K];
  /** Set on a parent: rules below it may add to it but never replace it. */
  locked: boolean;
  /** Only at these entry points; every one when absent. */
  entries?: EntryPoint[] | undefined;
  createdAt: Date;
  updatedAt: Date;
}

/** Kinds of finding; `violation` is a rule's, the others are built in. */
export type FindingKind =
  | "violation"
  | "weak-algorithm"
  | "unknown-ca"
  | "expired-in-use"
  | "revoked-in-use"
  | "hostname-mismatch"
  | "missing-intermediate";

/** What one evaluation found wrong; before it is stored. */
export interface Judgement {
  kind: FindingKind;
  ruleId?: string | undefined;
  /** A rule's kind, so a refusal can name it. */
  ruleKind?: RuleKind | undefined;
  /** Set for findings about one place the certificate is served. */
  locationUri?: string | undefined;
  reason: string;
}

/** A stored finding on an inventory record. */
export interface Finding extends Judgement {
  id: number;
  fingerprintSha256: string;
  foundAt: Date;
  resolvedAt?: Date | undefined;
}
