import { api } from "../api.js";
import { useAction } from "./use-action.js";

/** `/admin/vaults/{vault}/certificates/{name}/{action}`, each part escaped. */
export const vaultCertificateApi = (vault: string, name: string, action: string) =>
  `/admin/vaults/${encodeURIComponent(vault)}/certificates/${encodeURIComponent(name)}/${action}`;

/**
 * Re-issues a vault certificate (a new version through its policy, as one item of a campaign is
 * made) and says how it went: the new version, or that its issuer answers later, or the refusal.
 */
export function ReissueButton(props: { vault: string; name: string; onDone: () => void }) {
  const { outcome, busy, run } = useAction();
  const reissue = () =>
    run(async () => {
      const done = await api<{ status: string; version?: string; statusDetails?: string }>(
        "POST",
        vaultCertificateApi(props.vault, props.name, "reissue"),
        {},
      );
      props.onDone();
      return done.version
        ? `Re-issued: new version ${done.version}.`
        : `Re-issue ${done.status}${done.statusDetails ? `: ${done.statusDetails}` : ""}.`;
    });
  return (
    <div class="row">
      <button type="button" disabled={busy} onClick={() => void reissue()}>
        Re-issue {props.vault}/{props.name}
      </button>
      <span class="reissue-outcome" role="status">
        {outcome}
      </span>
    </div>
  );
}
