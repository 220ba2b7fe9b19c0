import type { CaService } from "../domain/ca/ca-service.js";
import type { KeyUsage } from "../domain/certificates/model.js";
import type { Clock } from "../domain/clock.js";
import { DomainError } from "../domain/errors.js";
import type { IssuanceRequest, IssuanceResult, IssuerAdapter } from "../domain/issuance/ports.js";

/** Key Vault issuer provider name that selects this adapter (matched case-insensitively). */
export const PRIVATE_CA_PROVIDER = "PrivateCA";

function addMonths(date: Date, months: number): Date {
  const out = new Date(date);
  out.setUTCMonth(out.getUTCMonth() + months);
  return out;
}

/**
 * Issues vault certificates from a CA of this installation. The issuer object names the CA in
 * `credentials.account_id` (or, failing that, `org_details.id`):
 * `createIssuer("corp", "PrivateCA", { accountId: "issuing-ca-1" })`. The CSR gives the key; the
 * certificate policy gives subject, SANs, key usage, EKUs and validity; the CA adds its constraints.
 */
export function createPrivateCaIssuer(deps: {
  ca: Pick<CaService, "issueForVault">;
  clock: Clock;
}): IssuerAdapter {
  return {
    provider: PRIVATE_CA_PROVIDER,
    async issue(request: IssuanceRequest): Promise<IssuanceResult> {
      const { policy, issuer } = request;
      const caName = issuer.accountId ?? issuer.organizationId;
      if (!caName)
        return {
          status: "failed",
          code: "BadParameter",
          message: `Issuer ${issuer.name} must name its CA in credentials.account_id`,
        };
      if (policy.ca)
        return {
          status: "failed",
          code: "BadParameter",
          message:
            "A private CA issues end-entity certificates to vault policies; create CAs with `strongroom ca create-intermediate`",
        };
      const rsa = policy.key.kty.startsWith("RSA");
      const keyUsage: KeyUsage[] =
        policy.keyUsage.length > 0
          ? policy.keyUsage
          : rsa
            ? ["digitalSignature", "keyEncipherment"]
            : ["digitalSignature"];
      try {
        const { issued, chain } = await deps.ca.issueForVault(
          caName,
          request.csr,
          {
            subject: policy.subject,
            sans: policy.sans,
            keyUsage,
            ekus: policy.ekus,
            notAfter: addMonths(deps.clock.now(), policy.validityMonths),
          },
          {
            vaultId: request.vaultId,
            vaultName: request.vaultName,
            name: request.certificateName,
            version: request.version,
          },
        );
        return { status: "issued", certificates: [issued.der, ...chain] };
      } catch (error) {
        // The CA's refusal (a name outside its constraints, validity beyond its own) fails the operation.
        if (error instanceof DomainError)
          return { status: "failed", code: error.code, message: error.message };
        throw error;
      }
    },
  };
}
