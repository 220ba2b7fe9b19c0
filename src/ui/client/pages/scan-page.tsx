import type { resultView, runView } from "../../../http/admin/discovery-wire.js";
import { api } from "../api.js";
import { DataTable } from "../components/data-table.js";
import { Fields } from "../components/fields.js";
import { RunProgress } from "../components/run-progress.js";
import { LoadFailed } from "../components/status-lines.js";
import { usePoll } from "../components/use-poll.js";
import { utc } from "../format.js";
import type { PageProps } from "../pages.js";
import { Link } from "../router.js";
import { useLoad } from "../use-load.js";

type RunView = ReturnType<typeof runView>;
type ResultView = ReturnType<typeof resultView>;
type DiffEntry = NonNullable<RunView["diff"]>["new"][number];

function DiffList({ title, entries }: { title: string; entries: DiffEntry[] }) {
  return (
    <div>
      <h4>
        {title} ({entries.length})
      </h4>
      {entries.length > 0 && (
        <ul>
          {entries.map((e) => (
            <li key={e.location} class="wrap">
              {e.location}
              {e.fingerprint ? `: ${e.fingerprint.slice(0, 16)}…` : ""}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** One scan: live progress while it runs, then what each endpoint presented and the changes since the last run. */
export default function ScanPage({ params }: PageProps) {
  const id = params.id as string;
  const base = `/admin/discovery/scans/${encodeURIComponent(id)}`;
  const [run, reloadRun] = useLoad(() => api<RunView>("GET", base), id);
  const status = run.state === "done" ? run.value.status : "";
  const [results, reloadResults] = useLoad(
    () => api<{ value: ResultView[] }>("GET", `${base}/results?limit=500`),
    `${id}-${status}`,
  );
  const live = status === "queued" || status === "running";
  usePoll(live, reloadRun);
  usePoll(live, reloadResults, 3000);

  if (run.state === "loading") return <p role="status">Loading the scan…</p>;
  if (run.state === "failed")
    return (
      <>
        <h2>Scan</h2>
        <p role="alert">{run.message}</p>
      </>
    );
  const r = run.value;
  return (
    <>
      <h2>Scan {r.name}</h2>
      <p>
        <Link href="/ui/discovery">Discovery</Link>
      </p>
      <p id="scan-progress">
        <RunProgress label={`Progress of ${r.name}`} done={r.done} total={r.total} status={r.status} />
      </p>
      <Fields
        id="scan-fields"
        rows={[
          ["Status", r.status],
          ["Kind", r.kind],
          ["Agent", r.agent ?? "server"],
          ["Endpoints", String(r.total)],
          ["Failed", String(r.failed)],
          ["Created", r.createdAt && utc(r.createdAt)],
          ["Started", r.startedAt && utc(r.startedAt)],
          ["Finished", r.finishedAt && utc(r.finishedAt)],
          ["Error", r.error],
        ]}
      />
      {r.diff && (
        <section aria-labelledby="diff-heading">
          <h3 id="diff-heading">Changes since the previous run</h3>
          <div class="panels">
            <DiffList title="New" entries={r.diff.new} />
            <DiffList title="Changed" entries={r.diff.changed} />
            <DiffList title="Gone" entries={r.diff.gone} />
          </div>
        </section>
      )}
      <section aria-labelledby="results-heading">
        <h3 id="results-heading">Results</h3>
        <LoadFailed load={results} />
        {results.state === "done" &&
          (results.value.value.length === 0 ? (
            <p>No results yet.</p>
          ) : (
            <DataTable
              id="results"
              caption="Results by endpoint"
              headers={["Location", "Outcome", "Certificate", "Valid until", "TLS", "Seen"]}
            >
              {results.value.value.map((x) => {
                const leaf = x.chain[0];
                return (
                  <tr key={x.location}>
                    <td class="wrap">{x.location}</td>
                    <td>
                      {x.outcome}
                      {x.error ? `: ${x.error}` : ""}
                    </td>
                    <td class="wrap">
                      {leaf && "subject" in leaf && x.fingerprintSha256 ? (
                        <Link href={`/ui/inventory/${x.fingerprintSha256}`}>{leaf.subject}</Link>
                      ) : (
                        ""
                      )}
                    </td>
                    <td>{leaf && "notAfter" in leaf && leaf.notAfter ? utc(leaf.notAfter) : ""}</td>
                    <td>{x.tlsVersion ?? ""}</td>
                    <td>{utc(x.seenAt)}</td>
                  </tr>
                );
              })}
            </DataTable>
          ))}
      </section>
    </>
  );
}
