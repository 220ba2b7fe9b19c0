import { useState } from "preact/hooks";
import type { AuditVerdict } from "../../../domain/audit/model.js";
import { api } from "../api.js";
import { DataTable } from "../components/data-table.js";
import { FilterSelect } from "../components/filter-select.js";
import { LoadFailed, Outcome } from "../components/status-lines.js";
import { useAction } from "../components/use-action.js";
import { utc } from "../format.js";
import type { PageProps } from "../pages.js";
import { navigate } from "../router.js";
import { useLoad } from "../use-load.js";

interface AuditRow {
  seq: number;
  time: string;
  requestId: string;
  principalId?: string;
  clientId?: string;
  operation: string;
  objectId?: string;
  outcome: string;
  status: number;
  clientAddress: string;
  detail?: string;
}

const TEXT_FILTERS = [
  ["actor", "Actor (principal or client id)"],
  ["action", "Action (operation, e.g. SecretGet)"],
  ["object", "Object (id or its start)"],
] as const;
const TIME_FILTERS = [
  ["since", "From (UTC)"],
  ["until", "Before (UTC)"],
] as const;
const OUTCOMES = ["success", "failure", "pending", "unknown"] as const;
const FILTERS = [...TEXT_FILTERS.map(([n]) => n), ...TIME_FILTERS.map(([n]) => n), "outcome"];

/** `2026-03-01T14:05` as a datetime-local input holds it, read as UTC, and back. */
const toIso = (local: string) => (local ? `${local}:00Z` : "");
const toLocal = (iso: string) => iso.slice(0, 16);

/** The filters of the address, as the API's query. */
function filtersOf(url: URL): URLSearchParams {
  const query = new URLSearchParams();
  for (const name of FILTERS) {
    const value = url.searchParams.get(name);
    if (value) query.set(name, value);
  }
  return query;
}

/** The audit log: filtered (the filters kept in the address), paged newest first, verified and exported. */
export default function AuditPage({ url }: PageProps) {
  const filters = filtersOf(url);
  const before = url.searchParams.get("before");
  const query = new URLSearchParams(filters);
  if (before) query.set("before", before);
  const search = query.toString();
  const [rows] = useLoad(
    () => api<{ value: AuditRow[]; nextLink?: string }>("GET", `/admin/audit?${search}`),
    search,
  );
  const goTo = (next: URLSearchParams) => {
    const text = next.toString();
    navigate(`/ui/audit${text ? `?${text}` : ""}`, true);
  };
  const older =
    rows.state === "done" && rows.value.nextLink
      ? new URL(rows.value.nextLink, window.location.origin).searchParams.get("before")
      : null;

  return (
    <>
      <h2>Audit</h2>
      <FilterForm filters={filters} onApply={goTo} />
      <div class="row">
        <Verify />
        <Export filters={filters} />
      </div>
      <section aria-labelledby="audit-rows-heading">
        <h3 id="audit-rows-heading">Rows, newest first</h3>
        {rows.state === "loading" && <p role="status">Loading the audit log…</p>}
        <LoadFailed load={rows} />
        {rows.state === "done" &&
          (rows.value.value.length === 0 ? (
            <p>No rows match.</p>
          ) : (
            <DataTable
              id="audit-rows"
              caption="Audit rows, newest first"
              headers={["Row", "Time", "Actor", "Action", "Object", "Outcome", "Detail"]}
            >
              {rows.value.value.map((r) => (
                <tr key={r.seq}>
                  <td>{r.seq}</td>
                  <td>{utc(r.time)}</td>
                  <td class="wrap">{r.principalId ?? r.clientId ?? "anonymous"}</td>
                  <td>{r.operation}</td>
                  <td class="wrap">{r.objectId ?? ""}</td>
                  <td>
                    {r.outcome}
                    {r.status ? ` (${r.status})` : ""}
                  </td>
                  <td class="wrap">{r.detail ?? ""}</td>
                </tr>
              ))}
            </DataTable>
          ))}
        <div class="row">
          {before && (
            <button type="button" onClick={() => goTo(filters)}>
              Newest rows
            </button>
          )}
          {older && (
            <button
              type="button"
              onClick={() => {
                const next = new URLSearchParams(filters);
                next.set("before", older);
                goTo(next);
              }}
            >
              Older rows
            </button>
          )}
        </div>
      </section>
    </>
  );
}

function FilterForm(props: { filters: URLSearchParams; onApply: (query: URLSearchParams) => void }) {
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(FILTERS.map((name) => [name, props.filters.get(name) ?? ""])),
  );
  const set = (name: string, value: string) => setValues((v) => ({ ...v, [name]: value }));
  const apply = (event: Event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    for (const name of FILTERS) {
      const value = (values[name] ?? "").trim();
      if (value) query.set(name, value);
    }
    props.onApply(query);
  };
  return (
    <form class="filters" id="audit-filters" aria-label="Filter the audit log" onSubmit={apply}>
      {TEXT_FILTERS.map(([name, label]) => (
        <label key={name} for={`audit-${name}`}>
          {label}
          <input
            id={`audit-${name}`}
            autocomplete="off"
            value={values[name]}
            onInput={(e) => set(name, e.currentTarget.value)}
          />
        </label>
      ))}
      {TIME_FILTERS.map(([name, label]) => (
        <label key={name} for={`audit-${name}`}>
          {label}
          <input
            id={`audit-${name}`}
            type="datetime-local"
            value={toLocal(values[name] ?? "")}
            onInput={(e) => set(name, toIso(e.currentTarget.value))}
          />
        </label>
      ))}
      <FilterSelect
        id="audit-outcome"
        label="Outcome"
        value={values.outcome ?? ""}
        options={OUTCOMES}
        onChange={(v) => set("outcome", v)}
      />
      <button type="submit">Apply filters</button>
    </form>
  );
}

/** Walks the whole chain on the server and says whether it is intact or where it breaks. */
function Verify() {
  const { outcome, busy, run } = useAction();
  const verify = () =>
    run(async () => {
      const verdict = await api<AuditVerdict>("POST", "/admin/audit/verify");
      return verdict.intact
        ? `Chain intact: ${verdict.rows} rows verified.`
        : `Chain broken at row ${verdict.firstBadSeq} (${verdict.problem}): ${verdict.message}`;
    });
  return (
    <div>
      <button type="button" id="audit-verify" disabled={busy} onClick={() => void verify()}>
        {busy ? "Verifying…" : "Verify the chain"}
      </button>
      <Outcome id="audit-verdict" text={outcome} />
    </div>
  );
}

/** The filtered rows as one file, in the format the server writes (JSON lines or OCSF). */
function Export({ filters }: { filters: URLSearchParams }) {
  // Plain downloads: the browser saves the server's stream to a file, never holding the log.
  const link = (format: "json" | "ocsf") => {
    const query = new URLSearchParams(filters);
    query.set("format", format);
    return `/admin/audit/export?${query}`;
  };
  return (
    <div class="row">
      <a href={link("json")} download="strongroom-audit-json.jsonl">
        Export JSON
      </a>
      <a href={link("ocsf")} download="strongroom-audit-ocsf.jsonl">
        Export OCSF
      </a>
    </div>
  );
}
