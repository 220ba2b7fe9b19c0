import type { itemView } from "../../../http/admin/campaign-wire.js";
import { api } from "../api.js";
import { DataTable } from "../components/data-table.js";
import { Fields } from "../components/fields.js";
import { RunProgress } from "../components/run-progress.js";
import { LoadFailed, Outcome } from "../components/status-lines.js";
import { useAction } from "../components/use-action.js";
import { usePoll } from "../components/use-poll.js";
import { utc } from "../format.js";
import type { PageProps } from "../pages.js";
import { Link } from "../router.js";
import { useLoad } from "../use-load.js";
import type { CampaignStatus } from "./campaigns-page.js";

type ItemView = ReturnType<typeof itemView>;
type Control = "run" | "pause" | "resume" | "cancel" | "retry";

const PLAN_PAGE = 200;

/** The controls a campaign in `state` offers, with their button text. */
function controls(c: CampaignStatus): [Control, string][] {
  const list: [Control, string][] = [];
  if (c.state === "draft") list.push(["run", "Run"]);
  if (c.state === "running") list.push(["pause", "Pause"]);
  if (c.state === "paused") list.push(["resume", "Resume"]);
  if (c.state === "draft" || c.state === "running" || c.state === "paused") list.push(["cancel", "Cancel"]);
  if (c.progress.failed > 0 && c.state !== "cancelled") list.push(["retry", "Retry failures"]);
  return list;
}

const eta = (seconds: number | null) =>
  seconds === null ? "not known yet" : seconds < 90 ? `${seconds} s` : `${Math.round(seconds / 60)} min`;

/** One campaign: live progress while it runs, its controls, and the plan for each certificate (the dry run). */
export default function CampaignPage({ params }: PageProps) {
  const name = params.name as string;
  const base = `/admin/campaigns/${encodeURIComponent(name)}`;
  const [status, reloadStatus] = useLoad(() => api<CampaignStatus>("GET", base), name);
  const c = status.state === "done" ? status.value : undefined;
  const progressKey = c ? `${c.state}-${c.progress.done}-${c.progress.failed}` : "";
  const [plan, reloadPlan] = useLoad(
    () => api<{ value: ItemView[]; nextLink?: string }>("GET", `${base}/items?limit=${PLAN_PAGE}`),
    `${name}-${progressKey}`,
  );
  usePoll(c?.state === "running", reloadStatus);
  const { outcome, busy, run } = useAction();

  const act = (control: Control, label: string) =>
    run(async () => {
      const next = await api<CampaignStatus & { retried?: number }>("POST", `${base}/${control}`);
      reloadStatus();
      reloadPlan();
      return control === "retry"
        ? `${next.retried ?? 0} failed certificates queued again; the campaign is ${next.state}.`
        : `${label}: the campaign is ${next.state}.`;
    });

  if (status.state === "loading") return <p role="status">Loading the campaign…</p>;
  if (!c)
    return (
      <>
        <h2>Campaign</h2>
        <p role="alert">{status.state === "failed" ? status.message : ""}</p>
      </>
    );
  const p = c.progress;
  return (
    <>
      <h2>Campaign {c.name}</h2>
      <p>
        <Link href="/ui/campaigns">Campaigns</Link>
      </p>
      <p id="campaign-progress">
        <RunProgress
          label={`Progress of ${c.name}`}
          done={p.done + p.failed}
          total={p.total - p.tasks}
          status={c.state === "finished" ? "completed" : c.state}
        />
      </p>
      <Fields
        id="campaign-fields"
        rows={[
          ["State", c.state],
          ["Done", String(p.done)],
          ["Failed", String(p.failed)],
          ["Remaining", String(p.remaining)],
          ["Tasks for people", String(p.tasks)],
          ["Rate", `${p.ratePerSecond} per second`],
          ["Time left", c.state === "running" ? eta(p.etaSeconds) : ""],
          ["Created", utc(c.createdAt)],
          ["Started", c.startedAt ? utc(c.startedAt) : ""],
          ["Finished", c.finishedAt ? utc(c.finishedAt) : ""],
        ]}
      />
      <div class="row">
        {controls(c).map(([control, label]) => (
          <button type="button" key={control} disabled={busy} onClick={() => void act(control, label)}>
            {label}
          </button>
        ))}
      </div>
      <Outcome id="campaign-outcome" text={outcome} />
      <section aria-labelledby="plan-heading">
        <h3 id="plan-heading">Plan by certificate</h3>
        <LoadFailed load={plan} />
        {plan.state === "done" &&
          (plan.value.value.length === 0 ? (
            <p>The query selected no certificates.</p>
          ) : (
            <>
              <DataTable
                id="campaign-plan"
                caption="What the campaign does with each certificate"
                headers={["Certificate", "Step", "State", "New version", "Revocation", "Error"]}
              >
                {plan.value.value.map((i) => (
                  <tr key={i.fingerprintSha256}>
                    <td class="wrap">
                      <Link href={`/ui/inventory/${i.fingerprintSha256}`}>{i.subject}</Link>
                    </td>
                    <td class="wrap">{i.step ?? i.action}</td>
                    <td>{i.state}</td>
                    <td>{i.toVersion ?? ""}</td>
                    <td class="wrap">{i.revocation ?? ""}</td>
                    <td class="wrap">{i.error ?? ""}</td>
                  </tr>
                ))}
              </DataTable>
              {plan.value.nextLink && (
                <p>
                  The first {PLAN_PAGE} certificates are shown;{" "}
                  <code>strongroom campaign dry-run {c.name}</code> lists all.
                </p>
              )}
            </>
          ))}
      </section>
    </>
  );
}
