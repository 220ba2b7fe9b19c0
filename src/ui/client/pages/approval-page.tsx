import { useState } from "preact/hooks";
import type { ApprovalEventData } from "../../../domain/approvals/model.js";
import { api } from "../api.js";
import { DataTable } from "../components/data-table.js";
import { Fields } from "../components/fields.js";
import { Outcome } from "../components/status-lines.js";
import { useAction } from "../components/use-action.js";
import { utc } from "../format.js";
import type { PageProps } from "../pages.js";
import { Link } from "../router.js";
import { useLoad } from "../use-load.js";

/** One approval request with its votes, and the approve and deny actions with a reason. */
export default function ApprovalPage({ params }: PageProps) {
  const id = params.id as string;
  const path = `/admin/approvals/${encodeURIComponent(id)}`;
  const [approval, reload] = useLoad(() => api<ApprovalEventData>("GET", path), id);
  const [reason, setReason] = useState("");
  const { outcome, busy, run } = useAction();

  const decide = (decision: "approve" | "deny") =>
    run(async () => {
      const trimmed = reason.trim();
      const decided = await api<ApprovalEventData>(
        "POST",
        `${path}/${decision}`,
        decision === "deny" || trimmed ? { reason: trimmed } : {},
      );
      setReason("");
      reload();
      return `${decision === "approve" ? "Approved" : "Denied"}: the request is ${decided.state}.`;
    });

  if (approval.state === "loading") return <p role="status">Loading the approval request…</p>;
  if (approval.state === "failed")
    return (
      <>
        <h2>Approval request</h2>
        <p role="alert">{approval.message}</p>
        <Link href="/ui/approvals">All approval requests</Link>
      </>
    );
  const a = approval.value;
  return (
    <>
      <h2>Approval request: {a.summary}</h2>
      <p>
        <Link href="/ui/approvals">All approval requests</Link>
      </p>
      <Fields
        id="approval-fields"
        rows={[
          ["State", a.state],
          ["Entry point", a.entry],
          ["Requested by", a.requester],
          ["Why", a.because.join("; ")],
          ["Approvals needed", String(a.required)],
          ["Requested", utc(a.createdAt)],
          ["Expires", utc(a.expiresAt)],
          ["Decided", a.decidedAt && utc(a.decidedAt)],
          ["Outcome", a.outcome],
        ]}
      />
      <section aria-labelledby="votes-heading">
        <h3 id="votes-heading">Votes</h3>
        {a.votes.length === 0 ? (
          <p>None yet.</p>
        ) : (
          <DataTable id="votes" caption="Votes" headers={["By", "Decision", "Reason", "Time"]}>
            {a.votes.map((v) => (
              <tr key={v.principalId}>
                <td class="wrap">{v.principalId}</td>
                <td>{v.decision}</td>
                <td class="wrap">{v.reason ?? ""}</td>
                <td>{utc(v.at)}</td>
              </tr>
            ))}
          </DataTable>
        )}
      </section>
      {a.state === "pending" && (
        <form
          class="stack"
          aria-labelledby="decide-heading"
          onSubmit={(e) => {
            e.preventDefault();
            void decide("approve");
          }}
        >
          <h3 id="decide-heading">Decide</h3>
          <label for="decision-reason">Reason (required to deny)</label>
          <textarea
            id="decision-reason"
            rows={3}
            maxLength={1000}
            value={reason}
            onInput={(e) => setReason(e.currentTarget.value)}
          />
          <div class="row">
            <button type="submit" disabled={busy}>
              Approve
            </button>
            <button type="button" disabled={busy || reason.trim() === ""} onClick={() => void decide("deny")}>
              Deny
            </button>
          </div>
        </form>
      )}
      <Outcome id="decision-outcome" text={outcome} />
    </>
  );
}
