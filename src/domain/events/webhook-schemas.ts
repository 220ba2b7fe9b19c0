// Apart from webhooks.ts, which signs with node:crypto, so the dashboard's bundle can list them.

/** Event Grid and CloudEvents for programs; Slack and Teams messages for chat channels. */
export type WebhookSchema = "EventGridSchema" | "CloudEventSchemaV1_0" | "SlackSchema" | "TeamsSchema";

export const WEBHOOK_SCHEMAS: readonly WebhookSchema[] = [
  "EventGridSchema",
  "CloudEventSchemaV1_0",
  "SlackSchema",
  "TeamsSchema",
];

/** Chat endpoints have no validation handshake: they post what they are sent. */
export const isChatSchema = (schema: WebhookSchema) => schema === "SlackSchema" || schema === "TeamsSchema";
