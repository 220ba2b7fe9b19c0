import { useState } from "preact/hooks";
import type { SmtpSummary, TestMail } from "../../../domain/events/smtp-service.js";
import { WEBHOOK_SCHEMAS } from "../../../domain/events/webhook-schemas.js";
import type { TestDelivery } from "../../../domain/events/webhook-service.js";
import { api } from "../api.js";
import { DataTable } from "../components/data-table.js";
import { Fields } from "../components/fields.js";
import { SelectField, TextField } from "../components/form-fields.js";
import { LoadFailed, Outcome } from "../components/status-lines.js";
import { useAction } from "../components/use-action.js";
import { useLoad } from "../use-load.js";

interface WebhookView {
  id: string;
  name: string;
  endpoint: string;
  eventTypes: string[];
  schema: string;
  signed: boolean;
  status: string;
}

const list = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((t) => t.trim())
    .filter(Boolean);

/** Where notices go: webhook subscriptions (with a test delivery) and the SMTP server (with a test mail). */
export default function SettingsPage() {
  return (
    <>
      <h2>Settings</h2>
      <Webhooks />
      <Smtp />
    </>
  );
}

function Webhooks() {
  const [hooks, reload] = useLoad(() => api<{ value: WebhookView[] }>("GET", "/admin/webhooks"), "webhooks");
  const { outcome, busy, run } = useAction();

  const test = (hook: WebhookView) =>
    run(async () => {
      const result = await api<TestDelivery>("POST", `/admin/webhooks/${encodeURIComponent(hook.id)}/test`);
      if ("error" in result) return `Test delivery to ${hook.name} failed: ${result.error}`;
      return `Test delivery to ${hook.name}: HTTP ${result.status}${result.delivered ? " (delivered)" : " (refused)"}.`;
    });
  const remove = (hook: WebhookView) =>
    run(async () => {
      await api("DELETE", `/admin/webhooks/${encodeURIComponent(hook.id)}`);
      reload();
      return `Webhook ${hook.name} deleted.`;
    });

  return (
    <section aria-labelledby="webhooks-heading">
      <h3 id="webhooks-heading">Webhooks</h3>
      <Outcome id="webhook-outcome" text={outcome} />
      <LoadFailed load={hooks} />
      {hooks.state === "done" &&
        (hooks.value.value.length === 0 ? (
          <p>No webhook subscriptions.</p>
        ) : (
          <DataTable
            id="webhooks"
            caption="Webhook subscriptions"
            headers={["Name", "Endpoint", "Schema", "Events", "Status", "Actions"]}
          >
            {hooks.value.value.map((h) => (
              <tr key={h.id}>
                <td>
                  {h.name}
                  {h.signed ? " (signed)" : ""}
                </td>
                <td class="wrap">{h.endpoint}</td>
                <td>{h.schema}</td>
                <td class="wrap">{h.eventTypes.length === 0 ? "all" : h.eventTypes.join(", ")}</td>
                <td>{h.status}</td>
                <td>
                  <div class="row">
                    <button
                      type="button"
                      disabled={busy}
                      aria-label={`Send a test delivery to ${h.name}`}
                      onClick={() => void test(h)}
                    >
                      Test
                    </button>
                    <button
                      type="button"
                      disabled={busy}
                      aria-label={`Delete webhook ${h.name}`}
                      onClick={() => void remove(h)}
                    >
                      Delete
                    </button>
                  </div>
                </td>
              </tr>
            ))}
          </DataTable>
        ))}
      <CreateWebhook onCreated={reload} />
    </section>
  );
}

function CreateWebhook({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState("");
  const [endpoint, setEndpoint] = useState("");
  const [schema, setSchema] = useState<string>(WEBHOOK_SCHEMAS[0] as string);
  const [events, setEvents] = useState("");
  const [secret, setSecret] = useState("");
  const { outcome, busy, run } = useAction();

  const create = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const created = await api<WebhookView>("POST", "/admin/webhooks", {
        name: name.trim(),
        endpoint: endpoint.trim(),
        schema,
        ...(list(events).length > 0 && { eventTypes: list(events) }),
        ...(secret && { secret }),
      });
      setSecret("");
      onCreated();
      return `Webhook ${created.name} created (${created.status}).`;
    });
  };

  return (
    <form class="stack" id="create-webhook" aria-labelledby="create-webhook-heading" onSubmit={create}>
      <h4 id="create-webhook-heading">Add a webhook</h4>
      <TextField id="webhook-name" label="Name" required value={name} onValue={setName} />
      <TextField
        id="webhook-endpoint"
        label="Endpoint URL"
        type="url"
        required
        value={endpoint}
        onValue={setEndpoint}
      />
      <SelectField
        id="webhook-schema"
        label="Schema"
        value={schema}
        options={WEBHOOK_SCHEMAS}
        onValue={setSchema}
      />
      <TextField
        id="webhook-events"
        label="Event types (comma or space separated; empty for all)"
        value={events}
        onValue={setEvents}
      />
      <TextField
        id="webhook-secret"
        label="Signing secret (optional)"
        type="password"
        autocomplete="new-password"
        value={secret}
        onValue={setSecret}
      />
      <button type="submit" disabled={busy}>
        Add webhook
      </button>
      <Outcome id="create-webhook-outcome" text={outcome} />
    </form>
  );
}

function Smtp() {
  const [settings] = useLoad(
    () => api<({ configured: true } & SmtpSummary) | { configured: false }>("GET", "/admin/smtp"),
    "smtp",
  );
  const [to, setTo] = useState("");
  const { outcome, busy, run } = useAction();
  const send = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const result = await api<TestMail>("POST", "/admin/smtp/test", { to });
      return result.sent ? `Test mail accepted: ${result.response}` : `Test mail not sent: ${result.error}`;
    });
  };

  return (
    <section aria-labelledby="smtp-heading">
      <h3 id="smtp-heading">SMTP</h3>
      <LoadFailed load={settings} />
      {settings.state === "done" &&
        (settings.value.configured ? (
          <Fields
            id="smtp-fields"
            rows={[
              ["Server", `${settings.value.host}:${settings.value.port}`],
              ["TLS", settings.value.secure ? "from the first byte" : "STARTTLS when offered"],
              ["User", settings.value.user ?? "none"],
              ["Password", settings.value.passwordSet ? "set (not shown)" : "none"],
              ["From", settings.value.from],
            ]}
          />
        ) : (
          <p>
            No SMTP server is configured: set <code>smtpHost</code> (and <code>smtpPort</code>,{" "}
            <code>smtpFrom</code>) in the configuration.
          </p>
        ))}
      <form class="stack" id="smtp-test" aria-labelledby="smtp-test-heading" onSubmit={send}>
        <h4 id="smtp-test-heading">Send a test mail</h4>
        <TextField
          id="smtp-to"
          label="To"
          type="email"
          required
          autocomplete="email"
          value={to}
          onValue={setTo}
        />
        <button type="submit" disabled={busy}>
          Send test mail
        </button>
        <Outcome id="smtp-outcome" text={outcome} />
      </form>
    </section>
  );
}
