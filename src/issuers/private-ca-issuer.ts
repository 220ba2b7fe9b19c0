import type { CaService, IssueProfile, SignedCertificate } from "../domain/ca/ca-service.js";
import type { KeyUsage } from "../domain/certificates/model.js";
import type { Clock } from "../domain/clock.js";
import { DomainError } from "../domain/errors.js";
import type {
  IssuanceRequest,
  IssuanceResult,
  IssuerAdapter,
  PreparedIssuance,
  PreparedIssuanceRequest,
} from "../domain/issuance/ports.js";

/** Key Vault issuer provider name that selects this adapter (matched case-insensitively). */
export const PRIVATE_CA_PROVIDER = "PrivateCA";

function addMonths(date: Date, months: number): Date {
  const out = new Date(date);
  out.setUTCMonth(out.getUTCMonth() + months);
  return out;
}

const failed = (code: string, message: string) => ({ status: "failed" as const, code, message });

/**
 * Issues vault certificates from a CA of this installation. The issuer object names the CA in
 * `credentials.account_id` (or, failing that, `org_details.id`):
 * `createIssuer("corp", "PrivateCA", { accountId: "issuing-ca-1" })`. The CSR gives the key; the
 * certificate policy gives subject, SANs, key usage, EKUs and validity; the CA adds its constraints.
 */
export function createPrivateCaIssuer(deps: {
  ca: Pick<CaService, "issueForVault" | "signForVaults">;
  clock: Clock;
}): IssuerAdapter {
  /** The CA a request goes to and what the certificate gets besides its key, or why not. */
  function plan(request: Pick<IssuanceRequest, "policy" | "issuer">) {
    const { policy, issuer } = request;
    const caName = issuer.accountId ?? issuer.organizationId;
    if (!caName)
      return failed("BadParameter", `Issuer ${issuer.name} must name its CA in credentials.account_id`);
    if (policy.ca)
      return failed(
        "BadParameter",
        "A private CA issues end-entity certificates to vault policies; create CAs with `strongroom ca create-intermediate`",
      );
    const rsa = policy.key.kty.startsWith("RSA");
    const keyUsage: KeyUsage[] =
      policy.keyUsage.length > 0
        ? policy.keyUsage
        : rsa
          ? ["digitalSignature", "keyEncipherment"]
          : ["digitalSignature"];
    const profile: IssueProfile = {
      subject: policy.subject,
      sans: policy.sans,
      keyUsage,
      ekus: policy.ekus,
      notAfter: addMonths(deps.clock.now(), policy.validityMonths),
    };
    return { caName, profile };
  }

  /** The CA's refusal (a name outside its constraints, validity beyond its own) fails the operation. */
  function refused(error: unknown) {
    if (error instanceof DomainError) return failed(error.code, error.message);
    throw error;
  }

  const link = (request: Omit<IssuanceRequest, "csr" | "requestId">) => ({
    vaultId: request.vaultId,
    vaultName: request.vaultName,
    name: request.certificateName,
    version: request.version,
  });

  return {
    provider: PRIVATE_CA_PROVIDER,
    async issue(request: IssuanceRequest): Promise<IssuanceResult> {
      const planned = plan(request);
      if ("status" in planned) return planned;
      try {
        const { issued, chain } = await deps.ca.issueForVault(
          planned.caName,
          request.csr,
          planned.profile,
          link(request),
        );
        return { status: "issued", certificates: [issued.der, ...chain] };
      } catch (error) {
        return refused(error);
      }
    },
    async prepare(requests: readonly PreparedIssuanceRequest[]): Promise<PreparedIssuance[]> {
      const out: PreparedIssuance[] = [];
      const byCa = new Map<
        string,
        { at: number; request: PreparedIssuanceRequest; profile: IssueProfile }[]
      >();
      requests.forEach((request, at) => {
        const planned = plan(request);
        if ("status" in planned) out[at] = planned;
        else
          byCa.set(planned.caName, [
            ...(byCa.get(planned.caName) ?? []),
            { at, request, profile: planned.profile },
          ]);
      });
      for (const [caName, planned] of byCa) {
        let signed: PromiseSettledResult<SignedCertificate>[];
        try {
          signed = await deps.ca.signForVaults(
            caName,
            planned.map(({ request, profile }) => ({
              publicKey: request.publicKey,
              profile,
              vault: link(request),
            })),
          );
        } catch (error) {
          const answer = refused(error);
          for (const { at } of planned) out[at] = answer;
          continue;
        }
        planned.forEach(({ at }, n) => {
          const result = signed[n] as PromiseSettledResult<SignedCertificate>;
          if (result.status === "rejected") out[at] = refused(result.reason);
          else {
            const { issued, events, chain } = result.value;
            out[at] = { status: "issued", certificates: [issued.der, ...chain], record: { issued, events } };
          }
        });
      }
      return out;
    },
  };
}
