import type { ApprovalEventData } from "../../../domain/approvals/model.js";
import { APPROVAL_STATES } from "../../../domain/approvals/model.js";
import { api } from "../api.js";
import { DataTable } from "../components/data-table.js";
import { FilterSelect } from "../components/filter-select.js";
import { LoadFailed } from "../components/status-lines.js";
import { utc } from "../format.js";
import type { PageProps } from "../pages.js";
import { Link, navigate } from "../router.js";
import { useLoad } from "../use-load.js";

/** Approval requests, newest first, filtered by state (kept in the address); each links to its page. */
export default function ApprovalsPage({ url }: PageProps) {
  const state = url.searchParams.get("state") ?? "";
  const query = state ? `?state=${encodeURIComponent(state)}` : "";
  const [approvals] = useLoad(
    () => api<{ value: ApprovalEventData[] }>("GET", `/admin/approvals${query}`),
    query,
  );

  return (
    <>
      <h2>Approvals</h2>
      <div class="filters">
        <FilterSelect
          id="approval-state"
          label="State"
          value={state}
          options={APPROVAL_STATES}
          onChange={(v) => navigate(`/ui/approvals${v ? `?state=${v}` : ""}`, true)}
        />
      </div>
      {approvals.state === "loading" && <p role="status">Loading approvals…</p>}
      <LoadFailed load={approvals} />
      {approvals.state === "done" &&
        (approvals.value.value.length === 0 ? (
          <p>No approval requests{state ? ` are ${state}` : ""}.</p>
        ) : (
          <DataTable
            id="approvals"
            caption="Approval requests"
            headers={["Request", "Entry", "State", "Approvals", "Requested", "Expires"]}
          >
            {approvals.value.value.map((a) => (
              <tr key={a.id}>
                <td class="wrap">
                  <Link href={`/ui/approvals/${encodeURIComponent(a.id)}`}>{a.summary}</Link>
                </td>
                <td>{a.entry}</td>
                <td>{a.state}</td>
                <td>
                  {a.votes.filter((v) => v.decision === "approve").length} of {a.required}
                </td>
                <td>{utc(a.createdAt)}</td>
                <td>{utc(a.expiresAt)}</td>
              </tr>
            ))}
          </DataTable>
        ))}
    </>
  );
}
