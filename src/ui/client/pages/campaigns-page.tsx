import { useState } from "preact/hooks";
import { REVOCATION_REASONS } from "../../../domain/ca/model.js";
import type { campaignView, progressView } from "../../../http/admin/campaign-wire.js";
import { api } from "../api.js";
import { DataTable } from "../components/data-table.js";
import { SelectField, TextField } from "../components/form-fields.js";
import { LoadFailed, Outcome } from "../components/status-lines.js";
import { useAction } from "../components/use-action.js";
import { utc } from "../format.js";
import { Link, navigate } from "../router.js";
import { useLoad } from "../use-load.js";

export type CampaignView = ReturnType<typeof campaignView>;
export type CampaignStatus = CampaignView & { progress: ReturnType<typeof progressView> };

/** The inventory filters a campaign selects by, with the names /admin/inventory takes. */
const QUERY_FIELDS = [
  ["subject", "Subject contains"],
  ["issuer", "Issuer (distinguished name) contains"],
  ["san", "Subject alternative name contains"],
  ["expiringWithin", "Expiring within (e.g. 30d)"],
  ["keySizeBelow", "Key size below (bits)"],
  ["owner", "Owner"],
] as const;

/** Re-issuance campaigns: the list, and a new one from an inventory query, opened at its dry run. */
export default function CampaignsPage() {
  const [campaigns] = useLoad(() => api<{ value: CampaignView[] }>("GET", "/admin/campaigns"), "campaigns");
  return (
    <>
      <h2>Campaigns</h2>
      <section aria-labelledby="campaigns-heading">
        <h3 id="campaigns-heading">All campaigns</h3>
        {campaigns.state === "loading" && <p role="status">Loading campaigns…</p>}
        <LoadFailed load={campaigns} />
        {campaigns.state === "done" &&
          (campaigns.value.value.length === 0 ? (
            <p>No campaigns yet.</p>
          ) : (
            <DataTable
              id="campaigns"
              caption="Re-issuance campaigns"
              headers={["Campaign", "State", "Created", "Started", "Finished"]}
            >
              {campaigns.value.value.map((c) => (
                <tr key={c.id}>
                  <td>
                    <Link href={`/ui/campaigns/${encodeURIComponent(c.name)}`}>{c.name}</Link>
                  </td>
                  <td>{c.state}</td>
                  <td>{utc(c.createdAt)}</td>
                  <td>{c.startedAt ? utc(c.startedAt) : ""}</td>
                  <td>{c.finishedAt ? utc(c.finishedAt) : ""}</td>
                </tr>
              ))}
            </DataTable>
          ))}
      </section>
      <CreateCampaign />
    </>
  );
}

function CreateCampaign() {
  const [values, setValues] = useState<Record<string, string>>({});
  const set = (name: string, value: string) => setValues((v) => ({ ...v, [name]: value }));
  const { outcome, busy, run } = useAction();
  const value = (name: string) => (values[name] ?? "").trim();

  const create = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const query = Object.fromEntries(
        QUERY_FIELDS.map(([name]) => [name, value(name)]).filter(([, v]) => v !== ""),
      );
      const rate = value("ratePerSecond");
      const created = await api<CampaignStatus>("POST", "/admin/campaigns", {
        name: value("name"),
        query,
        ...(value("newIssuer") && { issuer: value("newIssuer") }),
        ...(value("keyType") && { keyType: value("keyType") }),
        ...(value("revokeReason") && { revokeReason: value("revokeReason") }),
        ...(rate && { ratePerSecond: Number(rate) }),
      });
      navigate(`/ui/campaigns/${encodeURIComponent(created.name)}`);
      return `Campaign ${created.name} selected ${created.progress.total} certificates.`;
    });
  };
  const input = (name: string, label: string, extra: Record<string, string | boolean> = {}) => (
    <TextField
      key={name}
      id={`campaign-${name}`}
      label={label}
      value={values[name] ?? ""}
      onValue={(value) => set(name, value)}
      {...extra}
    />
  );
  const select = (name: string, label: string, options: readonly string[]) => (
    <SelectField
      id={`campaign-${name}`}
      label={label}
      value={values[name] ?? ""}
      options={[{ value: "", text: "Unchanged" }, ...options]}
      onValue={(value) => set(name, value)}
    />
  );

  return (
    <form class="stack" id="create-campaign" aria-labelledby="create-campaign-heading" onSubmit={create}>
      <h3 id="create-campaign-heading">New campaign</h3>
      <p>
        A campaign selects the inventory's certificates that match the query now and runs nothing until you
        start it; its page shows the plan for each certificate first.
      </p>
      {input("name", "Name", { required: true })}
      <fieldset>
        <legend>Which certificates (inventory query)</legend>
        {QUERY_FIELDS.map(([name, label]) => input(name, label))}
      </fieldset>
      <fieldset>
        <legend>What changes</legend>
        {input("newIssuer", "New vault issuer (name)")}
        {select("keyType", "New key type", ["EC", "RSA"])}
        {select("revokeReason", "Revoke the old certificate with reason", Object.keys(REVOCATION_REASONS))}
        {input("ratePerSecond", "At most this many per second", { inputmode: "decimal" })}
      </fieldset>
      <button type="submit" disabled={busy}>
        Create campaign
      </button>
      <Outcome id="create-campaign-outcome" text={outcome} />
    </form>
  );
}
