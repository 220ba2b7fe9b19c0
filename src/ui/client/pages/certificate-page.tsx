import { type ComponentChildren, Fragment } from "preact";
import { useState } from "preact/hooks";
import type { AlertEventData } from "../../../domain/alerts/model.js";
import { REVOCATION_REASONS } from "../../../domain/ca/model.js";
import type { findingView } from "../../../http/admin/rules-routes.js";
import { api, outcomeOf } from "../api.js";
import { DataTable } from "../components/data-table.js";
import { SelectField } from "../components/form-fields.js";
import { ReissueButton } from "../components/reissue-button.js";
import { LoadFailed, Outcome } from "../components/status-lines.js";
import { expiresIn, utc } from "../format.js";
import type { PageProps } from "../pages.js";
import { Link } from "../router.js";
import { useLoad } from "../use-load.js";
import type { InventoryItem } from "./inventory-page.js";

type Finding = ReturnType<typeof findingView>;
interface VersionView {
  version: string;
  enabled: boolean;
  createdAt: string;
  expiresAt?: string;
}

/** `vault://{vault}/certificates/{name}/{version}` and `ca://{ca}/{serial}`, as the inventory records them. */
const VAULT_URI = /^vault:\/\/([^/]+)\/certificates\/([^/]+)\/([^/?]+)$/;
const CA_URI = /^ca:\/\/([^/]+)\/([^/?]+)$/;
const CHAIN_LIMIT = 8;

/** The record and the records of its issuers, as far as the inventory knows them. */
async function withChain(fingerprint: string): Promise<InventoryItem[]> {
  const chain = [await api<InventoryItem>("GET", `/admin/inventory/${fingerprint}`)];
  for (let last = chain[0]; last?.issuerFingerprintSha256 && chain.length < CHAIN_LIMIT; ) {
    if (last.issuerFingerprintSha256 === last.fingerprintSha256) break;
    last = await api<InventoryItem>("GET", `/admin/inventory/${last.issuerFingerprintSha256}`);
    chain.push(last);
  }
  return chain;
}

function Section(props: { id: string; title: string; children: ComponentChildren }) {
  return (
    <section aria-labelledby={`${props.id}-heading`}>
      <h3 id={`${props.id}-heading`}>{props.title}</h3>
      {props.children}
    </section>
  );
}

/** One certificate: its fields, chain, locations, history, findings, alerts and what can be done to it. */
export default function CertificatePage({ params }: PageProps) {
  const fingerprint = params.fingerprint ?? "";
  const [loaded, reload] = useLoad(() => withChain(fingerprint), fingerprint);
  if (loaded.state === "loading") return <h2>Certificate</h2>;
  if (loaded.state === "failed")
    return (
      <>
        <h2>Certificate</h2>
        <p role="alert">{loaded.message}</p>
      </>
    );
  const [c, ...issuers] = loaded.value as [InventoryItem, ...InventoryItem[]];
  const live = c.locations.filter((l) => !l.goneAt);
  const vaultPlaces = live.flatMap((l) => {
    const m = VAULT_URI.exec(l.uri);
    return m ? [{ vault: m[1] as string, name: m[2] as string, version: m[3] as string }] : [];
  });
  const caPlaces = c.locations.flatMap((l) => {
    const m = CA_URI.exec(l.uri);
    return m ? [{ ca: m[1] as string, serial: m[2] as string }] : [];
  });

  return (
    <>
      <h2>{c.subject || "Certificate"}</h2>
      <p>
        <Link href="/ui/inventory">Back to the inventory</Link>
      </p>
      <Fields c={c} />
      <Section id="chain" title="Chain">
        {issuers.length === 0 && c.selfSigned && <p>Self-signed.</p>}
        {issuers.length === 0 && !c.selfSigned && <p>The issuer is not in the inventory.</p>}
        <ol>
          {issuers.map((i) => (
            <li key={i.fingerprintSha256}>
              <Link href={`/ui/inventory/${i.fingerprintSha256}`}>{i.subject}</Link> (expires{" "}
              {utc(i.notAfter)})
            </li>
          ))}
        </ol>
      </Section>
      <Section id="locations" title="Locations">
        <DataTable
          id="locations"
          caption="Where the certificate was seen"
          headers={["Location", "Source", "First seen", "Last seen", "Gone"]}
        >
          {c.locations.map((l) => (
            <tr key={l.uri}>
              <td class="wrap">{l.uri}</td>
              <td>{l.source}</td>
              <td>{utc(l.firstSeenAt)}</td>
              <td>{utc(l.lastSeenAt)}</td>
              <td>{l.goneAt ? utc(l.goneAt) : ""}</td>
            </tr>
          ))}
        </DataTable>
      </Section>
      {vaultPlaces.map((p) => (
        <VaultHistory key={`${p.vault}/${p.name}`} {...p} onRenewed={reload} />
      ))}
      <Findings fingerprint={c.fingerprintSha256} />
      <Alerts fingerprint={c.fingerprintSha256} />
      <Section id="actions" title="Actions">
        {caPlaces.map((p) => (
          <Revoke key={p.serial} {...p} />
        ))}
        <Owner c={c} onSaved={reload} />
      </Section>
    </>
  );
}

