import { useState } from "preact/hooks";
import type { agentView, runView, scheduleView } from "../../../http/admin/discovery-wire.js";
import { api } from "../api.js";
import { DataTable } from "../components/data-table.js";
import { TextField } from "../components/form-fields.js";
import { RunProgress } from "../components/run-progress.js";
import { LoadFailed, Outcome } from "../components/status-lines.js";
import { useAction } from "../components/use-action.js";
import { usePoll } from "../components/use-poll.js";
import { utc } from "../format.js";
import { Link } from "../router.js";
import { useLoad } from "../use-load.js";

type RunView = ReturnType<typeof runView>;
type ScheduleView = ReturnType<typeof scheduleView>;
type AgentView = ReturnType<typeof agentView>;

const LIVE = new Set(["queued", "running"]);
const list = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((t) => t.trim())
    .filter(Boolean);

/** Scans (started here, with live progress), their schedules and the agents with their heartbeat. */
export default function DiscoveryPage() {
  const [runs, reloadRuns] = useLoad(
    () => api<{ value: RunView[] }>("GET", "/admin/discovery/scans?limit=50"),
    "runs",
  );
  const live = runs.state === "done" && runs.value.value.some((r) => LIVE.has(r.status));
  usePoll(live, reloadRuns);

  return (
    <>
      <h2>Discovery</h2>
      <StartScan onStarted={reloadRuns} />
      <section aria-labelledby="runs-heading">
        <h3 id="runs-heading">Scans</h3>
        <LoadFailed load={runs} />
        {runs.state === "done" &&
          (runs.value.value.length === 0 ? (
            <p>No scan has run yet.</p>
          ) : (
            <DataTable
              id="scans"
              caption="Scans, newest first"
              headers={["Scan", "Kind", "Status", "Progress", "Failed", "Started", "Changes"]}
            >
              {runs.value.value.map((r) => (
                <tr key={r.id}>
                  <td class="wrap">
                    <Link href={`/ui/discovery/scans/${encodeURIComponent(r.id)}`}>{r.name}</Link>
                    {r.agent ? ` (agent ${r.agent})` : ""}
                  </td>
                  <td>{r.kind}</td>
                  <td>{r.status}</td>
                  <td>
                    <RunProgress
                      label={`Progress of ${r.name}`}
                      done={r.done}
                      total={r.total}
                      status={r.status}
                    />
                  </td>
                  <td>{r.failed}</td>
                  <td>{r.startedAt ? utc(r.startedAt) : ""}</td>
                  <td>
                    {r.diff
                      ? `${r.diff.counts.new} new, ${r.diff.counts.changed} changed, ${r.diff.counts.gone} gone`
                      : ""}
                  </td>
                </tr>
              ))}
            </DataTable>
          ))}
      </section>
      <Schedules />
      <Agents />
    </>
  );
}

function StartScan({ onStarted }: { onStarted: () => void }) {
  const [name, setName] = useState("");
  const [targets, setTargets] = useState("");
  const [ports, setPorts] = useState("443");
  const { outcome, busy, run } = useAction();

  const start = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const body = {
        kind: "tls",
        ...(name.trim() && { name: name.trim() }),
        targets: list(targets),
        ports: list(ports).map((p) => (/^\d+$/.test(p) ? Number(p) : p)),
      };
      const started = await api<RunView>("POST", "/admin/discovery/scans", body);
      onStarted();
      return `Scan ${started.name} is ${started.status}.`;
    });
  };

  return (
    <form class="stack" id="start-scan" aria-labelledby="start-scan-heading" onSubmit={start}>
      <h3 id="start-scan-heading">Start a TLS scan</h3>
      <TextField id="scan-name" label="Name (runs of one name are compared)" value={name} onValue={setName} />
      <TextField
        id="scan-targets"
        label="Targets (addresses, ranges, CIDR or host names; comma or space separated)"
        required
        value={targets}
        onValue={setTargets}
      />
      <TextField id="scan-ports" label="Ports" required value={ports} onValue={setPorts} />
      <button type="submit" disabled={busy}>
        Start scan
      </button>
      <Outcome id="scan-outcome" text={outcome} />
    </form>
  );
}

function Schedules() {
  const [schedules] = useLoad(
    () => api<{ value: ScheduleView[] }>("GET", "/admin/discovery/schedules"),
    "schedules",
  );
  return (
    <section aria-labelledby="schedules-heading">
      <h3 id="schedules-heading">Schedules</h3>
      <LoadFailed load={schedules} />
      {schedules.state === "done" &&
        (schedules.value.value.length === 0 ? (
          <p>
            No scheduled scans (<code>strongroom discovery scan --every</code> or the admin API adds one).
          </p>
        ) : (
          <DataTable
            id="schedules"
            caption="Scheduled scans"
            headers={["Name", "Kind", "Every", "Next run", "Agent"]}
          >
            {schedules.value.value.map((s) => (
              <tr key={s.id}>
                <td>{s.name}</td>
                <td>{s.kind}</td>
                <td>{s.intervalSeconds} s</td>
                <td>{utc(s.nextRunAt)}</td>
                <td>{s.agent ?? "server"}</td>
              </tr>
            ))}
          </DataTable>
        ))}
    </section>
  );
}

function Agents() {
  const [agents] = useLoad(() => api<{ value: AgentView[] }>("GET", "/admin/discovery/agents"), "agents");
  return (
    <section aria-labelledby="agents-heading">
      <h3 id="agents-heading">Agents</h3>
      <LoadFailed load={agents} />
      {agents.state === "done" &&
        (agents.value.value.length === 0 ? (
          <p>No agents registered.</p>
        ) : (
          <DataTable
            id="agents"
            caption="Discovery agents"
            headers={["Name", "Host", "Version", "Last heartbeat", "File scan"]}
          >
            {agents.value.value.map((a) => (
              <tr key={a.id}>
                <td>{a.name}</td>
                <td>{a.hostname ?? ""}</td>
                <td>{a.version ?? ""}</td>
                <td>{a.lastSeenAt ? utc(a.lastSeenAt) : "never"}</td>
                <td>
                  {a.fileScan
                    ? `${a.fileScan.status}, ${a.fileScan.done} done, ${a.fileScan.failed} failed`
                    : ""}
                </td>
              </tr>
            ))}
          </DataTable>
        ))}
    </section>
  );
}
