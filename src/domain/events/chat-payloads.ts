import type { StoredEvent } from "./model.js";

/** A chat message's parts: a headline, a sentence, and facts as label/value pairs. */
interface Message {
  title: string;
  text: string;
  facts: { title: string; value: string }[];
}

const ALERT_HEADLINE = {
  AlertOpened: "Alert opened",
  AlertEscalated: "Alert escalated",
  AlertResolved: "Alert resolved",
};

function message(event: StoredEvent, vaultUrl: string): Message {
  const a = event.alert;
  if (a) {
    const headline = ALERT_HEADLINE[event.type as keyof typeof ALERT_HEADLINE] ?? event.type;
    const facts = [
      { title: "Kind", value: a.kind + (a.level === undefined ? "" : ` (${a.level} days)`) },
      { title: "State", value: a.state },
      ...(a.notAfter ? [{ title: "Expires", value: a.notAfter }] : []),
      ...(a.location ? [{ title: "Location", value: a.location }] : []),
      ...(a.fingerprint ? [{ title: "SHA-256", value: a.fingerprint }] : []),
      ...(a.ownerContact ? [{ title: "Owner", value: a.ownerContact }] : []),
      { title: "Alert", value: a.id },
    ];
    return { title: `${headline}: ${a.subject}`, text: a.summary, facts };
  }
  const r = event.approval;
  if (r) {
    const approvals = r.votes.filter((v) => v.decision === "approve").length;
    const facts = [
      { title: "State", value: r.state },
      { title: "Approvals", value: `${approvals} of ${r.required}` },
      { title: "Entry", value: r.entry },
      { title: "Requester", value: r.requester },
      { title: "Expires", value: r.expiresAt },
      { title: "Request", value: r.id },
    ];
    return event.type === "ApprovalRequested"
      ? {
          title: `Approval requested: ${r.summary}`,
          text: `Needs ${r.required} approval(s) because of ${r.because.join("; ")}. Decide with: strongroom approvals approve|deny ${r.id}`,
          facts,
        }
      : {
          title: `Approval ${r.state}: ${r.summary}`,
          text: r.outcome ?? `Request ${r.id} was ${r.state}`,
          facts,
        };
  }
  if (event.type === "WebhookTest") {
    return {
      title: `Test delivery to ${event.objectName}`,
      text: event.detail ?? "",
      facts: [{ title: "Sent", value: event.time.toISOString() }],
    };
  }
  return {
    title: `${event.type}: ${event.objectName} in vault ${event.vaultName}`,
    text: event.detail ?? `${event.objectType} ${event.objectName}, version ${event.version}`,
    facts: [
      { title: "Vault", value: vaultUrl },
      ...(event.expiresAt ? [{ title: "Expires", value: event.expiresAt.toISOString() }] : []),
    ],
  };
}

// Slack's mrkdwn treats these three as control characters (api.slack.com/reference/surfaces/formatting#escaping).
const slackEscape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A Slack incoming-webhook message: `text` for notifications, Block Kit sections for the body. */
export function slackPayload(event: StoredEvent, vaultUrl: string) {
  const m = message(event, vaultUrl);
  return {
    text: slackEscape(`${m.title}: ${m.text}`),
    blocks: [
      { type: "header", text: { type: "plain_text", text: m.title.slice(0, 150) } },
      { type: "section", text: { type: "mrkdwn", text: slackEscape(m.text) } },
      {
        type: "section",
        fields: m.facts
          .slice(0, 10)
          .map((f) => ({ type: "mrkdwn", text: `*${f.title}*\n${slackEscape(f.value)}` })),
      },
    ],
  };
}

/**
 * A Microsoft Teams message with one Adaptive Card, the shape Teams incoming webhooks and Workflows
 * ("Post to a channel when a webhook request is received") accept.
 */
export function teamsPayload(event: StoredEvent, vaultUrl: string) {
  const m = message(event, vaultUrl);
  return {
    type: "message",
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        contentUrl: null,
        content: {
          $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
          type: "AdaptiveCard",
          version: "1.4",
          body: [
            { type: "TextBlock", text: m.title, weight: "Bolder", size: "Medium", wrap: true },
            { type: "TextBlock", text: m.text, wrap: true },
            { type: "FactSet", facts: m.facts },
          ],
        },
      },
    ],
  };
}