function Fields({ c }: { c: InventoryItem }) {
  const rows: [string, string][] = [
    ["Subject", c.subject],
    ["Issuer", c.issuer],
    ["Serial number", c.serialNumber],
    ["Valid from", utc(c.notBefore)],
    ["Expires", `${utc(c.notAfter)} (${expiresIn(c.notAfter)})`],
    ["Key", [c.keyType, c.keySize, c.curve].filter((v) => v !== undefined).join(" ")],
    ["Signature algorithm", c.signatureAlgorithm],
    ["Names (SAN)", c.sans.map((s) => `${s.type}:${s.value}`).join(", ") || "none"],
    ["Self-signed", c.selfSigned ? "yes" : "no"],
    ["CA certificate", c.isCa ? "yes" : "no"],
    ["SHA-256 fingerprint", c.fingerprintSha256],
    ["Subject key id", c.subjectKeyId ?? ""],
    ["Authority key id", c.authorityKeyId ?? ""],
    [
      "Owner",
      c.owner ? [c.owner.team, c.owner.application, c.owner.contact].filter(Boolean).join(" · ") : "none",
    ],
    ["First seen", utc(c.firstSeenAt)],
  ];
  return (
    <dl class="fields" id="fields">
      {rows.map(([name, value]) => (
        <Fragment key={name}>
          <dt>{name}</dt>
          <dd>{value}</dd>
        </Fragment>
      ))}
    </dl>
  );
}

function VaultHistory(props: { vault: string; name: string; version: string; onRenewed: () => void }) {
  const base = `/admin/vaults/${encodeURIComponent(props.vault)}/certificates/${encodeURIComponent(props.name)}`;
  const [versions, reload] = useLoad(
    () => api<{ value: VersionView[] }>("GET", `${base}/versions`),
    `${base}/versions`,
  );
  const [outcome, setOutcome] = useState("");
  const renew = async () => {
    setOutcome("Renewing…");
    try {
      const done = await api<{ status: string; version?: string; statusDetails?: string }>(
        "POST",
        `${base}/reissue`,
      );
      setOutcome(
        done.version
          ? `Renewed: new version ${done.version}.`
          : `Renewal ${done.status}${done.statusDetails ? `: ${done.statusDetails}` : ""}.`,
      );
      reload();
    } catch (error) {
      setOutcome(outcomeOf(error));
    }
  };
  return (
    <Section id={`history-${props.vault}-${props.name}`} title={`History of ${props.vault}/${props.name}`}>
      <LoadFailed load={versions} />
      {versions.state === "done" && (
        <DataTable
          class="versions"
          caption={`Versions of ${props.name}`}
          headers={["Version", "Created", "Expires", "Enabled"]}
        >
          {versions.value.value.map((v) => (
            <tr key={v.version}>
              <td>
                {v.version}
                {v.version === props.version ? " (this certificate)" : ""}
              </td>
              <td>{utc(v.createdAt)}</td>
              <td>{v.expiresAt ? utc(v.expiresAt) : ""}</td>
              <td>{v.enabled ? "yes" : "no"}</td>
            </tr>
          ))}
        </DataTable>
      )}
      <div class="row">
        <button type="button" onClick={() => void renew()}>
          Renew {props.vault}/{props.name}
        </button>
        <Outcome inline class="renew-outcome" text={outcome} />
      </div>
      <ReissueButton vault={props.vault} name={props.name} onDone={reload} />
    </Section>
  );
}

