import { useEffect, useState } from "preact/hooks";
import type { OverviewView } from "../../../http/admin/overview-routes.js";
import { api } from "../api.js";
import { DataTable } from "../components/data-table.js";
import { ExpiryChart } from "../components/expiry-chart.js";
import { LoadFailed } from "../components/status-lines.js";
import { utc } from "../format.js";
import { readiness } from "../readiness.js";
import { Link } from "../router.js";
import { useLoad } from "../use-load.js";

function CountTable(props: { caption: string; first: string; rows: { name: string; count: number }[] }) {
  if (props.rows.length === 0) return <p>None.</p>;
  return (
    <DataTable caption={props.caption} headers={[props.first, "Count"]}>
      {props.rows.map((r) => (
        <tr key={r.name}>
          <td>{r.name}</td>
          <td>{r.count}</td>
        </tr>
      ))}
    </DataTable>
  );
}

/** Counts, the expiry timeline, open alerts, violations and recent changes, from /admin/overview. */
export default function OverviewPage() {
  const [status, setStatus] = useState("Checking the server…");
  useEffect(() => {
    void readiness(fetch).then(setStatus);
  }, []);
  const [overview] = useLoad(() => api<OverviewView>("GET", "/admin/overview"), "overview");

  return (
    <>
      <h2>Overview</h2>
      <p id="server-status" role="status">
        {status}
      </p>
      {overview.state === "loading" && <p>Loading the overview…</p>}
      <LoadFailed load={overview} />
      {overview.state === "done" && <Figures o={overview.value} />}
    </>
  );
}

function Figures({ o }: { o: OverviewView }) {
  const expiring = o.expiryTimeline.filter((p) => p.count > 0);
  const inTimeline = expiring.reduce((sum, p) => sum + p.count, 0);
  return (
    <>
      <ul class="cards" id="counts">
        <li>
          <strong>{o.total}</strong> certificates
        </li>
        <li>
          <strong>{o.expired}</strong> expired
        </li>
        <li>
          <strong>{o.expiringWithin30Days}</strong>
          <Link href="/ui/inventory?expiringWithin=30d">expiring within 30 days</Link>
        </li>
        <li>
          <strong>{o.expiringWithin90Days}</strong>
          <Link href="/ui/inventory?expiringWithin=90d">expiring within 90 days</Link>
        </li>
      </ul>
      <section aria-labelledby="timeline-heading">
        <h3 id="timeline-heading">Expiring in the next 90 days</h3>
        <ExpiryChart
          points={o.expiryTimeline}
          label={`${inTimeline} certificates expire in the next 90 days, on ${expiring.length} days.`}
        />
        <details>
          <summary>Figures by day</summary>
          <CountTable
            caption="Certificates expiring by day"
            first="Day"
            rows={expiring.map((p) => ({ name: p.date, count: p.count }))}
          />
        </details>
      </section>
      <div class="panels">
        <section aria-labelledby="alerts-heading">
          <h3 id="alerts-heading">Open alerts by kind</h3>
          <CountTable
            caption="Open alerts by kind"
            first="Kind"
            rows={o.openAlertsByKind.map((a) => ({ name: a.kind, count: a.count }))}
          />
        </section>
        <section aria-labelledby="violations-heading">
          <h3 id="violations-heading">Violations by rule</h3>
          <CountTable
            caption="Violations by rule"
            first="Rule"
            rows={(o.violationsByRule ?? []).map((v) => ({
              name: `${v.ruleId} (${v.kind})`,
              count: v.count,
            }))}
          />
        </section>
      </div>
      <section aria-labelledby="activity-heading">
        <h3 id="activity-heading">Recent changes</h3>
        {o.recentChanges.length === 0 ? (
          <p>None.</p>
        ) : (
          <DataTable
            id="recent-changes"
            caption="Recent changes"
            headers={["Time", "Operation", "By", "Object"]}
          >
            {o.recentChanges.map((c, i) => (
              <tr key={`${c.time}-${i}`}>
                <td>{utc(c.time)}</td>
                <td>{c.operation}</td>
                <td class="wrap">{c.principalId ?? ""}</td>
                <td class="wrap">{[c.vault, c.objectId].filter(Boolean).join(" / ")}</td>
              </tr>
            ))}
          </DataTable>
        )}
      </section>
    </>
  );
}
