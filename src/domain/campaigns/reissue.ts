import type { IssuedCertificate } from "../ca/model.js";
import type { CertificateService } from "../certificates/certificate-service.js";
import type { CertificateOperation } from "../certificates/model.js";
import type { PolicyChange } from "../certificates/policy.js";
import { DomainError } from "../errors.js";
import type { Vault } from "../vaults/model.js";
import type { CampaignOptions } from "./model.js";

/** What a re-issue may change on the way: the issuer and the key, as a campaign's options say them. */
export type ReissueChange = Pick<CampaignOptions, "issuer" | "keyType" | "keySize" | "curve">;

/**
 * The policy change a re-issue makes before its create; undefined when it keeps the policy. A new
 * key type says the algorithm, not where the key lives: a certificate whose key is in the HSM gets
 * its new key there too (EC on an EC-HSM or RSA-HSM policy is EC-HSM), for a campaign that moved keys
 * out of the HSM would leave them exportable from software without anyone having asked.
 */
export function policyChange(options: ReissueChange): PolicyChange | undefined {
  const { issuer, keyType, keySize, curve } = options;
  if (!issuer && !keyType) return undefined;
  return (current) => ({
    ...(issuer && { issuer: { name: issuer } }),
    ...(keyType && {
      key: {
        kty: current.key.kty.endsWith("-HSM") ? `${keyType}-HSM` : keyType,
        ...(keySize !== undefined && { keySize }),
        ...(curve !== undefined && { curve }),
        reuseKey: false,
      },
    }),
  });
}

type Certificates = Pick<
  CertificateService,
  "create" | "pollOperation" | "updatePolicy" | "getPolicy" | "get"
>;

/**
 * One certificate's new version through its policy, `change` applied to the policy first: the
 * create a Key Vault client makes, then the one poll its client makes, which completes what signs at
 * once (Self, the private CA). What waits (an approval, an ACME order) comes back in progress for
 * its job to finish. The campaign job's one-by-one path and the dashboard's re-issue both go here.
 */
export async function reissueVaultCertificate(
  certificates: Certificates,
  vault: Vault,
  name: string,
  change: PolicyChange | undefined,
): Promise<CertificateOperation> {
  // A re-issue names a certificate that exists: NotFound for one that does not, before any change.
  await certificates.get(vault, name);
  if (change) await certificates.updatePolicy(vault, name, change(await certificates.getPolicy(vault, name)));
  const created = await certificates.create(vault, name, {});
  return created.status === "inProgress" ? certificates.pollOperation(vault, name) : created;
}

/** A re-issue's outcome where only a finished version will do (a campaign item). */
export function completedVersion(operation: CertificateOperation): string {
  if (operation.status === "failed")
    throw new Error(operation.error?.message ?? "the issuer failed the request");
  if (operation.status === "inProgress" || operation.targetVersion === undefined)
    throw new Error(
      "the issuer answers later; retry the campaign once the certificate's operation completes",
    );
  return operation.targetVersion;
}

/**
 * A certificate a CA of this installation signed, signed again for its subject and SANs with a new
 * key: possible only where Strongroom holds the key, which is where a vault policy asked for the
 * certificate. One signed from a CSR (ACME, EST, SCEP, the sign API) has its key with whoever sent
 * the CSR: Conflict, for only they can ask again.
 */
export async function reissueIssued(
  deps: {
    certificates: Certificates;
    vaults: { get(name: string): Promise<Vault> };
  },
  issued: IssuedCertificate,
): Promise<{ vault: Vault; name: string; operation: CertificateOperation }> {
  const link = issued.vault;
  if (!link)
    throw new DomainError(
      "Conflict",
      `Certificate ${issued.serial} was signed from a certificate request; its key is held by whoever sent the request, not by Strongroom, so only they can ask for a new certificate with a new key.`,
      { reason: "KeyNotHeld" },
    );
  const vault = await deps.vaults.get(link.vaultName);
  const latest = await deps.certificates.get(vault, link.name);
  if (latest.version !== link.version)
    throw new DomainError(
      "Conflict",
      `Certificate ${issued.serial} is version ${link.version} of ${link.vaultName}/${link.name}, which has a newer version (${latest.version}); re-issue that one.`,
      { reason: "VersionSuperseded" },
    );
  const operation = await reissueVaultCertificate(deps.certificates, vault, link.name, () => ({
    key: { reuseKey: false },
  }));
  return { vault, name: link.name, operation };
}
