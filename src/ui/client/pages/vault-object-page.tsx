import { useState } from "preact/hooks";
import type { PolicyWire } from "../../../http/keyvault/certificate-wire.js";
import { api } from "../api.js";
import { DataTable } from "../components/data-table.js";
import { ReissueButton } from "../components/reissue-button.js";
import { LoadFailed, Outcome } from "../components/status-lines.js";
import { useAction } from "../components/use-action.js";
import { utc } from "../format.js";
import type { PageProps } from "../pages.js";
import { Link } from "../router.js";
import { useLoad } from "../use-load.js";
import {
  type CertificateItem,
  COLLECTIONS,
  type CollectionPath,
  type KeyItem,
  type SecretItem,
  tagText,
  vaultApi,
} from "./vault-page.js";

type Version = CertificateItem | KeyItem | SecretItem;

/** One certificate, key or secret of a vault: its versions and attributes, and what can be done to it. */
export default function VaultObjectPage({ params }: PageProps) {
  const vault = params.vault ?? "";
  const name = params.name ?? "";
  const collection = COLLECTIONS.find((c) => c.path === params.collection);
  if (!collection)
    return (
      <>
        <h2>Vault object</h2>
        <p role="alert">A vault holds certificates, keys and secrets; there is no "{params.collection}".</p>
      </>
    );
  const noun = collection.title.slice(0, -1);
  return (
    <>
      <h2>
        {noun} {name}
      </h2>
      <p>
        <Link href={`/ui/vaults/${encodeURIComponent(vault)}?tab=${collection.path}`}>
          Back to the {collection.title.toLowerCase()} of {vault}
        </Link>
      </p>
      <Versions vault={vault} collection={collection.path} name={name} />
      {collection.path === "certificates" && <PolicyEditor vault={vault} name={name} />}
    </>
  );
}

function Versions(props: { vault: string; collection: CollectionPath; name: string }) {
  const { vault, collection, name } = props;
  const [versions, reload] = useLoad(
    () => api<{ value: Version[] }>("GET", vaultApi(vault, collection, name, "versions")),
    `${vault}/${collection}/${name}`,
  );
  const rows = versions.state === "done" ? [...versions.value.value] : [];
  rows.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  return (
    <section aria-labelledby="versions-heading">
      <h3 id="versions-heading">Versions</h3>
      <LoadFailed load={versions} />
      {versions.state === "done" && (
        <DataTable
          class="versions"
          id="versions"
          caption={`Versions of ${name}, newest first`}
          headers={[
            "Version",
            "Created",
            "Enabled",
            "Not before",
            "Expires",
            "Type",
            "Tags",
            ...(collection === "secrets" ? ["Value"] : []),
          ]}
        >
          {rows.map((v) => (
            <tr key={v.version}>
              <td class="wrap">{v.version}</td>
              <td>{utc(v.createdAt)}</td>
              <td>{v.enabled ? "yes" : "no"}</td>
              <td>{v.notBefore ? utc(v.notBefore) : ""}</td>
              <td>{v.expiresAt ? utc(v.expiresAt) : ""}</td>
              <td>
                {"keyType" in v
                  ? [v.keyType, v.keySize ?? v.curve].filter(Boolean).join(" ")
                  : (v.contentType ?? "")}
              </td>
              <td>{tagText(v.tags)}</td>
              {collection === "secrets" && (
                <td>
                  <Reveal vault={vault} name={name} version={v.version} />
                </td>
              )}
            </tr>
          ))}
        </DataTable>
      )}
      {collection === "certificates" && <ReissueButton vault={vault} name={name} onDone={reload} />}
    </section>
  );
}

/**
 * A secret version's value, fetched only when asked (each reveal is audited) and kept only in this
 * component: leaving the page or pressing Hide forgets it.
 */
