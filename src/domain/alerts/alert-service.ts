import { randomUUID } from "node:crypto";
import type { Clock } from "../clock.js";
import { badParameter, DomainError } from "../errors.js";
import type { AlertEventType, VaultEvent } from "../events/model.js";
import { newId } from "../ids.js";
import type { ConditionSource } from "./conditions.js";
import {
  ALERT_KINDS,
  ALERT_STATES,
  type Alert,
  type AlertFilter,
  type AlertKind,
  alertData,
  alertKey,
  type Condition,
} from "./model.js";
import type { AlertChange, AlertStore } from "./ports.js";

/** The outbox event of an alert's change; its data is the alert as it now stands. */
export function alertEvent(type: AlertEventType, alert: Alert, time: Date): VaultEvent {
  return {
    id: randomUUID(),
    type,
    vaultId: "",
    vaultName: alert.vaultName ?? "",
    objectType: "Alert",
    objectName: alert.id,
    version: String(alert.revision),
    expiresAt: alert.notAfter,
    time,
    alert: alertData(alert),
  };
}

const SYSTEM = "system";

/** What evaluation changed, for the job's summary. */
export interface EvaluationOutcome {
  opened: number;
  escalated: number;
  resolved: number;
}

export type AlertService = ReturnType<typeof createAlertService>;

/**
 * Alerts: evaluation reconciles the alerts with what the condition sources say is true now, and
 * people acknowledge and resolve them. Every change is conditional on the revision it was computed
 * from and carries its event in the same transaction, so however many nodes evaluate at once each
 * opening, escalation and resolution happens, and is delivered, once.
 */
