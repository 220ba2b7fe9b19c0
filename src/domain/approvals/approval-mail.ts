import type { StoredEvent } from "../events/model.js";
import { escapeHtml } from "../events/notices.js";

/**
 * The mail approvers get about an approval event: what is asked and why, how to decide, or how it
 * was decided. Undefined for events that are not about an approval request.
 */
export function approvalMail(
  event: StoredEvent,
): { subject: string; text: string; html: string } | undefined {
  const r = event.approval;
  if (!r) return undefined;
  const approvals = r.votes.filter((v) => v.decision === "approve").length;
  const [subject, paragraphs] =
    event.type === "ApprovalRequested"
      ? [
          `Approval requested: ${r.summary}`,
          [
            `${r.requester} asked for ${r.summary} through ${r.entry}. The organisation rules hold it for ${r.required} approval(s) because of ${r.because.join("; ")}.`,
            `Decide before ${r.expiresAt}, when it expires: strongroom approvals approve ${r.id} (or deny ${r.id} --reason <why>), or POST /admin/approvals/${r.id}/approve|deny. The requester cannot decide it.`,
          ],
        ]
      : [
          `Approval ${r.state}: ${r.summary}`,
          [
            `Approval request ${r.id} (${r.summary}, asked by ${r.requester} through ${r.entry}) is ${r.state} with ${approvals} of ${r.required} approval(s).`,
            ...(r.outcome ? [`Reason: ${r.outcome}`] : []),
          ],
        ];
  return {
    subject,
    text: `${paragraphs.join("\n\n")}\n`,
    html: paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join("\n"),
  };
}
