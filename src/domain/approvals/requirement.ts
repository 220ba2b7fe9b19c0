import { badParameter } from "../errors.js";
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

const KEYS = ["approvals", "wildcards", "validityAboveDays", "imports"];

/** A requirement as a rule holds it, checked; refuses what it could not mean. */
export function approvalRequirement(value: unknown): ApprovalRequirement {
  const bad = (why: string) => badParameter(`Rule approval: ${why}`);
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw bad('takes an object such as {"approvals": 2, "wildcards": true}');
  const v = value as Record<string, unknown>;
  const unknown = Object.keys(v).find((k) => !KEYS.includes(k));
  if (unknown !== undefined) throw bad(`"${unknown}" is not one of ${KEYS.join(", ")}`);
  const { approvals, wildcards, validityAboveDays, imports } = v;
  if (typeof approvals !== "number" || !Number.isInteger(approvals) || approvals < 1 || approvals > 100)
    throw bad("approvals must be a whole number from 1 to 100");
  for (const [name, flag] of [
    ["wildcards", wildcards],
    ["imports", imports],
  ] as const)
    if (flag !== undefined && typeof flag !== "boolean") throw bad(`${name} takes true or false`);
  if (
    validityAboveDays !== undefined &&
    (typeof validityAboveDays !== "number" || !Number.isInteger(validityAboveDays) || validityAboveDays < 0)
  )
    throw bad("validityAboveDays must be a whole number of days");
  return {
    approvals,
    ...(wildcards === undefined ? {} : { wildcards: wildcards as boolean }),
    ...(imports === undefined ? {} : { imports: imports as boolean }),
    ...(validityAboveDays === undefined ? {} : { validityAboveDays }),
  };
}

/** A requirement typed on a command line: `approvals=2,wildcards,validity-above=397,imports`. */
export function parseApprovalRequirement(text: string): unknown {
  const value: Record<string, unknown> = {};
  for (const part of text
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [key, raw] = part.split("=");
    const number = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : raw;
    if (key === "approvals") value.approvals = number;
    else if (key === "validity-above") value.validityAboveDays = number;
    else if (key === "wildcards" || key === "imports") value[key] = raw === undefined ? true : raw === "true";
    else value[key ?? part] = raw;
  }
  return value;
}

/**
 * Of the approval requirements that apply to a request, the one whose conditions it meets that asks
 * for the most approvers, with the conditions met; undefined when the request needs no approval.
 */
export function strictestRequirement(
  requirements: readonly ApprovalRequirement[],
  entry: EntryPoint,
  facts: CertificateRequestFacts,
): { requirement: ApprovalRequirement; because: string[] } | undefined {
  let strictest: { requirement: ApprovalRequirement; because: string[] } | undefined;
  for (const requirement of requirements) {
    const because = approvalReasons(requirement, entry, facts);
    if (because.length > 0 && (!strictest || requirement.approvals > strictest.requirement.approvals))
      strictest = { requirement, because };
  }
  return strictest;
}
