import type { WebhookSender } from "../domain/events/ports.js";
import { webhookSecretContext } from "../domain/events/webhook-service.js";
import { signature, webhookPayload } from "../domain/events/webhooks.js";
import type { Sealer } from "../domain/sealing/ports.js";
import type { WebhookTransport } from "./webhook-transport.js";

/**
 * The one way an event reaches an endpoint, for the delivery job and for test deliveries alike: the
 * subscription's schema, `aeg-event-type: Notification`, and X-Strongroom-Signature when it has a
 * secret. A test that took another path could pass where real deliveries fail.
 */
export function createWebhookSender(deps: {
  transport: WebhookTransport;
  sealer: Sealer;
  /** The URL of a vault by name, for the events' `Id`. */
  vaultUrl: (name: string) => string;
}): WebhookSender {
  return {
    async send(s, event) {
      const { contentType, body } = webhookPayload(s.schema, event, deps.vaultUrl(event.vaultName));
      const headers: Record<string, string> = {
        "content-type": contentType,
        "aeg-event-type": "Notification",
      };
      if (s.sealedSecret) {
        const secret = deps.sealer.open(s.sealedSecret, webhookSecretContext(s.id));
        headers["x-strongroom-signature"] = signature(secret, body);
      }
      const { status } = await deps.transport.post(s.endpoint, headers, body);
      return { status };
    },
  };
}
