import type { StoredEvent } from "../../src/domain/events/model.js";
import { matches } from "../../src/domain/events/webhooks.js";

/** The events a webhook subscription to every type in every vault would be sent. */
export function deliveredToEverySubscription(events: readonly StoredEvent[], now: Date): StoredEvent[] {
  const everything = {
    id: "s",
    name: "s",
    endpoint: "https://example.com",
    eventTypes: [],
    vaults: [],
    schema: "EventGridSchema" as const,
    status: "active" as const,
    cursor: 0,
    createdAt: now,
    updatedAt: now,
  };
  return events.filter((e) => matches(everything, e));
}
