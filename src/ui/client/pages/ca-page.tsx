import { useState } from "preact/hooks";
import type { approvalData } from "../../../domain/approvals/model.js";
import { REVOCATION_REASONS } from "../../../domain/ca/model.js";
import type { caView, issuedView } from "../../../http/admin/ca-routes.js";
import { api } from "../api.js";
import { DataTable } from "../components/data-table.js";
import { Fields } from "../components/fields.js";
import { LoadFailed, Outcome } from "../components/status-lines.js";
import { useAction } from "../components/use-action.js";
import { day, utc } from "../format.js";
import type { PageProps } from "../pages.js";
import { Link } from "../router.js";
import { useLoad } from "../use-load.js";

type CaView = ReturnType<typeof caView>;
type IssuedView = ReturnType<typeof issuedView>;
type Signed =
  | (IssuedView & { certificate: string })
  | { state: "pending"; approval: ReturnType<typeof approvalData> };
interface RevocationStatus {
  crl?: { url: string; number: number; thisUpdate: string; nextUpdate: string; shards: number };
  ocsp?: { url: string; responderNotAfter: string };
}

const REASONS = Object.keys(REVOCATION_REASONS);

/** One CA: its facts, CRL and OCSP status, issuing from a pasted CSR, and its certificates to revoke or release. */
export default function CaPage({ params }: PageProps) {
  const name = params.name as string;
  const base = `/admin/cas/${encodeURIComponent(name)}`;
  const [ca] = useLoad(() => api<CaView>("GET", base), name);
  const [status, reloadStatus] = useLoad(
    () => api<RevocationStatus>("GET", `${base}/revocation-status`),
    name,
  );
  const [issued, reloadIssued] = useLoad(() => api<{ value: IssuedView[] }>("GET", `${base}/issued`), name);

  return (
    <>
      <h2>CA {name}</h2>
      <p>
        <Link href="/ui/cas">All CAs</Link>
      </p>
      <LoadFailed load={ca} />
      {ca.state === "done" && (
        <Fields
          id="ca-fields"
          rows={[
            ["Subject", ca.value.subject],
            ["Kind", ca.value.kind],
            ["Status", ca.value.status],
            ["Key", `${ca.value.keyAlgorithm} (${ca.value.protection})`],
            ["Valid until", ca.value.notAfter && utc(ca.value.notAfter)],
            ["Path length", ca.value.pathLength === undefined ? undefined : String(ca.value.pathLength)],
            ["Policies", ca.value.policies.join(", ")],
          ]}
        />
      )}
      <section aria-labelledby="revocation-heading">
        <h3 id="revocation-heading">CRL and OCSP</h3>
        <LoadFailed load={status} />
        {status.state === "done" && (
          <Fields
            id="revocation-status"
            rows={[
              ["CRL", status.value.crl ? status.value.crl.url : "none yet (the CA has no certificate)"],
              ["CRL number", status.value.crl && String(status.value.crl.number)],
              ["CRL issued", status.value.crl && utc(status.value.crl.thisUpdate)],
              ["Next CRL by", status.value.crl && utc(status.value.crl.nextUpdate)],
              ["CRL shards", status.value.crl && String(status.value.crl.shards)],
              ["OCSP", status.value.ocsp ? status.value.ocsp.url : "no responder yet"],
              ["OCSP responder valid until", status.value.ocsp && utc(status.value.ocsp.responderNotAfter)],
            ]}
          />
        )}
      </section>
      <IssueForm
        base={base}
        onIssued={() => {
          reloadIssued();
          reloadStatus();
        }}
      />
      <IssuedList
        caName={name}
        issued={issued.state === "done" ? issued.value.value : undefined}
        failed={issued.state === "failed" ? issued.message : undefined}
        onChange={() => {
          reloadIssued();
          reloadStatus();
        }}
      />
    </>
  );
}

