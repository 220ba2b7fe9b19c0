import type { StoredEvent } from "./model.js";
import type { Delivery, WebhookSubscription } from "./webhooks.js";

export interface Mail {
  to: string[];
  subject: string;
  text: string;
  html: string;
}

/** Sends mail; rejects when the server refuses it, so the caller can try again later. */
export interface Mailer {
  /** Resolves with the server's final answer to the message (`250 2.0.0 Ok: queued as …`). */
  send(mail: Mail): Promise<{ response: string }>;
}

/** Posts one event to one subscription's endpoint in its schema, signed when it has a secret. */
export interface WebhookSender {
  /** Resolves with the endpoint's HTTP status, whatever it is; rejects when no answer came. */
  send(subscription: WebhookSubscription, event: StoredEvent): Promise<{ status: number }>;
}

/** Webhook subscriptions and their deliveries. */
export interface WebhookStore {
  /** The newest event's sequence number: a new subscription starts after it. */
  latestSeq(): Promise<number>;
  insert(subscription: WebhookSubscription): Promise<void>;
  update(subscription: WebhookSubscription): Promise<void>;
  list(): Promise<WebhookSubscription[]>;
  /** By id or by name. */
  get(idOrName: string): Promise<WebhookSubscription | undefined>;
  remove(id: string): Promise<boolean>;
  /** Outbox events after `afterSeq`, oldest first. */
  events(afterSeq: number, limit: number): Promise<StoredEvent[]>;
  /** Turns events into pending deliveries and moves the subscription's cursor, in one transaction. */
  enqueue(subscriptionId: string, events: StoredEvent[], cursor: number, now: Date): Promise<void>;
  due(now: Date, limit: number): Promise<Delivery[]>;
  deadLetters(subscriptionId: string): Promise<Delivery[]>;
  delivered(subscriptionId: string, eventId: string): Promise<void>;
  retry(subscriptionId: string, eventId: string, attempts: number, next: Date, error: string): Promise<void>;
  dead(subscriptionId: string, eventId: string, attempts: number, error: string): Promise<void>;
  /** Sends a subscription's dead letters again, from now; returns how many. */
  replay(subscriptionId: string, now: Date): Promise<number>;
}
