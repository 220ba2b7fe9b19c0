import { randomUUID } from "node:crypto";
import type { Clock } from "../domain/clock.js";
import type { WebhookStore } from "../domain/events/ports.js";
import {
  DELIVERY_WINDOW_MS,
  isChatSchema,
  matches,
  nextAttemptDelayMs,
  type WebhookSubscription,
} from "../domain/events/webhooks.js";
import type { Job } from "../domain/jobs/ports.js";
import type { Sealer } from "../domain/sealing/ports.js";
import { createWebhookSender } from "../notify/webhook-sender.js";
import type { WebhookTransport } from "../notify/webhook-transport.js";

export interface WebhookDeliveryJobDeps {
  store: WebhookStore;
  transport: WebhookTransport;
  sealer: Sealer;
  clock: Clock;
  /** The URL of a vault by name, for the events' `Id`. */
  vaultUrl: (name: string) => string;
  /** `Origin` this installation announces in validation handshakes. */
  origin: string;
  intervalMs?: number;
}

/**
 * Delivers the outbox to subscribed endpoints at least once: each event gets a stable id, failed
 * attempts are retried with exponential backoff and jitter, and after 24 hours of failures a
 * delivery goes to the dead letters, where the admin API can replay it. Before its first delivery a
 * subscription's endpoint must pass the validation handshake of its schema.
 */
export function createWebhookDeliveryJob(deps: WebhookDeliveryJobDeps): Job {
  const { store, transport, clock } = deps;
  const sender = createWebhookSender(deps);

  async function validate(s: WebhookSubscription): Promise<WebhookSubscription> {
    let ok = false;
    try {
      if (isChatSchema(s.schema)) {
        ok = true;
      } else if (s.schema === "EventGridSchema") {
        // Event Grid's handshake: echo the validation code back.
        const validationCode = randomUUID();
        const body = JSON.stringify([
          {
            id: randomUUID(),
            topic: "/strongroom",
            subject: "",
            eventType: "Microsoft.EventGrid.SubscriptionValidationEvent",
            eventTime: clock.now().toISOString(),
            data: { validationCode, validationUrl: null },
            dataVersion: "2",
            metadataVersion: "1",
          },
        ]);
        const res = await transport.post(
          s.endpoint,
          { "content-type": "application/json", "aeg-event-type": "SubscriptionValidation" },
          body,
        );
        ok =
          res.status >= 200 &&
          res.status < 300 &&
          (JSON.parse(res.text) as { validationResponse?: string }).validationResponse === validationCode;
      } else {
        // CloudEvents webhook abuse protection: OPTIONS with WebHook-Request-Origin.
        const res = await transport.options(s.endpoint, { "webhook-request-origin": deps.origin });
        const allowed = res.headers.get("webhook-allowed-origin");
        ok = res.status >= 200 && res.status < 300 && (allowed === "*" || allowed === deps.origin);
      }
    } catch {
      ok = false;
    }
    const next = {
      ...s,
      status: ok ? ("active" as const) : ("validation-failed" as const),
      updatedAt: clock.now(),
    };
    await store.update(next);
    return next;
  }

  return {
    name: "webhooks",
    intervalMs: deps.intervalMs ?? 5_000,
    async run(signal) {
      const now = clock.now();
      const subscriptions = new Map<string, WebhookSubscription>();
      for (let s of await store.list()) {
        // A failed handshake is tried again hourly: the endpoint may simply not have been up yet.
        const retryValidation =
          s.status === "validation-failed" && now.getTime() - s.updatedAt.getTime() >= 3_600_000;
        if (s.status === "pending-validation" || retryValidation) s = await validate(s);
        if (s.status !== "active") continue;
        subscriptions.set(s.id, s);
        for (;;) {
          const batch = await store.events(s.cursor, 500);
          const last = batch[batch.length - 1];
          if (!last) break;
          await store.enqueue(
            s.id,
            batch.filter((e) => matches(s, e)),
            last.seq,
            now,
          );
          s = { ...s, cursor: last.seq };
        }
      }
      let delivered = 0;
      let failed = 0;
      for (const d of await store.due(now, 500)) {
        if (signal.aborted) break;
        const s = subscriptions.get(d.subscriptionId);
        if (!s) continue;
        let error: string | undefined;
        try {
          const res = await sender.send(s, d.event);
          if (res.status < 200 || res.status >= 300) error = `HTTP ${res.status}`;
        } catch (e) {
          error = (e as Error).message;
        }
        if (error === undefined) {
          await store.delivered(s.id, d.event.id);
          delivered++;
          continue;
        }
        failed++;
        const attempts = d.attempts + 1;
        const next = new Date(now.getTime() + nextAttemptDelayMs(attempts));
        if (next.getTime() - d.since.getTime() > DELIVERY_WINDOW_MS)
          await store.dead(s.id, d.event.id, attempts, error);
        else await store.retry(s.id, d.event.id, attempts, next, error);
      }
      return `delivered ${delivered}, failed ${failed}`;
    },
  };
}