function Reveal(props: { vault: string; name: string; version: string }) {
  const [value, setValue] = useState<string | undefined>(undefined);
  const { outcome, busy, run } = useAction();
  if (value !== undefined)
    return (
      <span class="row">
        <code class="secret-value wrap">{value}</code>
        <button type="button" onClick={() => setValue(undefined)}>
          Hide
        </button>
      </span>
    );
  return (
    <span class="row">
      <button
        type="button"
        disabled={busy}
        aria-label={`Reveal version ${props.version}`}
        onClick={() =>
          void run(async () => {
            const revealed = await api<{ value: string }>(
              "POST",
              vaultApi(props.vault, "secrets", props.name, props.version, "reveal"),
            );
            setValue(revealed.value);
            return "";
          })
        }
      >
        Reveal
      </button>
      <Outcome inline text={outcome} />
    </span>
  );
}

type Trigger = "lifetime_percentage" | "days_before_expiry";
interface ActionRow {
  trigger: Trigger;
  value: string;
  action: string;
}
interface PolicyForm {
  subject: string;
  dnsNames: string;
  validityMonths: string;
  kty: string;
  keySize: string;
  curve: string;
  reuseKey: boolean;
  issuer: string;
  actions: ActionRow[];
}

function formOf(p: PolicyWire): PolicyForm {
  return {
    subject: p.x509_props?.subject ?? "",
    dnsNames: (p.x509_props?.sans?.dns_names ?? []).join(", "),
    validityMonths: String(p.x509_props?.validity_months ?? ""),
    kty: p.key_props?.kty ?? "RSA",
    keySize: String(p.key_props?.key_size ?? ""),
    curve: p.key_props?.crv ?? "",
    reuseKey: p.key_props?.reuse_key ?? false,
    issuer: p.issuer?.name ?? "Self",
    actions: (p.lifetime_actions ?? []).map((a) => {
      const days = a.trigger?.days_before_expiry;
      return {
        trigger: days !== undefined ? "days_before_expiry" : "lifetime_percentage",
        value: String(days ?? a.trigger?.lifetime_percentage ?? ""),
        action: a.action?.action_type ?? "AutoRenew",
      };
    }),
  };
}

/** The PATCH body: Key Vault's policy shape, the SAN kinds this form does not edit kept as they were. */
function wireOf(f: PolicyForm, loaded: PolicyWire): PolicyWire {
  const ec = f.kty.startsWith("EC");
  const dnsNames = f.dnsNames
    .split(",")
    .map((d) => d.trim())
    .filter(Boolean);
  return {
    key_props: {
      kty: f.kty,
      reuse_key: f.reuseKey,
      ...(ec ? f.curve && { crv: f.curve } : f.keySize && { key_size: Number(f.keySize) }),
    },
    x509_props: {
      subject: f.subject,
      sans: { ...loaded.x509_props?.sans, dns_names: dnsNames },
      ...(f.validityMonths && { validity_months: Number(f.validityMonths) }),
    },
    lifetime_actions: f.actions.map((a) => ({
      trigger: { [a.trigger]: Number(a.value) },
      action: { action_type: a.action },
    })),
    issuer: { name: f.issuer },
  };
}

function PolicyEditor({ vault, name }: { vault: string; name: string }) {
  const [loaded] = useLoad(
    () =>
      Promise.all([
        api<PolicyWire>("GET", vaultApi(vault, "certificates", name, "policy")),
        api<{ value: { name: string }[] }>("GET", vaultApi(vault, "issuers")).catch(() => ({ value: [] })),
      ]),
    `${vault}/${name}/policy`,
  );
  return (
    <section aria-labelledby="policy-heading">
      <h3 id="policy-heading">Policy</h3>
      <LoadFailed load={loaded} />
      {loaded.state === "done" && (
        <PolicyFields
          vault={vault}
          name={name}
          policy={loaded.value[0]}
          issuers={["Self", "Unknown", ...loaded.value[1].value.map((i) => i.name)]}
        />
      )}
    </section>
  );
}