export function createAlertService({
  store,
  sources,
  clock,
}: {
  store: AlertStore;
  sources: readonly ConditionSource[];
  clock: Clock;
}) {
  const fromCondition = (c: Condition) => ({
    subject: c.subject,
    summary: c.summary,
    notAfter: c.notAfter,
    vaultName: c.vaultName,
    ownerContact: c.ownerContact,
    level: c.level,
  });

  async function change(change: AlertChange, type: AlertEventType | undefined): Promise<boolean> {
    return store.apply(change, type && alertEvent(type, change.alert, change.alert.updatedAt));
  }

  /** The change a still-true condition makes to its alert, if any. */
  function onCondition(alert: Alert, c: Condition, now: Date): [AlertChange, AlertEventType] | undefined {
    const base = { fromRevision: alert.revision, type: "update" as const };
    if (alert.state === "resolved") {
      const reopened: Alert = {
        ...alert,
        ...fromCondition(c),
        state: "open",
        revision: alert.revision + 1,
        openedAt: now,
        updatedAt: now,
        acknowledgedAt: undefined,
        acknowledgedBy: undefined,
        resolvedAt: undefined,
        resolvedBy: undefined,
        note: undefined,
        occurrences: alert.occurrences + 1,
      };
      return [{ ...base, alert: reopened }, "AlertOpened"];
    }
    // Each threshold notifies once: only a more urgent one than already notified escalates.
    if (c.level !== undefined && (alert.level === undefined || c.level < alert.level)) {
      const escalated: Alert = {
        ...alert,
        ...fromCondition(c),
        revision: alert.revision + 1,
        updatedAt: now,
      };
      return [{ ...base, alert: escalated }, "AlertEscalated"];
    }
    return undefined;
  }

  async function evaluate(): Promise<EvaluationOutcome> {
    const now = clock.now();
    const outcome: EvaluationOutcome = { opened: 0, escalated: 0, resolved: 0 };
    const authoritative = new Set<AlertKind>();
    const conditions = new Map<string, Condition>();
    for (const source of sources) {
      const { kinds, conditions: found } = await source.current(now);
      for (const k of kinds) authoritative.add(k);
      for (const c of found) conditions.set(alertKey(c), c);
    }
    const unresolved = new Map((await store.unresolved([...authoritative])).map((a) => [alertKey(a), a]));
    for (const [key, c] of conditions) {
      const alert = unresolved.get(key) ?? (await store.findByKey(c.kind, c.fingerprint, c.location));
      if (!alert) {
        const opened: Alert = {
          ...c,
          id: newId(),
          state: "open",
          revision: 1,
          openedAt: now,
          updatedAt: now,
          occurrences: 1,
        };
        if (await change({ type: "open", alert: opened }, "AlertOpened")) outcome.opened++;
        continue;
      }
      const next = onCondition(alert, c, now);
      if (next && (await change(next[0], next[1]))) {
        if (next[1] === "AlertOpened") outcome.opened++;
        else outcome.escalated++;
      }
    }
    for (const [key, alert] of unresolved) {
      if (conditions.has(key) || !authoritative.has(alert.kind)) continue;
      if (await resolveAlert(alert, SYSTEM, "The condition no longer holds", now)) outcome.resolved++;
    }
    return outcome;
  }

  async function resolveAlert(alert: Alert, by: string, note: string | undefined, now: Date) {
    const resolved: Alert = {
      ...alert,
      state: "resolved",
      revision: alert.revision + 1,
      updatedAt: now,
      resolvedAt: now,
      resolvedBy: by,
      note: note ?? alert.note,
    };
    return change({ type: "update", alert: resolved, fromRevision: alert.revision }, "AlertResolved");
  }

  async function get(id: string): Promise<Alert> {
    const alert = await store.get(id);
    if (!alert) throw new DomainError("NotFound", `No alert ${id}`, { reason: "AlertNotFound" });
    return alert;
  }

  const conflict = (id: string) =>
    new DomainError("Conflict", `Alert ${id} changed while this request ran; read it again and retry`);

  return {
    evaluate,
    get,

    async list(filter: AlertFilter): Promise<Alert[]> {
      const state = filter.state ?? "unresolved";
      if (state !== "unresolved" && state !== "all" && !ALERT_STATES.includes(state))
        throw badParameter(`state must be one of unresolved, all, ${ALERT_STATES.join(", ")}`);
      if (filter.kind !== undefined && !ALERT_KINDS.includes(filter.kind))
        throw badParameter(`kind must be one of ${ALERT_KINDS.join(", ")}`);
      if (
        filter.limit !== undefined &&
        (!Number.isInteger(filter.limit) || filter.limit < 1 || filter.limit > 10_000)
      )
        throw badParameter("limit must be an integer from 1 to 10000");
      return store.list({ ...filter, state: state === "all" ? undefined : state });
    },

    /** Open alerts (not yet acknowledged) counted by kind. */
    openByKind: () => store.countByKind("open"),

    /** Someone is on it: it stays listed as acknowledged, and still resolves when the condition ends. */
    async acknowledge(id: string, by: string, note?: string): Promise<Alert> {
      const alert = await get(id);
      if (alert.state !== "open")
        throw new DomainError(
          "Conflict",
          `Alert ${id} is ${alert.state}; only an open alert can be acknowledged`,
        );
      const now = clock.now();
      const acked: Alert = {
        ...alert,
        state: "acknowledged",
        revision: alert.revision + 1,
        updatedAt: now,
        acknowledgedAt: now,
        acknowledgedBy: by,
        note: note ?? alert.note,
      };
      if (!(await change({ type: "update", alert: acked, fromRevision: alert.revision }, undefined)))
        throw conflict(id);
      return acked;
    },

    /**
     * Resolved by hand. If the condition still holds, the next evaluation opens it again (and says
     * so): resolving means it was dealt with, not that it should be ignored.
     */
    async resolve(id: string, by: string, note?: string): Promise<Alert> {
      const alert = await get(id);
      if (alert.state === "resolved") throw new DomainError("Conflict", `Alert ${id} is already resolved`);
      if (!(await resolveAlert(alert, by, note, clock.now()))) throw conflict(id);
      return (await store.get(id)) ?? alert;
    },
  };
}
