import type { ExpiryThresholds } from "./expiry-thresholds.js";
import type { AlertKind, Condition } from "./model.js";
import type { AlertFacts } from "./ports.js";

/**
 * Where conditions come from. `kinds` are the kinds this source is the authority on: an unresolved
 * alert of one of them whose condition the source no longer reports is resolved. A source that
 * cannot tell this run (its table is missing) reports no kinds, so its alerts are left alone.
 */
export interface ConditionSource {
  current(now: Date): Promise<{ kinds: readonly AlertKind[]; conditions: Condition[] }>;
}

const DAY_MS = 86_400_000;

/** The threshold reached `msLeft` before expiry: the smallest of `days` not below the days left. */
export function expiringLevel(msLeft: number, days: readonly number[]): number | undefined {
  const reached = days.filter((d) => msLeft <= d * DAY_MS);
  return reached.length === 0 ? undefined : Math.min(...reached);
}

/** `expiring` (at each certificate's thresholds) and `expired`, over certificates in use. */
export function expirySource(
  facts: Pick<AlertFacts, "certificatesInUse">,
  thresholds: () => Promise<ExpiryThresholds>,
) {
  return {
    async current(now: Date) {
      const conditions: Condition[] = [];
      const { furthest, daysFor } = await thresholds();
      for (const c of await facts.certificatesInUse(new Date(now.getTime() + furthest * DAY_MS))) {
        const msLeft = c.notAfter.getTime() - now.getTime();
        const where = c.locations.length === 1 ? c.locations[0] : `${c.locations.length} locations`;
        const common = {
          fingerprint: c.fingerprint,
          location: "",
          subject: c.subject,
          notAfter: c.notAfter,
          vaultName: c.vaultName,
          ownerContact: c.ownerContact,
        };
        if (msLeft <= 0) {
          conditions.push({
            ...common,
            kind: "expired",
            summary: `${c.subject} expired on ${c.notAfter.toISOString()} and is still in use at ${where}`,
          });
          continue;
        }
        const level = expiringLevel(msLeft, daysFor(c));
        if (level === undefined) continue;
        conditions.push({
          ...common,
          kind: "expiring",
          level,
          summary: `${c.subject} expires within ${level} day${level === 1 ? "" : "s"} (${c.notAfter.toISOString()}) at ${where}`,
        });
      }
      return { kinds: ["expiring", "expired"] as const, conditions };
    },
  } satisfies ConditionSource;
}

/** `changed`: a location that served one certificate now serves another, for `windowMs` after. */
export function changedSource(facts: Pick<AlertFacts, "changedLocations">, windowMs: number) {
  return {
    async current(now: Date) {
      const changes = await facts.changedLocations(new Date(now.getTime() - windowMs));
      return {
        kinds: ["changed"] as const,
        conditions: changes.map(
          (c): Condition => ({
            kind: "changed",
            fingerprint: c.fingerprint,
            location: c.location,
            subject: c.subject,
            notAfter: c.notAfter,
            ownerContact: c.ownerContact,
            summary: `${c.location} now serves ${c.subject} (${c.fingerprint.slice(0, 16)}…) instead of ${c.previousFingerprint.slice(0, 16)}… since ${c.changedAt.toISOString()}`,
          }),
        ),
      };
    },
  } satisfies ConditionSource;
}

/** `renewal-failed`: a vault certificate whose last renewal attempt failed and has not succeeded since. */
export function renewalFailedSource(facts: Pick<AlertFacts, "failedRenewals">) {
  return {
    async current() {
      const failed = await facts.failedRenewals();
      return {
        kinds: ["renewal-failed"] as const,
        conditions: failed.map(
          (f): Condition => ({
            kind: "renewal-failed",
            fingerprint: f.fingerprint ?? "",
            location: `vault://${f.vaultName}/certificates/${f.name.toLowerCase()}/`,
            subject: f.subject ?? f.name,
            notAfter: f.notAfter,
            vaultName: f.vaultName,
            ownerContact: f.ownerContact,
            summary: `Renewal of ${f.name} in vault ${f.vaultName} failed: ${f.detail}`,
          }),
        ),
      };
    },
  } satisfies ConditionSource;
}

/** `agent-silent`: a registered agent that has not called in for `silentMs`. */
export function agentSilentSource(facts: Pick<AlertFacts, "silentAgents">, silentMs: number) {
  return {
    async current(now: Date) {
      const silent = await facts.silentAgents(new Date(now.getTime() - silentMs));
      return {
        kinds: ["agent-silent"] as const,
        conditions: silent.map(
          (a): Condition => ({
            kind: "agent-silent",
            fingerprint: "",
            location: `agent://${a.name}`,
            subject: `agent ${a.name}`,
            summary: `Agent ${a.name} has not called in since ${a.lastSeenAt ? a.lastSeenAt.toISOString() : "it registered"}`,
          }),
        ),
      };
    },
  } satisfies ConditionSource;
}

/**
 * `delivery-failed`: an agent sync or push target whose last delivery failed. It resolves with the
 * next evaluation after a delivery succeeds.
 */
export function deliveryFailedSource(facts: Pick<AlertFacts, "failedDeliveries">) {
  return {
    async current() {
      const failed = await facts.failedDeliveries();
      return {
        kinds: ["delivery-failed"] as const,
        conditions: failed.map(
          (f): Condition => ({
            kind: "delivery-failed",
            fingerprint: "",
            location: f.location,
            subject: f.what,
            vaultName: f.vaultName,
            summary: `Delivery by ${f.what}${f.version ? ` of version ${f.version}` : ""} failed${f.failedSince ? ` (failing since ${f.failedSince.toISOString()})` : ""}: ${f.error}`,
          }),
        ),
      };
    },
  } satisfies ConditionSource;
}

/**
 * `violation`, `weak-algorithm`, `unknown-ca`, `revoked-in-use` from the inventory grading's open
 * findings. Until the grading exists (`findings` answers undefined) it is the authority on nothing.
 */
export function findingsSource(facts: Pick<AlertFacts, "openFindings">, kindOf: Record<string, AlertKind>) {
  return {
    async current() {
      const findings = await facts.openFindings();
      if (!findings) return { kinds: [], conditions: [] };
      const conditions: Condition[] = [];
      for (const f of findings) {
        const kind = kindOf[f.kind];
        if (!kind) continue;
        conditions.push({
          kind,
          fingerprint: f.fingerprint,
          location: f.location ?? "",
          subject: f.subject,
          notAfter: f.notAfter,
          ownerContact: f.ownerContact,
          summary: `${f.subject}: ${f.ruleId ? `rule ${f.ruleId}: ` : ""}${f.reason}`,
        });
      }
      return { kinds: [...new Set(Object.values(kindOf))], conditions };
    },
  } satisfies ConditionSource;
}
