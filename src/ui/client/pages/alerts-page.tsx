import type { AlertEventData } from "../../../domain/alerts/model.js";
import { ALERT_KINDS, ALERT_STATES } from "../../../domain/alerts/model.js";
import { api } from "../api.js";
import { DataTable } from "../components/data-table.js";
import { FilterSelect } from "../components/filter-select.js";
import { LoadFailed, Outcome } from "../components/status-lines.js";
import { useAction } from "../components/use-action.js";
import { utc } from "../format.js";
import type { PageProps } from "../pages.js";
import { Link, navigate } from "../router.js";
import { useLoad } from "../use-load.js";

const FILTERS = ["kind", "state"] as const;

/** Alerts filtered by kind and state (kept in the address), each acknowledged or resolved in place. */
export default function AlertsPage({ url }: PageProps) {
  const query = new URLSearchParams();
  for (const name of FILTERS) {
    const value = url.searchParams.get(name);
    if (value) query.set(name, value);
  }
  const search = query.toString();
  const [alerts, reload] = useLoad(
    () => api<{ value: AlertEventData[] }>("GET", `/admin/alerts${search ? `?${search}` : ""}`),
    search,
  );
  const { outcome, busy, run } = useAction();

  const filter = (name: (typeof FILTERS)[number], value: string) => {
    const next = new URLSearchParams(search);
    if (value) next.set(name, value);
    else next.delete(name);
    const text = next.toString();
    navigate(`/ui/alerts${text ? `?${text}` : ""}`, true);
  };

  const act = (alert: AlertEventData, step: "acknowledge" | "resolve") =>
    run(async () => {
      const changed = await api<AlertEventData>(
        "POST",
        `/admin/alerts/${encodeURIComponent(alert.id)}/${step}`,
        {},
      );
      reload();
      return `Alert "${alert.summary}" is ${changed.state}.`;
    });

  return (
    <>
      <h2>Alerts</h2>
      <div class="filters">
        <FilterSelect
          id="alert-kind"
          label="Kind"
          value={query.get("kind") ?? ""}
          options={ALERT_KINDS}
          onChange={(v) => filter("kind", v)}
        />
        <FilterSelect
          id="alert-state"
          label="State"
          value={query.get("state") ?? ""}
          options={ALERT_STATES}
          onChange={(v) => filter("state", v)}
        />
      </div>
      <Outcome id="alert-outcome" text={outcome} />
      {alerts.state === "loading" && <p role="status">Loading alerts…</p>}
      <LoadFailed load={alerts} />
      {alerts.state === "done" &&
        (alerts.value.value.length === 0 ? (
          <p>No alerts match.</p>
        ) : (
          <DataTable
            id="alerts"
            caption="Alerts"
            headers={["Alert", "Kind", "State", "Opened", "Occurrences", "Actions"]}
          >
            {alerts.value.value.map((a) => (
              <tr key={a.id}>
                <td class="wrap">
                  {a.fingerprint ? (
                    <Link href={`/ui/inventory/${a.fingerprint}`}>{a.summary}</Link>
                  ) : (
                    a.summary
                  )}
                </td>
                <td>{a.kind}</td>
                <td>{a.state}</td>
                <td>{utc(a.openedAt)}</td>
                <td>{a.occurrences}</td>
                <td>
                  <div class="row">
                    {a.state === "open" && (
                      <button
                        type="button"
                        disabled={busy}
                        aria-label={`Acknowledge ${a.summary}`}
                        onClick={() => void act(a, "acknowledge")}
                      >
                        Acknowledge
                      </button>
                    )}
                    {a.state !== "resolved" && (
                      <button
                        type="button"
                        disabled={busy}
                        aria-label={`Resolve ${a.summary}`}
                        onClick={() => void act(a, "resolve")}
                      >
                        Resolve
                      </button>
                    )}
                  </div>
                </td>
              </tr>
            ))}
          </DataTable>
        ))}
    </>
  );
}
