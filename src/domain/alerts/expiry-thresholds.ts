import { applicableRules } from "../rules/evaluate.js";
import type { Rule } from "../rules/model.js";
import type { CertificateInUse } from "./ports.js";

/** The days before expiry at which each certificate's `expiring` alerts open and escalate. */
export interface ExpiryThresholds {
  /** The largest threshold of any certificate: how far ahead the source looks. */
  furthest: number;
  daysFor(certificate: Pick<CertificateInUse, "vaultName" | "caName">): readonly number[];
}

/**
 * Thresholds from the `expiry-alert-days` rules that apply where a certificate is kept (its vault) and
 * who issued it (a private CA), inherited from the installation as every rule is; `defaults` (the
 * configuration's) where no rule sets them. A certificate under two rule sets is told at the days of both.
 */
export function expiryThresholds(rules: readonly Rule[], defaults: readonly number[]): ExpiryThresholds {
  const set = rules.filter((r) => r.kind === "expiry-alert-days" && !r.entries);
  // Rules name their target by id, locations by name: only targets with a rule need resolving.
  const idOf = (level: "vault" | "ca", name: string | undefined) =>
    name === undefined
      ? undefined
      : set.find((r) => r.level === level && r.targetName.toLowerCase() === name.toLowerCase())?.target;
  const cache = new Map<string, readonly number[]>();
  const daysFor = (c: Pick<CertificateInUse, "vaultName" | "caName">): readonly number[] => {
    const vaultId = idOf("vault", c.vaultName);
    const caId = idOf("ca", c.caName);
    const key = `${vaultId ?? ""}\n${caId ?? ""}`;
    let days = cache.get(key);
    if (!days) {
      const found = applicableRules(set, { vaultId, caId }).flatMap((r) => r.value as number[]);
      days = found.length ? [...new Set(found)].sort((a, b) => b - a) : defaults;
      cache.set(key, days);
    }
    return days;
  };
  const furthest = Math.max(...defaults, ...set.flatMap((r) => r.value as number[]));
  return { furthest, daysFor };
}