function PolicyFields(props: { vault: string; name: string; policy: PolicyWire; issuers: string[] }) {
  const [form, setForm] = useState(() => formOf(props.policy));
  const [saved, setSaved] = useState(props.policy);
  const { outcome, busy, run } = useAction();
  const set = (changes: Partial<PolicyForm>) => setForm({ ...form, ...changes });
  const setAction = (index: number, changes: Partial<ActionRow>) =>
    set({ actions: form.actions.map((a, i) => (i === index ? { ...a, ...changes } : a)) });
  const issuers = props.issuers.includes(form.issuer) ? props.issuers : [...props.issuers, form.issuer];
  const save = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const stored = await api<PolicyWire>(
        "PATCH",
        vaultApi(props.vault, "certificates", props.name, "policy"),
        wireOf(form, saved),
      );
      setSaved(stored);
      setForm(formOf(stored));
      return "Policy saved.";
    });
  };
  const ec = form.kty.startsWith("EC");
  return (
    <form id="policy" class="filters" onSubmit={save}>
      <label>
        Subject
        <input
          value={form.subject}
          autocomplete="off"
          onInput={(e) => set({ subject: e.currentTarget.value })}
        />
      </label>
      <label>
        DNS names (comma-separated)
        <input
          value={form.dnsNames}
          autocomplete="off"
          onInput={(e) => set({ dnsNames: e.currentTarget.value })}
        />
      </label>
      <label>
        Validity (months)
        <input
          type="number"
          min={1}
          value={form.validityMonths}
          onInput={(e) => set({ validityMonths: e.currentTarget.value })}
        />
      </label>
      <label>
        Key type
        <select value={form.kty} onChange={(e) => set({ kty: e.currentTarget.value })}>
          {["RSA", "RSA-HSM", "EC", "EC-HSM"].map((k) => (
            <option key={k}>{k}</option>
          ))}
        </select>
      </label>
      {ec ? (
        <label>
          Curve
          <select value={form.curve} onChange={(e) => set({ curve: e.currentTarget.value })}>
            {["P-256", "P-384", "P-521"].map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </label>
      ) : (
        <label>
          Key size
          <select value={form.keySize} onChange={(e) => set({ keySize: e.currentTarget.value })}>
            {["2048", "3072", "4096"].map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
      )}
      <label>
        <input
          type="checkbox"
          checked={form.reuseKey}
          onChange={(e) => set({ reuseKey: e.currentTarget.checked })}
        />
        Reuse the key on renewal
      </label>
      <label>
        Issuer
        <select value={form.issuer} onChange={(e) => set({ issuer: e.currentTarget.value })}>
          {issuers.map((i) => (
            <option key={i}>{i}</option>
          ))}
        </select>
      </label>
      <fieldset id="lifetime-actions">
        <legend>Lifetime actions</legend>
        {form.actions.length === 0 && <p>None: the certificate is neither renewed nor announced.</p>}
        {form.actions.map((a, i) => (
          <div class="row" key={i}>
            <label>
              When (action {i + 1})
              <select
                value={a.trigger}
                onChange={(e) => setAction(i, { trigger: e.currentTarget.value as Trigger })}
              >
                <option value="lifetime_percentage">at this percentage of its lifetime</option>
                <option value="days_before_expiry">this many days before expiry</option>
              </select>
            </label>
            <label>
              Value (action {i + 1})
              <input
                type="number"
                min={1}
                value={a.value}
                onInput={(e) => setAction(i, { value: e.currentTarget.value })}
              />
            </label>
            <label>
              Action (action {i + 1})
              <select value={a.action} onChange={(e) => setAction(i, { action: e.currentTarget.value })}>
                <option>AutoRenew</option>
                <option>EmailContacts</option>
              </select>
            </label>
            <button type="button" onClick={() => set({ actions: form.actions.filter((_, n) => n !== i) })}>
              Remove action {i + 1}
            </button>
          </div>
        ))}
        <button
          type="button"
          onClick={() =>
            set({
              actions: [...form.actions, { trigger: "days_before_expiry", value: "30", action: "AutoRenew" }],
            })
          }
        >
          Add lifetime action
        </button>
      </fieldset>
      <div class="row">
        <button type="submit" disabled={busy}>
          Save policy
        </button>
        <span id="policy-outcome" role={outcome.startsWith("Policy saved") ? "status" : "alert"}>
          {outcome}
        </span>
      </div>
    </form>
  );
}