function IssueForm({ base, onIssued }: { base: string; onIssued: () => void }) {
  const [csr, setCsr] = useState("");
  const [days, setDays] = useState("");
  const [pem, setPem] = useState("");
  const { outcome, busy, run } = useAction();

  const issue = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      setPem("");
      const body = { csr, ...(days.trim() && { validityDays: Number(days) }) };
      const signed = await api<Signed>("POST", `${base}/sign`, body);
      onIssued();
      if ("state" in signed) {
        return `Held for approval: request ${signed.approval.id} needs ${signed.approval.required} approval(s).`;
      }
      setPem(signed.certificate);
      setCsr("");
      return `Issued serial ${signed.serial} to ${signed.subject}, valid until ${day(signed.notAfter)}.`;
    });
  };

  return (
    <form class="stack" id="issue-form" aria-labelledby="issue-heading" onSubmit={issue}>
      <h3 id="issue-heading">Issue from a CSR</h3>
      <label for="csr">Certificate signing request (PEM)</label>
      <textarea
        id="csr"
        rows={8}
        required
        spellcheck={false}
        value={csr}
        onInput={(e) => setCsr(e.currentTarget.value)}
      />
      <label for="validity-days">Validity in days (empty for the CA's default)</label>
      <input
        id="validity-days"
        type="number"
        min={1}
        value={days}
        onInput={(e) => setDays(e.currentTarget.value)}
      />
      <button type="submit" disabled={busy}>
        Issue certificate
      </button>
      <Outcome id="issue-outcome" text={outcome} />
      {pem && (
        <>
          <label for="issued-pem">Issued certificate (PEM)</label>
          <textarea id="issued-pem" rows={8} readOnly value={pem} />
        </>
      )}
    </form>
  );
}

function IssuedList(props: {
  caName: string;
  issued: IssuedView[] | undefined;
  failed: string | undefined;
  onChange: () => void;
}) {
  const [reason, setReason] = useState("unspecified");
  const { outcome, busy, run } = useAction();

  const change = (i: IssuedView, step: "revoke" | "release") =>
    run(async () => {
      const path = step === "revoke" ? "/admin/revocations" : "/admin/revocations/release";
      const changed = await api<IssuedView>("POST", path, {
        serial: i.serial,
        ca: props.caName,
        ...(step === "revoke" && { reason }),
      });
      props.onChange();
      return `Certificate ${changed.serial} is ${changed.status}${changed.reason ? ` (${changed.reason})` : ""}.`;
    });

  // Only where a vault policy asked for it does Strongroom hold the key a re-issue replaces.
  const reissue = (i: IssuedView) =>
    run(async () => {
      const done = await api<{ status: string; version?: string; issued?: IssuedView }>(
        "POST",
        `/admin/cas/${encodeURIComponent(props.caName)}/issued/${i.serial}/reissue`,
      );
      props.onChange();
      return done.issued
        ? `Re-issued ${i.serial} as serial ${done.issued.serial} (version ${done.version}).`
        : `Re-issue ${done.status}.`;
    });

  return (
    <section aria-labelledby="issued-heading">
      <h3 id="issued-heading">Issued certificates</h3>
      <div class="filters">
        <label for="revocation-reason">
          Revocation reason
          <select id="revocation-reason" value={reason} onChange={(e) => setReason(e.currentTarget.value)}>
            {REASONS.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
      </div>
      <Outcome id="revocation-outcome" text={outcome} />
      {props.failed && <p role="alert">{props.failed}</p>}
      {props.issued &&
        (props.issued.length === 0 ? (
          <p>None yet.</p>
        ) : (
          <DataTable
            id="issued"
            caption="Issued certificates"
            headers={["Serial", "Subject", "Valid until", "Status", "Actions"]}
          >
            {props.issued.map((i) => (
              <tr key={i.serial}>
                <td class="wrap">{i.serial}</td>
                <td class="wrap">{i.subject}</td>
                <td>{day(i.notAfter)}</td>
                <td>
                  {i.status}
                  {i.reason ? ` (${i.reason})` : ""}
                </td>
                <td>
                  <div class="row">
                    {i.status !== "revoked" && (
                      <button
                        type="button"
                        disabled={busy}
                        aria-label={`Revoke ${i.serial}`}
                        onClick={() => void change(i, "revoke")}
                      >
                        Revoke
                      </button>
                    )}
                    {i.vault && (
                      <button
                        type="button"
                        disabled={busy}
                        aria-label={`Re-issue ${i.serial}`}
                        onClick={() => void reissue(i)}
                      >
                        Re-issue
                      </button>
                    )}
                    {i.status === "hold" && (
                      <button
                        type="button"
                        disabled={busy}
                        aria-label={`Release ${i.serial}`}
                        onClick={() => void change(i, "release")}
                      >
                        Release
                      </button>
                    )}
                  </div>
                </td>
              </tr>
            ))}
          </DataTable>
        ))}
    </section>
  );
}
