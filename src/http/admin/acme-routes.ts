import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { AcmeSettingsService } from "../../domain/acme/acme-settings-service.js";
import type { AcmeIssuerSettings } from "../../domain/acme/model.js";
import type { VaultService } from "../../domain/vaults/vault-service.js";

const AcmeSettingsBody = Type.Object(
  {
    directoryUrl: Type.String({ minLength: 1 }),
    contacts: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { maxItems: 10 })),
    challenge: Type.Optional(Type.Union([Type.Literal("http-01"), Type.Literal("dns-01")])),
    solver: Type.Optional(
      Type.Union([
        Type.Literal("responder"),
        Type.Literal("webroot"),
        Type.Literal("hook"),
        Type.Literal("webhook"),
      ]),
    ),
    webroot: Type.Optional(Type.String({ minLength: 1 })),
    command: Type.Optional(Type.String({ minLength: 1 })),
    webhookUrl: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

/** The settings in the shape the PUT body takes. */
export function acmeSettingsView(s: AcmeIssuerSettings) {
  const { type, ...solver } = s.challenge;
  return {
    issuer: s.issuerName,
    directoryUrl: s.directoryUrl,
    contacts: s.contacts,
    challenge: type,
    ...solver,
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  };
}

/**
 * ACME settings of a vault's issuers, which Key Vault issuer objects have no field for:
 * `/admin/vaults/{vault}/acme-issuers/{issuer}`. Registered inside the admin scope (its auth hook).
 */
export function registerAcmeAdminRoutes(
  admin: FastifyInstance,
  { acme, vaults }: { acme: AcmeSettingsService; vaults: VaultService },
): void {
  type Params = { name: string; issuer: string };
  admin.get<{ Params: { name: string } }>(
    "/admin/vaults/:name/acme-issuers",
    { config: { operation: "AcmeIssuerList" } },
    async (request) => ({
      value: (await acme.list(await vaults.get(request.params.name))).map(acmeSettingsView),
    }),
  );
  admin.get<{ Params: Params }>(
    "/admin/vaults/:name/acme-issuers/:issuer",
    { config: { operation: "AcmeIssuerGet" } },
    async (request) =>
      acmeSettingsView(await acme.get(await vaults.get(request.params.name), request.params.issuer)),
  );
  admin.put<{ Params: Params; Body: Static<typeof AcmeSettingsBody> }>(
    "/admin/vaults/:name/acme-issuers/:issuer",
    { schema: { body: AcmeSettingsBody }, config: { operation: "AcmeIssuerSet" } },
    async (request) =>
      acmeSettingsView(
        await acme.put(await vaults.get(request.params.name), request.params.issuer, request.body),
      ),
  );
  admin.delete<{ Params: Params }>(
    "/admin/vaults/:name/acme-issuers/:issuer",
    { config: { operation: "AcmeIssuerDelete" } },
    async (request, reply) => {
      await acme.remove(await vaults.get(request.params.name), request.params.issuer);
      return reply.status(204).send();
    },
  );
}
