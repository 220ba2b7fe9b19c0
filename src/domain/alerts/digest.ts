import type { StoredEvent } from "../events/model.js";
import { escapeHtml } from "../events/notices.js";

const VERB: Record<string, string> = {
  AlertOpened: "opened",
  AlertEscalated: "escalated",
  AlertResolved: "resolved",
};

/**
 * One mail for one recipient covering every alert change since the last digest: a person reads one
 * message a round, not one per certificate.
 */
export function alertDigestMail(events: readonly StoredEvent[]): {
  subject: string;
  text: string;
  html: string;
} {
  const counts = new Map<string, number>();
  for (const e of events) counts.set(VERB[e.type] ?? e.type, (counts.get(VERB[e.type] ?? e.type) ?? 0) + 1);
  const tally = [...counts].map(([verb, n]) => `${n} ${verb}`).join(", ");
  const rows = events.flatMap((e) => {
    const a = e.alert;
    return a ? [{ verb: VERB[e.type] ?? e.type, a }] : [];
  });
  const text = [
    `Strongroom alert changes: ${tally}.`,
    "",
    ...rows.map(
      ({ verb, a }) =>
        `- [${verb}] ${a.kind}${a.level === undefined ? "" : ` (${a.level} days)`}: ${a.summary}` +
        `${a.state === "resolved" && a.resolvedBy ? ` — resolved by ${a.resolvedBy}` : ""} (alert ${a.id})`,
    ),
    "",
    "List them with `strongroom alerts list`; acknowledge with `strongroom alerts ack <id>`.",
  ].join("\n");
  const html = [
    `<p>Strongroom alert changes: ${escapeHtml(tally)}.</p>`,
    "<table><tr><th>Change</th><th>Kind</th><th>What</th><th>Alert</th></tr>",
    ...rows.map(
      ({ verb, a }) =>
        `<tr><td>${escapeHtml(verb)}</td><td>${escapeHtml(a.kind)}${a.level === undefined ? "" : ` (${a.level} days)`}</td><td>${escapeHtml(a.summary)}</td><td>${escapeHtml(a.id)}</td></tr>`,
    ),
    "</table>",
  ].join("\n");
  return { subject: `Strongroom alerts: ${tally}`, text: `${text}\n`, html };
}
