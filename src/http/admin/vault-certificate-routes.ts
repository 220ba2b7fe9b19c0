import type { FastifyInstance } from "fastify";
import { reissueVaultCertificate } from "../../domain/campaigns/reissue.js";
import type { CertificateService } from "../../domain/certificates/certificate-service.js";
import type { VaultService } from "../../domain/vaults/vault-service.js";
import { certificateItemView, operationView } from "./vault-object-wire.js";

const VERSIONS_SHOWN = 25;

/**
 * A vault certificate's versions and its renewal, for people (the dashboard) inside the admin scope.
 * The Key Vault data plane picks its vault from the Host name, which a page on the dashboard's
 * origin cannot choose; renewing here runs the same certificate service operation as Key Vault's
 * create with the stored policy, so the same issuers, rules, approvals and events apply.
 */
export function registerVaultCertificateRoutes(
  admin: FastifyInstance,
  { vaults, certificates }: { vaults: VaultService; certificates: CertificateService },
): void {
  admin.get<{ Params: { name: string; certificate: string } }>(
    "/admin/vaults/:name/certificates/:certificate/versions",
    { config: { operation: "CertificateVersionList" } },
    async (request) => {
      const vault = await vaults.get(request.params.name);
      const page = await certificates.listVersions(
        vault,
        request.params.certificate,
        undefined,
        VERSIONS_SHOWN,
      );
      return {
        value: page.items.map(certificateItemView),
      };
    },
  );

  admin.post<{ Params: { name: string; certificate: string } }>(
    "/admin/vaults/:name/certificates/:certificate/renew",
    { config: { operation: "CertificateRenew" } },
    async (request, reply) => {
      const vault = await vaults.get(request.params.name);
      const operation = await reissueVaultCertificate(
        certificates,
        vault,
        request.params.certificate,
        undefined,
      );
      return reply.status(operation.status === "inProgress" ? 202 : 200).send(operationView(operation));
    },
  );
}
