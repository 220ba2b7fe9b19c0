import { useState } from "preact/hooks";
import type { RuleKind } from "../../../domain/rules/model.js";
import type { findingView, ruleView } from "../../../http/admin/rules-routes.js";
import { api } from "../api.js";
import { DataTable } from "../components/data-table.js";
import { SelectField, TextField } from "../components/form-fields.js";
import { LoadFailed, Outcome } from "../components/status-lines.js";
import { useAction } from "../components/use-action.js";
import { utc } from "../format.js";
import { Link } from "../router.js";
import { useLoad } from "../use-load.js";

type RuleView = ReturnType<typeof ruleView>;
type FindingView = ReturnType<typeof findingView>;

// A record rather than a list, so a kind added on the server fails to compile here until listed.
const KINDS = Object.keys({
  "key-types": 1,
  "min-rsa-key-size": 1,
  curves: 1,
  "min-signature-hash": 1,
  "max-validity-days": 1,
  "dns-names": 1,
  wildcards: 1,
  "ip-sans": 1,
  "subject-attributes": 1,
  ekus: 1,
  "required-ekus": 1,
  "exportable-keys": 1,
  "auto-renew": 1,
  issuers: 1,
  "import-roots": 1,
  "expiry-alert-days": 1,
  approval: 1,
} satisfies Record<RuleKind, 1>);
const LEVELS = ["installation", "vault", "ca", "owner"] as const;

/** What was typed as a rule's value: JSON when it reads as JSON (2048, true, ["EC"], {…}), else text. */
function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text.trim();
  }
}

const shown = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value));
const where = (r: RuleView) => (r.target ? `${r.level} ${r.target}` : r.level);

/** Organisation rules (list, set, delete) and the open findings of each rule. */
export default function RulesPage() {
  const [rules, reloadRules] = useLoad(() => api<{ value: RuleView[] }>("GET", "/admin/rules"), "rules");
  const [findings, reloadFindings] = useLoad(
    () => api<{ value: FindingView[] }>("GET", "/admin/findings"),
    "findings",
  );
  const { outcome, busy, run } = useAction();
  const changed = () => {
    reloadRules();
    reloadFindings();
  };

  const remove = (r: RuleView) =>
    run(async () => {
      await api("DELETE", `/admin/rules/${encodeURIComponent(r.id)}`);
      changed();
      return `Rule ${r.kind} at ${where(r)} deleted.`;
    });

  const open = findings.state === "done" ? findings.value.value : [];
  const byRule = new Map<string, FindingView[]>();
  for (const f of open) {
    const key = f.ruleId ?? "";
    byRule.set(key, [...(byRule.get(key) ?? []), f]);
  }

  return (
    <>
      <h2>Rules</h2>
      <SetRule onSet={changed} />
      <Outcome id="rule-outcome" text={outcome} />
      <section aria-labelledby="rules-heading">
        <h3 id="rules-heading">Rules in force</h3>
        <LoadFailed load={rules} />
        {rules.state === "done" &&
          (rules.value.value.length === 0 ? (
            <p>No rules are set.</p>
          ) : (
            <DataTable
              id="rules"
              caption="Rules"
              headers={["Kind", "Value", "Where", "Locked", "Entry points", "Open findings", "Actions"]}
            >
              {rules.value.value.map((r) => (
                <tr key={r.id}>
                  <td>{r.kind}</td>
                  <td class="wrap">{shown(r.value)}</td>
                  <td>{where(r)}</td>
                  <td>{r.locked ? "yes" : "no"}</td>
                  <td class="wrap">{r.entries?.join(", ") ?? "all"}</td>
                  <td>{byRule.get(r.id)?.length ?? 0}</td>
                  <td>
                    <button
                      type="button"
                      disabled={busy}
                      aria-label={`Delete rule ${r.kind} at ${where(r)}`}
                      onClick={() => void remove(r)}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </DataTable>
          ))}
      </section>
      <section aria-labelledby="findings-heading">
        <h3 id="findings-heading">Open findings by rule</h3>
        <LoadFailed load={findings} />
        {findings.state === "done" &&
          (open.length === 0 ? (
            <p>No open findings.</p>
          ) : (
            <DataTable
              id="findings"
              caption="Open findings, by rule"
              headers={["Rule", "Finding", "Certificate", "Where", "Found"]}
            >
              {[...byRule.entries()].flatMap(([ruleId, list]) => {
                const rule =
                  rules.state === "done" ? rules.value.value.find((r) => r.id === ruleId) : undefined;
                const label = rule ? `${rule.kind} (${where(rule)})` : ruleId ? ruleId : "built-in";
                return list.map((f) => (
                  <tr key={f.id}>
                    <td class="wrap">{label}</td>
                    <td class="wrap">
                      {f.kind}: {f.reason}
                    </td>
                    <td>
                      <Link href={`/ui/inventory/${f.fingerprintSha256}`}>
                        {f.fingerprintSha256.slice(0, 16)}…
                      </Link>
                    </td>
                    <td class="wrap">{f.locationUri ?? ""}</td>
                    <td>{utc(f.foundAt)}</td>
                  </tr>
                ));
              })}
            </DataTable>
          ))}
      </section>
    </>
  );
}

function SetRule({ onSet }: { onSet: () => void }) {
  const [kind, setKind] = useState<string>(KINDS[0] as string);
  const [value, setValue] = useState("");
  const [level, setLevel] = useState<(typeof LEVELS)[number]>("installation");
  const [target, setTarget] = useState("");
  const [locked, setLocked] = useState(false);
  const { outcome, busy, run } = useAction();

  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const body = {
        kind,
        value: parseValue(value),
        ...(locked && level === "installation" && { locked }),
        ...(level !== "installation" && { [level]: target.trim() }),
      };
      const set = await api<RuleView>("PUT", "/admin/rules", body);
      onSet();
      return `Rule ${set.kind} set at ${where(set)}.`;
    });
  };

  return (
    <form class="stack" id="set-rule" aria-labelledby="set-rule-heading" onSubmit={submit}>
      <h3 id="set-rule-heading">Set a rule</h3>
      <SelectField id="rule-kind" label="Rule kind" value={kind} options={KINDS} onValue={setKind} />
      <TextField
        id="rule-value"
        label='Value (JSON such as 2048, true, ["EC"], or plain text)'
        required
        value={value}
        onValue={setValue}
      />
      <SelectField
        id="rule-level"
        label="Applies to"
        value={level}
        options={LEVELS.map((l) => ({
          value: l,
          text: l === "installation" ? "the whole installation" : `one ${l}`,
        }))}
        onValue={(l) => setLevel(l as (typeof LEVELS)[number])}
      />
      {level !== "installation" && (
        <TextField
          id="rule-target"
          label={`Name of the ${level}`}
          required
          value={target}
          onValue={setTarget}
        />
      )}
      {level === "installation" && (
        <label class="check">
          <input type="checkbox" checked={locked} onChange={(e) => setLocked(e.currentTarget.checked)} />{" "}
          Locked: a vault's or CA's rule of this kind only adds to it
        </label>
      )}
      <button type="submit" disabled={busy}>
        Set rule
      </button>
      <Outcome id="set-rule-outcome" text={outcome} />
    </form>
  );
}
