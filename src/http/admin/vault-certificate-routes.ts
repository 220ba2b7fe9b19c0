import type { FastifyInstance } from "fastify";
import type { CertificateService } from "../../domain/certificates/certificate-service.js";
import type { VaultService } from "../../domain/vaults/vault-service.js";

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
        value: page.items.map((v) => ({
          version: v.version,
          enabled: v.enabled,
          createdAt: v.createdAt.toISOString(),
          ...(v.expiresAt !== undefined && { expiresAt: v.expiresAt.toISOString() }),
        })),
      };
    },
  );

  admin.post<{ Params: { name: string; certificate: string } }>(
    "/admin/vaults/:name/certificates/:certificate/renew",
    { config: { operation: "CertificateRenew" } },
    async (request, reply) => {
      const vault = await vaults.get(request.params.name);
      const name = request.params.certificate;
      // Renewing names a certificate that exists: 404 for one that does not, rather than the 400 a
      // first create without a policy gets.
      await certificates.get(vault, name);
      const created = await certificates.create(vault, name, {});
      // One poll, as Key Vault's clients make: it completes what signs at once (Self, the private
      // CA); what waits (an approval, an ACME order) stays in progress for its job to finish.
      const operation =
        created.status === "inProgress" ? await certificates.pollOperation(vault, name) : created;
      return reply.status(operation.status === "inProgress" ? 202 : 200).send({
        status: operation.status,
        ...(operation.targetVersion !== undefined && { version: operation.targetVersion }),
        ...(operation.statusDetails !== undefined && { statusDetails: operation.statusDetails }),
        ...(operation.error !== undefined && { error: operation.error }),
      });
    },
  );
}
