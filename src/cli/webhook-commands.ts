import { type Command, Option } from "commander";
import { WEBHOOK_SCHEMAS, type WebhookSubscription } from "../domain/events/webhooks.js";
import { jsonOption, printJson, withCore } from "./program.js";

const webhookOptions = (c: Command) =>
  c
    .option("--endpoint <url>", "where events are POSTed")
    .option(
      "--event <type...>",
      "event types, e.g. Microsoft.KeyVault.CertificateNearExpiry, Strongroom.Alerts.AlertOpened (default: all)",
    )
    .option("--vault <name...>", "only events of these vaults (default: all)")
    .option("--subject-begins-with <prefix>", "only objects whose name starts with this")
    .addOption(new Option("--schema <schema>", "payload schema").choices([...WEBHOOK_SCHEMAS]))
    .option("--secret <secret>", "sign deliveries with HMAC-SHA256 (X-Strongroom-Signature)");

interface WebhookFlags {
  endpoint?: string;
  event?: string[];
  vault?: string[];
  subjectBeginsWith?: string;
  schema?: string;
  secret?: string;
}

const webhookInput = (o: WebhookFlags) => ({
  endpoint: o.endpoint,
  eventTypes: o.event,
  vaults: o.vault,
  subjectBeginsWith: o.subjectBeginsWith,
  schema: o.schema,
  secret: o.secret,
});

/** A subscription as `--json` prints it: whether deliveries are signed, never the secret. */
const webhookDocument = ({ sealedSecret, cursor: _cursor, ...s }: WebhookSubscription) => ({
  ...s,
  signed: sealedSecret !== undefined,
});

const printWebhook = (s: {
  name: string;
  endpoint: string;
  schema: string;
  status: string;
  eventTypes: string[];
}) =>
  console.log(
    `${s.name}\t${s.status}\t${s.schema}\t${s.endpoint}\t${s.eventTypes.join(",") || "all events"}`,
  );

/** `strongroom webhook`: Event Grid and CloudEvents subscriptions. */
export function registerWebhookCommands(program: Command): void {
  const webhook = program.command("webhook").description("subscribe endpoints to vault events");
  webhookOptions(webhook.command("create").argument("<name>"))
    .description(
      "subscribe an endpoint; it is validated (Event Grid or CloudEvents handshake) before its first delivery",
    )
    .action((name: string, o: WebhookFlags, command: Command) =>
      withCore(command, async (core) =>
        printWebhook(await core.webhooks.create({ name, ...webhookInput(o) })),
      ),
    );

  webhookOptions(webhook.command("update").argument("<name>"))
    .description("change a subscription")
    .action((name: string, o: WebhookFlags, command: Command) =>
      withCore(command, async (core) => printWebhook(await core.webhooks.update(name, webhookInput(o)))),
    );

  jsonOption(webhook.command("list"))
    .description("list subscriptions: name, status, schema, endpoint, event types")
    .action((o: { json?: boolean }, command: Command) =>
      withCore(command, async (core) => {
        const all = await core.webhooks.list();
        if (o.json) return printJson(all.map(webhookDocument));
        for (const s of all) printWebhook(s);
      }),
    );

  webhook
    .command("delete")
    .argument("<name>")
    .description("remove a subscription and its pending deliveries")
    .action((name: string, _o, command: Command) =>
      withCore(command, async (core) => {
        await core.webhooks.remove(name);
        console.log(`Webhook ${name} deleted`);
      }),
    );

  webhook
    .command("replay")
    .argument("<name>")
    .description("send a subscription's dead letters again")
    .action((name: string, _o, command: Command) =>
      withCore(command, async (core) =>
        console.log(`Replaying ${await core.webhooks.replay(name)} dead letters to ${name}`),
      ),
    );
}
