import type { Clock } from "../clock.js";
import { badParameter, DomainError } from "../errors.js";
import { newId } from "../ids.js";
import type { Sealer } from "../sealing/ports.js";
import { ALERT_EVENT_TYPES, APPROVAL_EVENT_TYPES, type EventType } from "./model.js";
import type { WebhookSender, WebhookStore } from "./ports.js";
import {
  isChatSchema,
  testEvent,
  WEBHOOK_SCHEMAS,
  type WebhookSchema,
  type WebhookSubscription,
} from "./webhooks.js";

export interface WebhookInput {
  name?: string | undefined;
  endpoint?: string | undefined;
  eventTypes?: string[] | undefined;
  vaults?: string[] | undefined;
  subjectBeginsWith?: string | undefined;
  schema?: string | undefined;
  secret?: string | undefined;
}

const EVENT_TYPES: EventType[] = [
  "CertificateNewVersionCreated",
  "CertificateNearExpiry",
  "CertificateExpired",
  "CertificateRenewalFailed",
  "CertificateRevoked",
  "CertificateRevocationRemoved",
  "KeyNewVersionCreated",
  "KeyNearExpiry",
  "KeyExpired",
  "SecretNewVersionCreated",
  "SecretNearExpiry",
  "SecretExpired",
  ...ALERT_EVENT_TYPES,
  ...APPROVAL_EVENT_TYPES,
];

/** Event types are accepted with or without the prefix they are delivered with. */
const bareType = (type: string) =>
  type.replace(/^(Microsoft\.KeyVault|Strongroom\.Alerts|Strongroom\.Approvals)\./, "");

export const webhookSecretContext = (id: string) => `webhook/${id}/secret`;

export type WebhookService = ReturnType<typeof createWebhookService>;

/** What a test delivery got: the endpoint's HTTP status, or why no answer came. */
export type TestDelivery = { delivered: boolean; status: number } | { delivered: false; error: string };

export function createWebhookService({
  store,
  sealer,
  clock,
  sender,
}: {
  store: WebhookStore;
  sealer: Sealer;
  clock: Clock;
  /** Test deliveries go through it; without it they are refused. */
  sender?: WebhookSender | undefined;
}) {
  function check(input: WebhookInput): void {
    if (input.endpoint !== undefined) {
      let url: URL;
      try {
        url = new URL(input.endpoint);
      } catch {
        throw badParameter(`endpoint "${input.endpoint}" is not a URL`);
      }
      if (url.protocol !== "https:" && url.protocol !== "http:")
        throw badParameter("endpoint must be an http or https URL");
    }
    for (const type of input.eventTypes ?? []) {
      if (!EVENT_TYPES.includes(bareType(type) as EventType)) {
        throw badParameter(`Unknown event type "${type}"; use ${EVENT_TYPES.join(", ")}`);
      }
    }
    if (input.schema !== undefined && !WEBHOOK_SCHEMAS.includes(input.schema as WebhookSchema)) {
      throw badParameter(`schema must be one of ${WEBHOOK_SCHEMAS.join(", ")}`);
    }
  }

  async function get(idOrName: string): Promise<WebhookSubscription> {
    const found = await store.get(idOrName);
    if (!found)
      throw new DomainError("NotFound", `No webhook subscription ${idOrName}`, { reason: "WebhookNotFound" });
    return found;
  }

  const types = (list: string[] | undefined) => (list ?? []).map((t) => bareType(t) as EventType);
  // A chat endpoint has no handshake to pass: it is active from the start.
  const initialStatus = (schema: WebhookSchema) => (isChatSchema(schema) ? "active" : "pending-validation");

  return {
    list: () => store.list(),
    get,

    /** A subscription starts with the events after now and delivers once its endpoint passes validation. */
    async create(input: WebhookInput): Promise<WebhookSubscription> {
      check(input);
      if (!input.name || !input.endpoint) throw badParameter("name and endpoint are required");
      if (await store.get(input.name))
        throw new DomainError("Conflict", `A webhook subscription named ${input.name} exists`);
      const id = newId();
      const now = clock.now();
      const schema = (input.schema ?? "EventGridSchema") as WebhookSchema;
      const subscription: WebhookSubscription = {
        id,
        name: input.name,
        endpoint: input.endpoint,
        eventTypes: types(input.eventTypes),
        vaults: input.vaults ?? [],
        subjectBeginsWith: input.subjectBeginsWith,
        schema,
        sealedSecret: input.secret
          ? sealer.seal(Buffer.from(input.secret, "utf8"), webhookSecretContext(id))
          : undefined,
        status: initialStatus(schema),
        cursor: await store.latestSeq(),
        createdAt: now,
        updatedAt: now,
      };
      await store.insert(subscription);
      return subscription;
    },

    async update(idOrName: string, input: WebhookInput): Promise<WebhookSubscription> {
      check(input);
      const s = await get(idOrName);
      const next: WebhookSubscription = {
        ...s,
        ...(input.endpoint !== undefined && {
          endpoint: input.endpoint,
          status: initialStatus((input.schema ?? s.schema) as WebhookSchema),
        }),
        ...(input.eventTypes !== undefined && { eventTypes: types(input.eventTypes) }),
        ...(input.vaults !== undefined && { vaults: input.vaults }),
        ...(input.subjectBeginsWith !== undefined && {
          subjectBeginsWith: input.subjectBeginsWith || undefined,
        }),
        ...(input.schema !== undefined && {
          schema: input.schema as WebhookSchema,
          status: initialStatus(input.schema as WebhookSchema),
        }),
        ...(input.secret !== undefined && {
          sealedSecret: input.secret
            ? sealer.seal(Buffer.from(input.secret, "utf8"), webhookSecretContext(s.id))
            : undefined,
        }),
        updatedAt: clock.now(),
      };
      await store.update(next);
      return next;
    },

    async remove(idOrName: string): Promise<void> {
      await store.remove((await get(idOrName)).id);
    },

    async deadLetters(idOrName: string) {
      return store.deadLetters((await get(idOrName)).id);
    },

    async replay(idOrName: string): Promise<number> {
      return store.replay((await get(idOrName)).id, clock.now());
    },

    /**
     * Sends one `WebhookTest` event to the subscription's endpoint now, as deliveries are sent, and
     * says what came back. Nothing is stored or retried, and the subscription's state is left alone.
     */
    async sendTest(idOrName: string): Promise<TestDelivery> {
      const subscription = await get(idOrName);
      if (!sender) throw new DomainError("NotSupported", "Test deliveries are not available here");
      try {
        const { status } = await sender.send(subscription, testEvent(subscription, clock.now()));
        return { delivered: status >= 200 && status < 300, status };
      } catch (error) {
        // fetch says only "fetch failed"; the reason (refused, unknown host, timeout) is its cause.
        const cause = (error as Error).cause;
        return { delivered: false, error: (cause instanceof Error ? cause : (error as Error)).message };
      }
    },
  };
}
