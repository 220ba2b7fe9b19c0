import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { DataActions } from "../../domain/access/data-actions.js";
import type { IssuerInput, IssuerService } from "../../domain/certificates/issuer-service.js";
import { vaultOf } from "../request-context.js";
import { issuerWire } from "./certificate-wire.js";
import { vaultWideConfig } from "./route-access.js";
import type { NameParams } from "./schemas.js";

/** An issuer's administrators are people to call about it, not bulk data. */
export const MAX_ADMINISTRATORS = 20;

export const IssuerBody = Type.Object({
  provider: Type.Optional(Type.String()),
  credentials: Type.Optional(
    Type.Object({ account_id: Type.Optional(Type.String()), pwd: Type.Optional(Type.String()) }),
  ),
  org_details: Type.Optional(
    Type.Object({
      id: Type.Optional(Type.String()),
      admin_details: Type.Optional(
        Type.Array(
          Type.Object({
            first_name: Type.Optional(Type.String()),
            last_name: Type.Optional(Type.String()),
            email: Type.Optional(Type.String()),
            phone: Type.Optional(Type.String()),
          }),
          { maxItems: MAX_ADMINISTRATORS },
        ),
      ),
    }),
  ),
  attributes: Type.Optional(Type.Object({ enabled: Type.Optional(Type.Boolean()) })),
});
/** An issuer's fields as Key Vault's IssuerBundle names them, in the service's terms. */
export function issuerInput(b: Static<typeof IssuerBody>): IssuerInput {
  return {
    provider: b.provider,
    accountId: b.credentials?.account_id,
    password: b.credentials?.pwd,
    organizationId: b.org_details?.id,
    administrators: b.org_details?.admin_details?.map((a) => ({
      ...(a.first_name !== undefined && { firstName: a.first_name }),
      ...(a.last_name !== undefined && { lastName: a.last_name }),
      ...(a.email !== undefined && { email: a.email }),
      ...(a.phone !== undefined && { phone: a.phone }),
    })),
    enabled: b.attributes?.enabled,
  };
}

/** Key Vault certificate issuers (keyvault-api.md §2 Certificates: issuers). */
export function registerCertificateIssuerRoutes(app: FastifyInstance, issuers: IssuerService): void {
  app.get(
    "/certificates/issuers",
    { config: vaultWideConfig("CertificateIssuerList", DataActions.certificateIssuersRead, "listissuers") },
    async (request) => {
      const ctx = vaultOf(request);
      const listed = await issuers.list(ctx.vault);
      return {
        value: listed.map((i) => ({
          id: `${ctx.baseUrl}/certificates/issuers/${i.name}`,
          provider: i.provider,
        })),
        nextLink: null,
      };
    },
  );

  for (const [method, merge, operation] of [
    ["PUT", false, "CertificateIssuerSet"],
    ["PATCH", true, "CertificateIssuerUpdate"],
  ] as const) {
    app.route<{ Params: Static<typeof NameParams>; Body: Static<typeof IssuerBody> }>({
      method,
      url: "/certificates/issuers/:name",
      schema: { body: IssuerBody },
      config: vaultWideConfig(operation, DataActions.certificateIssuersWrite, "setissuers"),
      handler: async (request) => {
        const ctx = vaultOf(request);
        const issuer = await issuers.set(ctx.vault, request.params.name, issuerInput(request.body), merge);
        return issuerWire(ctx, issuer);
      },
    });
  }

  app.get<{ Params: Static<typeof NameParams> }>(
    "/certificates/issuers/:name",
    { config: vaultWideConfig("CertificateIssuerGet", DataActions.certificateIssuersRead, "getissuers") },
    async (request) => {
      const ctx = vaultOf(request);
      return issuerWire(ctx, await issuers.get(ctx.vault, request.params.name));
    },
  );

  app.delete<{ Params: Static<typeof NameParams> }>(
    "/certificates/issuers/:name",
    {
      config: vaultWideConfig(
        "CertificateIssuerDelete",
        DataActions.certificateIssuersDelete,
        "deleteissuers",
      ),
    },
    async (request) => {
      const ctx = vaultOf(request);
      return issuerWire(ctx, await issuers.remove(ctx.vault, request.params.name));
    },
  );
}
