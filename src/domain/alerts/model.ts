/**
 * Every kind of alert. The first six have condition sources today; the findings kinds are raised
 * from the graded inventory's findings (`inventory_findings`) once that table exists.
 */
export const ALERT_KINDS = [
  "expiring",
  "expired",
  "changed",
  "renewal-failed",
  "agent-silent",
  "delivery-failed",
  "violation",
  "weak-algorithm",
  "unknown-ca",
  "revoked-in-use",
] as const;

export type AlertKind = (typeof ALERT_KINDS)[number];

/** Alerts whose condition is a finding of the inventory grading, by the finding's kind. */
export const FINDING_ALERT_KINDS: Readonly<Record<string, AlertKind>> = {
  violation: "violation",
  "weak-algorithm": "weak-algorithm",
  "unknown-ca": "unknown-ca",
  "revoked-in-use": "revoked-in-use",
};

export type AlertState = "open" | "acknowledged" | "resolved";

export const ALERT_STATES: readonly AlertState[] = ["open", "acknowledged", "resolved"];

/** Expiring alerts open at the first threshold reached and escalate at each later one. */
export const DEFAULT_EXPIRING_DAYS: readonly number[] = [30, 14, 7, 1];

/** Something that is true now and deserves an alert: what a condition source reports. */
export interface Condition {
  kind: AlertKind;
  /** The certificate's SHA-256 (lower-case hex); '' when the alert is about no certificate. */
  fingerprint: string;
  /** Where; '' when the alert is about the certificate wherever it is used. */
  location: string;
  /** For `expiring`: the threshold in days reached; lower is more urgent. */
  level?: number | undefined;
  /** The certificate's subject, or what the alert is about (an agent's name). */
  subject: string;
  /** One line a person reads in a list, a mail or a chat message. */
  summary: string;
  notAfter?: Date | undefined;
  vaultName?: string | undefined;
  /** The inventory owner's contact, who the digest mails. */
  ownerContact?: string | undefined;
}

export interface Alert extends Condition {
  id: string;
  state: AlertState;
  /** Moves on with every change; a change applies only to the revision it was computed from. */
  revision: number;
  openedAt: Date;
  updatedAt: Date;
  acknowledgedAt?: Date | undefined;
  acknowledgedBy?: string | undefined;
  resolvedAt?: Date | undefined;
  /** `system` when the condition ended, otherwise the principal who resolved it. */
  resolvedBy?: string | undefined;
  note?: string | undefined;
  /** How many times the alert has opened: re-opening after a resolution counts again. */
  occurrences: number;
}

/** The identity of an alert: one per (kind, certificate, location). */
export const alertKey = (a: Pick<Condition, "kind" | "fingerprint" | "location">) =>
  `${a.kind}\u0000${a.fingerprint}\u0000${a.location}`;

export interface AlertFilter {
  /** Unresolved (open or acknowledged) when not given. */
  state?: AlertState | "unresolved" | "all" | undefined;
  kind?: AlertKind | undefined;
  fingerprint?: string | undefined;
  limit?: number | undefined;
}

/** An alert as events, the API and the CLI show it: times as ISO 8601, absent fields left out. */
export interface AlertEventData {
  id: string;
  kind: AlertKind;
  state: AlertState;
  level?: number;
  fingerprint?: string;
  location?: string;
  subject: string;
  summary: string;
  notAfter?: string;
  vaultName?: string;
  ownerContact?: string;
  revision: number;
  openedAt: string;
  updatedAt: string;
  acknowledgedAt?: string;
  acknowledgedBy?: string;
  resolvedAt?: string;
  resolvedBy?: string;
  note?: string;
  occurrences: number;
}

export function alertData(a: Alert): AlertEventData {
  const iso = (d: Date | undefined) => d?.toISOString();
  const optional = {
    level: a.level,
    fingerprint: a.fingerprint || undefined,
    location: a.location || undefined,
    notAfter: iso(a.notAfter),
    vaultName: a.vaultName,
    ownerContact: a.ownerContact,
    acknowledgedAt: iso(a.acknowledgedAt),
    acknowledgedBy: a.acknowledgedBy,
    resolvedAt: iso(a.resolvedAt),
    resolvedBy: a.resolvedBy,
    note: a.note,
  };
  return {
    id: a.id,
    kind: a.kind,
    state: a.state,
    subject: a.subject,
    summary: a.summary,
    revision: a.revision,
    openedAt: a.openedAt.toISOString(),
    updatedAt: a.updatedAt.toISOString(),
    occurrences: a.occurrences,
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
  };
}
