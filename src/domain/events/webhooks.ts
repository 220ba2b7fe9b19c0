import { createHmac, randomUUID } from "node:crypto";
import { slackPayload, teamsPayload } from "./chat-payloads.js";
import { type EventType, INTERNAL_EVENTS, type StoredEvent } from "./model.js";

import type { WebhookSchema } from "./webhook-schemas.js";

export { isChatSchema, WEBHOOK_SCHEMAS, type WebhookSchema } from "./webhook-schemas.js";

/**
 * The event type as delivered: Key Vault's for vault events, Strongroom's own for alerts, approvals
 * and test deliveries.
 */
export const deliveredEventType = (type: EventType) =>
  type.startsWith("Alert")
    ? `Strongroom.Alerts.${type}`
    : type.startsWith("Approval")
      ? `Strongroom.Approvals.${type}`
      : type === "WebhookTest"
        ? `Strongroom.Webhooks.${type}`
        : `Microsoft.KeyVault.${type}`;

export interface WebhookSubscription {
  id: string;
  name: string;
  endpoint: string;
  /** Event types without the Microsoft.KeyVault. prefix; empty means all. */
  eventTypes: EventType[];
  /** Deliver only events of these vaults; empty means all. */
  vaults: string[];
  /** Deliver only events whose object name starts with this. */
  subjectBeginsWith?: string | undefined;
  schema: WebhookSchema;
  /** Sealed; signs each delivery when present. */
  sealedSecret?: Buffer | undefined;
  status: "pending-validation" | "active" | "validation-failed";
  /** The last outbox sequence number already turned into deliveries. */
  cursor: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface Delivery {
  subscriptionId: string;
  event: StoredEvent;
  attempts: number;
  nextAttemptAt: Date;
  /** When this round of attempts began; after DELIVERY_WINDOW_MS it goes to the dead letters. */
  since: Date;
  status: "pending" | "delivered" | "dead";
  lastError?: string | undefined;
}

/** Deliveries give up, to the dead letters, this long after their first attempt. */
export const DELIVERY_WINDOW_MS = 24 * 3_600_000;

export function matches(subscription: WebhookSubscription, event: StoredEvent): boolean {
  if (INTERNAL_EVENTS.has(event.type)) return false;
  if (subscription.eventTypes.length > 0 && !subscription.eventTypes.includes(event.type)) return false;
  if (subscription.vaults.length > 0 && !subscription.vaults.includes(event.vaultName)) return false;
  if (subscription.subjectBeginsWith && !event.objectName.startsWith(subscription.subjectBeginsWith))
    return false;
  return true;
}

const TEST_DETAIL = "A test delivery sent from Strongroom to check this endpoint; it needs no action.";

/** The event of a test delivery to `subscription`: sent at once, never stored, never retried. */
export function testEvent(subscription: WebhookSubscription, time: Date): StoredEvent {
  return {
    id: randomUUID(),
    seq: 0,
    type: "WebhookTest",
    vaultId: "",
    vaultName: "",
    objectType: "Webhook",
    objectName: subscription.name,
    version: "test",
    detail: TEST_DETAIL,
    time,
  };
}

/** Event Grid retries at growing intervals; ours: 10 s doubling to an hour, with jitter. */
export function nextAttemptDelayMs(attempts: number, random = Math.random): number {
  return Math.round(Math.min(3_600_000, 10_000 * 2 ** attempts) * (1 + 0.2 * random()));
}

const unixSeconds = (d: Date | undefined) => (d === undefined ? null : Math.floor(d.getTime() / 1000));

/** The data of Key Vault's Event Grid events: Id, VaultName, ObjectType, ObjectName, Version, NBF, EXP. */
export function keyVaultEventData(event: StoredEvent, vaultUrl: string) {
  const collection = {
    Secret: "secrets",
    Key: "keys",
    Certificate: "certificates",
    Alert: "alerts",
    Approval: "approvals",
    Webhook: "webhooks",
  }[event.objectType];
  return {
    Id: `${vaultUrl}/${collection}/${event.objectName}/${event.version}`,
    VaultName: event.vaultName,
    ObjectType: event.objectType,
    ObjectName: event.objectName,
    Version: event.version,
    NBF: unixSeconds(event.notBefore),
    EXP: unixSeconds(event.expiresAt),
    ...(event.detail !== undefined && { Detail: event.detail }),
  };
}

const topic = (event: StoredEvent) =>
  event.alert
    ? "/strongroom/alerts"
    : event.approval
      ? "/strongroom/approvals"
      : event.type === "WebhookTest"
        ? "/strongroom/webhooks"
        : `/strongroom/vaults/${event.vaultName}`;

/** What an event carries: the alert, the approval request, the test's note or Key Vault's fields. */
function eventData(event: StoredEvent, vaultUrl: string) {
  if (event.alert) return event.alert;
  if (event.approval) return event.approval;
  if (event.type === "WebhookTest") return { Subscription: event.objectName, Detail: event.detail };
  return keyVaultEventData(event, vaultUrl);
}

/**
 * One event in Event Grid's schema (sent as a one-element array), as a structured CloudEvent, or as
 * a chat message. An alert event's data is the alert itself (README "Alerts" lists its fields), an
 * approval event's the approval request (README "Approvals").
 */
export function webhookPayload(schema: WebhookSchema, event: StoredEvent, vaultUrl: string) {
  if (schema === "SlackSchema" || schema === "TeamsSchema") {
    const message = schema === "SlackSchema" ? slackPayload(event, vaultUrl) : teamsPayload(event, vaultUrl);
    return { contentType: "application/json", body: JSON.stringify(message) };
  }
  const data = eventData(event, vaultUrl);
  const type = deliveredEventType(event.type);
  const subject = event.alert
    ? `alerts/${event.alert.id}`
    : event.approval
      ? `approvals/${event.approval.id}`
      : event.type === "WebhookTest"
        ? `webhooks/${event.objectName}`
        : event.objectName;
  if (schema === "EventGridSchema") {
    return {
      contentType: "application/json",
      body: JSON.stringify([
        {
          id: event.id,
          topic: topic(event),
          subject,
          eventType: type,
          eventTime: event.time.toISOString(),
          data,
          dataVersion: "1",
          metadataVersion: "1",
        },
      ]),
    };
  }
  return {
    contentType: "application/cloudevents+json; charset=utf-8",
    body: JSON.stringify({
      specversion: "1.0",
      id: event.id,
      source: topic(event),
      type,
      subject,
      time: event.time.toISOString(),
      datacontenttype: "application/json",
      data,
    }),
  };
}

/** `sha256=<hex>` of the body under the subscription's secret, for the X-Strongroom-Signature header. */
export const signature = (secret: Buffer, body: string) =>
  `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