function Findings({ fingerprint }: { fingerprint: string }) {
  const [found] = useLoad(
    () => api<{ value: Finding[] }>("GET", `/admin/findings?fingerprint=${fingerprint}`),
    fingerprint,
  );
  return (
    <Section id="findings" title="Findings">
      <LoadFailed load={found} />
      {found.state === "done" && found.value.value.length === 0 && <p>None.</p>}
      {found.state === "done" && found.value.value.length > 0 && (
        <ul>
          {found.value.value.map((f) => (
            <li key={f.id}>
              {f.kind}
              {f.ruleId ? ` (rule ${f.ruleId})` : ""}: {f.reason}
              {f.resolvedAt ? `, resolved ${utc(f.resolvedAt)}` : ""}
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}

function Alerts({ fingerprint }: { fingerprint: string }) {
  const [alerts] = useLoad(
    () => api<{ value: AlertEventData[] }>("GET", `/admin/alerts?fingerprint=${fingerprint}&state=all`),
    fingerprint,
  );
  return (
    <Section id="alerts" title="Alerts">
      <LoadFailed load={alerts} />
      {alerts.state === "done" && alerts.value.value.length === 0 && <p>None.</p>}
      {alerts.state === "done" && alerts.value.value.length > 0 && (
        <ul>
          {alerts.value.value.map((a) => (
            <li key={a.id}>
              {a.kind} ({a.state}): {a.summary}
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}

function Revoke(props: { ca: string; serial: string }) {
  const [reason, setReason] = useState("unspecified");
  const [outcome, setOutcome] = useState("");
  const revoke = async (event: Event) => {
    event.preventDefault();
    try {
      const done = await api<{ status: string }>("POST", "/admin/revocations", {
        ca: props.ca,
        serial: props.serial,
        reason,
      });
      setOutcome(`The CA ${props.ca} answered: ${done.status}.`);
    } catch (error) {
      setOutcome(outcomeOf(error));
    }
  };
  const id = `reason-${props.serial}`;
  return (
    <form class="row" onSubmit={revoke}>
      <SelectField
        id={id}
        label="Revocation reason"
        value={reason}
        options={Object.keys(REVOCATION_REASONS)}
        onValue={setReason}
      />
      <button type="submit">Revoke (serial {props.serial})</button>
      <Outcome inline text={outcome} />
    </form>
  );
}

function Owner({ c, onSaved }: { c: InventoryItem; onSaved: () => void }) {
  const [owner, setOwner] = useState({
    team: c.owner?.team ?? "",
    application: c.owner?.application ?? "",
    contact: c.owner?.contact ?? "",
  });
  const [outcome, setOutcome] = useState("");
  const save = async (event: Event) => {
    event.preventDefault();
    const body = Object.fromEntries(Object.entries(owner).filter(([, v]) => v.trim() !== ""));
    try {
      await api("PUT", `/admin/inventory/${c.fingerprintSha256}/owner`, body);
      setOutcome("Owner saved.");
      onSaved();
    } catch (error) {
      setOutcome(outcomeOf(error));
    }
  };
  return (
    <form class="filters" aria-labelledby="owner-heading" onSubmit={save}>
      <h4 id="owner-heading">Owner</h4>
      {(["team", "application", "contact"] as const).map((field) => (
        <label key={field}>
          {field[0]?.toUpperCase()}
          {field.slice(1)}
          <input
            name={field}
            value={owner[field]}
            autocomplete="off"
            onInput={(e) => setOwner({ ...owner, [field]: e.currentTarget.value })}
          />
        </label>
      ))}
      <div class="row">
        <button type="submit">Set owner</button>
        <Outcome inline id="owner-outcome" text={outcome} />
      </div>
    </form>
  );
}
