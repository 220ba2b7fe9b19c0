import { randomUUID } from "node:crypto";
import type { AlertEventData } from "../alerts/model.js";
import type { ApprovalEventData } from "../approvals/model.js";

/**
 * Alert changes (docs: README "Alerts"). Delivered as `Strongroom.Alerts.<type>` in Event Grid and
 * CloudEvents, never with Key Vault's prefix: Key Vault has no such events.
 */
export type AlertEventType = "AlertOpened" | "AlertEscalated" | "AlertResolved";

export const ALERT_EVENT_TYPES: readonly AlertEventType[] = [
  "AlertOpened",
  "AlertEscalated",
  "AlertResolved",
];

/**
 * Approval requests (docs: README "Approvals"): one when a request is held, one when it is decided
 * (approved, denied, expired or cancelled). Delivered as `Strongroom.Approvals.<type>`.
 */
export type ApprovalEventType = "ApprovalRequested" | "ApprovalDecided";

export const APPROVAL_EVENT_TYPES: readonly ApprovalEventType[] = ["ApprovalRequested", "ApprovalDecided"];

/** Key Vault's event types (Event Grid's Microsoft.KeyVault.* schema), plus renewal failures and revocations. */
export type EventType =
  | "CertificateNewVersionCreated"
  | "CertificateNearExpiry"
  | "CertificateExpired"
  | "CertificateRenewalFailed"
  | "CertificateRevoked"
  | "CertificateRevocationRemoved"
  | "KeyNewVersionCreated"
  | "KeyNearExpiry"
  | "KeyExpired"
  | "SecretNewVersionCreated"
  | "SecretNearExpiry"
  | "SecretExpired"
  | AlertEventType
  | ApprovalEventType
  | InternalEventType
  | "WebhookTest";

/**
 * Events only Strongroom's own projections read (the inventory): Key Vault's Event Grid schema has
 * no such types, so webhooks never deliver them and subscriptions cannot ask for them. For
 * `CaCertificateIssued` the vault fields name the CA (id, name) and object name and version are
 * the serial. `CertificateRestored` is one per version a backup brought back; `VaultDeleted` has
 * an empty object name and version: everything in the vault went with it.
 */
export type InternalEventType =
  | "CertificateDeleted"
  | "CertificateRecovered"
  | "CertificatePurged"
  | "CertificateRestored"
  | "CaCertificateIssued"
  | "VaultDeleted";

export const INTERNAL_EVENTS: ReadonlySet<EventType> = new Set<InternalEventType>([
  "CertificateDeleted",
  "CertificateRecovered",
  "CertificatePurged",
  "CertificateRestored",
  "CaCertificateIssued",
  "VaultDeleted",
]);

/**
 * `Alert` events name the alert (object name = alert id, version = its revision) and carry `alert`;
 * `Approval` events name the request (object name = its id, version = its state) and carry `approval`.
 * `WebhookTest`, the one `Webhook` event, is never stored: an administrator sends it to one
 * subscription to see its endpoint answer (object name = the subscription's name).
 */
export type ObjectType = "Certificate" | "Key" | "Secret" | "Alert" | "Approval" | "Webhook";

/**
 * Something that happened to a vault object, stored in the same transaction as the change (the
 * outbox) and delivered later. `id` is stable across retries.
 */
export interface VaultEvent {
  id: string;
  type: EventType;
  vaultId: string;
  vaultName: string;
  objectType: ObjectType;
  objectName: string;
  version: string;
  notBefore?: Date | undefined;
  expiresAt?: Date | undefined;
  /** Free text for failures, e.g. why a renewal failed. */
  detail?: string | undefined;
  time: Date;
  /** The alert as the change left it, for alert events. */
  alert?: AlertEventData | undefined;
  /** The approval request as the change left it, for approval events. */
  approval?: ApprovalEventData | undefined;
}

/** An event as stored, with its place in the outbox. */
export interface StoredEvent extends VaultEvent {
  seq: number;
}

export const OBJECT_TYPE = { secrets: "Secret", keys: "Key", certificates: "Certificate" } as const;

/** `…NewVersionCreated` for a version just stored. */
export function newVersionEvent(
  vault: { id: string; name: string },
  collection: keyof typeof OBJECT_TYPE,
  o: { name: string; version: string; notBefore?: Date | undefined; expiresAt?: Date | undefined },
  time: Date,
): VaultEvent {
  const objectType = OBJECT_TYPE[collection];
  return objectEvent(`${objectType}NewVersionCreated`, vault, objectType, o, time);
}

/** An event about one version of an object, with a fresh id. */
export function objectEvent(
  type: EventType,
  vault: { id: string; name: string },
  objectType: ObjectType,
  o: { name: string; version: string; notBefore?: Date | undefined; expiresAt?: Date | undefined },
  time: Date,
  detail?: string,
): VaultEvent {
  return {
    id: randomUUID(),
    type,
    vaultId: vault.id,
    vaultName: vault.name,
    objectType,
    objectName: o.name,
    version: o.version,
    notBefore: o.notBefore,
    expiresAt: o.expiresAt,
    ...(detail !== undefined && { detail }),
    time,
  };
}
