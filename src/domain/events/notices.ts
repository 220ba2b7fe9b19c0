import type { StoredEvent } from "./model.js";

export const escapeHtml = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c);

/** The events that certificate contacts are mailed about. */
export const MAILED_EVENTS = new Set([
  "CertificateNearExpiry",
  "CertificateExpired",
  "CertificateRenewalFailed",
]);

/** Subject and plain and HTML bodies that say which certificate, which vault, when, and what to do. */
export function noticeMail(
  event: StoredEvent,
  vaultUrl: string,
): { subject: string; text: string; html: string } {
  const expires = event.expiresAt ? event.expiresAt.toUTCString() : "an unknown date";
  const where = `certificate "${event.objectName}" in vault "${event.vaultName}" (${vaultUrl})`;
  const lines: Record<string, [string, string[]]> = {
    CertificateNearExpiry: [
      `Certificate ${event.objectName} in vault ${event.vaultName} expires on ${expires}`,
      [
        `The ${where}, version ${event.version}, expires on ${expires}.`,
        "If its policy renews it automatically, no action is needed; otherwise create a new version or merge a renewed certificate before that date.",
      ],
    ],
    CertificateExpired: [
      `Certificate ${event.objectName} in vault ${event.vaultName} has expired`,
      [
        `The ${where}, version ${event.version}, expired on ${expires}.`,
        "Clients that still use it fail now: issue a new version and deploy it.",
      ],
    ],
    CertificateRenewalFailed: [
      `Renewal of certificate ${event.objectName} in vault ${event.vaultName} failed`,
      [
        `Renewing the ${where} failed: ${event.detail ?? "no detail"}.`,
        `The current version ${event.version} is valid until ${expires}. Strongroom retries with backoff; fix the issuer or the policy before then.`,
      ],
    ],
  };
  const [subject, paragraphs] = lines[event.type] ?? [
    `${event.type}: ${event.objectName}`,
    [`Event ${event.type} for the ${where}.`],
  ];
  return {
    subject,
    text: `${paragraphs.join("\n\n")}\n`,
    html: paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join("\n"),
  };
}
