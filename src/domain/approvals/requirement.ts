import type { CertificateRequestFacts, EntryPoint } from "../rules/issuance-gate.js";

/**
 * When a request needs approval, and from how many approvers. Any one matching condition is enough;
 * a requirement with no condition at all holds every request at its entry points.
 */
export interface ApprovalRequirement {
  /** A wildcard DNS SAN. */
  wildcards?: boolean | undefined;
  /** A validity longer than this many days. */
  validityAboveDays?: number | undefined;
  /** Any import of a certificate made elsewhere. */
  imports?: boolean | undefined;
  /** How many distinct approvers, never the requester, must agree. */
  approvals: number;
}

const IMPORTS: readonly EntryPoint[] = ["keyvault-import", "keyvault-merge"];

/** The conditions of `requirement` a request meets, in words; empty when it needs no approval. */
export function approvalReasons(
  requirement: ApprovalRequirement,
  entry: EntryPoint,
  facts: CertificateRequestFacts,
): string[] {
  const reasons: string[] = [];
  const wildcard = facts.sans.find((s) => s.type === "dns" && s.value.startsWith("*."));
  if (requirement.wildcards && wildcard) reasons.push(`wildcard name ${wildcard.value}`);
  const above = requirement.validityAboveDays;
  if (above !== undefined && facts.validityDays !== undefined && facts.validityDays > above)
    reasons.push(`validity of ${facts.validityDays} days is above ${above}`);
  if (requirement.imports && IMPORTS.includes(entry)) reasons.push("an import");
  const conditional =
    requirement.wildcards || requirement.validityAboveDays !== undefined || requirement.imports;
  if (!conditional) reasons.push(`every ${entry} request`);
  return reasons;
}
