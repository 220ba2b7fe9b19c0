import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { DataActions } from "../../domain/access/data-actions.js";
import type { CertificateService } from "../../domain/certificates/certificate-service.js";
import { badParameter, DomainError } from "../../domain/errors.js";
import { vaultOf } from "../request-context.js";
import {
  certificateBundle,
  certificateItem,
  deletedCertificateBundle,
  deletedCertificateItem,
  operationWire,
  type PolicyWire,
  policyFromWire,
  policyToWire,
} from "./certificate-wire.js";
import { listQuery, listResponse } from "./paging.js";
import { routeConfig } from "./route-access.js";
import { Attributes, base64url, type NameParams, RestoreBody, Tags } from "./schemas.js";

/** CertificatePolicy: shaped by `policyFromWire` and judged by the service, which says what is wrong. */
export const Policy = Type.Object({}, { additionalProperties: true });
/** A chain deeper than 10 is no chain a relying party builds. */
export const MAX_X5C = 10;
const CreateBody = Type.Object({
  policy: Type.Optional(Policy),
  attributes: Type.Optional(Attributes),
  tags: Type.Optional(Tags),
  preserveCertOrder: Type.Optional(Type.Boolean()),
});
const ImportBody = Type.Object({
  value: Type.String({ minLength: 1 }),
  pwd: Type.Optional(Type.String()),
  policy: Type.Optional(Policy),
  attributes: Type.Optional(Attributes),
  tags: Type.Optional(Tags),
  preserveCertOrder: Type.Optional(Type.Boolean()),
});
const UpdateBody = Type.Object({
  policy: Type.Optional(Policy),
  attributes: Type.Optional(Attributes),
  tags: Type.Optional(Tags),
});
const MergeBody = Type.Object({
  x5c: Type.Array(Type.String(), { maxItems: MAX_X5C }),
  attributes: Type.Optional(Attributes),
  tags: Type.Optional(Tags),
});
const CancelBody = Type.Object({ cancellation_requested: Type.Boolean() });
type NameVersion = { name: string; version?: string };

/** Key Vault certificates (keyvault-api.md §2 Certificates, §3 long-running operations). */
export function registerCertificateRoutes(app: FastifyInstance, certificates: CertificateService): void {
  const config = routeConfig("certificates");
  const apiVersion = (query: unknown) => String((query as Record<string, unknown>)["api-version"] ?? "");

  app.post<{ Params: Static<typeof NameParams>; Body: Static<typeof CreateBody> }>(
    "/certificates/:name/create",
    {
      schema: { body: CreateBody },
      config: config("CertificateCreate", DataActions.certificatesCreate, "create"),
    },
    async (request, reply) => {
      const ctx = vaultOf(request);
      const b = request.body;
      const operation = await certificates.create(ctx.vault, request.params.name, {
        policy: b.policy ? policyFromWire(b.policy as PolicyWire) : undefined,
        enabled: b.attributes?.enabled,
        tags: b.tags,
        requester: request.caller?.principalId,
      });
      const location = `${ctx.baseUrl}/certificates/${operation.name}/pending?api-version=${apiVersion(request.query)}&request_id=${operation.requestId}`;
      return reply
        .status(202)
        .header("location", location)
        .header("retry-after", "10")
        .send(operationWire(ctx, operation));
    },
  );

  app.post<{ Params: Static<typeof NameParams>; Body: Static<typeof ImportBody> }>(
    "/certificates/:name/import",
    {
      schema: { body: ImportBody },
      config: config("CertificateImport", DataActions.certificatesImport, "import"),
    },
    async (request) => {
      const ctx = vaultOf(request);
      const b = request.body;
      const certificate = await certificates.import(ctx.vault, request.params.name, {
        value: b.value,
        password: b.pwd,
        policy: b.policy ? policyFromWire(b.policy as PolicyWire) : undefined,
        enabled: b.attributes?.enabled,
        tags: b.tags,
      });
      return certificateBundle(ctx, certificate, await certificates.getPolicy(ctx.vault, certificate.name));
    },
  );

  app.get(
    "/certificates",
    { config: config("CertificateList", DataActions.certificatesRead, "list") },
    async (request) => {
      const ctx = vaultOf(request);
      const { after, maxResults } = listQuery(request);
      if ((request.query as Record<string, string>).includePending !== "true") {
        const page = await certificates.list(ctx.vault, after, maxResults);
        return listResponse(request, ctx.baseUrl, page, (c) => certificateItem(ctx, c, false));
      }
      const page = await certificates.listWithPending(ctx.vault, after, maxResults);
      return listResponse(request, ctx.baseUrl, page, (entry) =>
        "certificate" in entry
          ? certificateItem(ctx, entry.certificate, false)
          : {
              id: `${ctx.baseUrl}/certificates/${entry.pending.name}`,
              attributes: { enabled: false },
              tags: entry.pending.tags,
            },
      );
    },
  );

  app.get<{ Params: Static<typeof NameParams> }>(
    "/certificates/:name/versions",
    { config: config("CertificateListVersions", DataActions.certificatesRead, "list") },
    async (request) => {
      const ctx = vaultOf(request);
      const { after, maxResults } = listQuery(request);
      const page = await certificates.listVersions(ctx.vault, request.params.name, after, maxResults);
      return listResponse(request, ctx.baseUrl, page, (c) => certificateItem(ctx, c, true));
    },
  );

  for (const path of ["/certificates/:name", "/certificates/:name/:version"]) {
    app.get<{ Params: NameVersion }>(
      path,
      { config: config("CertificateGet", DataActions.certificatesRead, "get") },
      async (request) => {
        const ctx = vaultOf(request);
        const { name, version } = request.params;
        try {
          const certificate = await certificates.get(ctx.vault, name, version || undefined);
          return certificateBundle(ctx, certificate, await certificates.getPolicy(ctx.vault, name));
        } catch (error) {
          // Before its first version exists (pending, failed or cancelled), Key Vault answers with the
          // pending certificate: disabled, with its policy. The SDK's pollers read it. A deleted
          // certificate is not pending: the recover poller must see its 404.
          if (!(error instanceof DomainError && error.code === "NotFound") || version) throw error;
          const operation = await certificates.getOperation(ctx.vault, name).catch(() => undefined);
          const deleted = await certificates.getDeleted(ctx.vault, name).catch(() => undefined);
          if (!operation || deleted) throw error;
          return {
            id: `${ctx.baseUrl}/certificates/${operation.name}/${operation.keyVersion}`,
            attributes: { enabled: false, created: Math.floor(operation.createdAt.getTime() / 1000) },
            tags: operation.tags,
            policy: policyToWire(ctx, operation.name, operation.policy),
            pending: { id: `${ctx.baseUrl}/certificates/${operation.name}/pending` },
          };
        }
      },
    );

    app.patch<{ Params: NameVersion; Body: Static<typeof UpdateBody> }>(
      path,
      {
        schema: { body: UpdateBody },
        config: config("CertificateUpdate", DataActions.certificatesUpdate, "update"),
      },
      async (request) => {
        const ctx = vaultOf(request);
        const { name, version } = request.params;
        const b = request.body;
        const certificate = await certificates.update(ctx.vault, name, version || undefined, {
          enabled: b.attributes?.enabled,
          tags: b.tags,
          policy: b.policy ? policyFromWire(b.policy as PolicyWire) : undefined,
        });
        return certificateBundle(ctx, certificate, await certificates.getPolicy(ctx.vault, name));
      },
    );
  }

  app.get<{ Params: Static<typeof NameParams> }>(
    "/certificates/:name/policy",
    { config: config("CertificatePolicyGet", DataActions.certificatesRead, "get") },
    async (request) => {
      const ctx = vaultOf(request);
      return policyToWire(
        ctx,
        request.params.name,
        await certificates.getPolicy(ctx.vault, request.params.name),
      );
    },
  );

  app.patch<{ Params: Static<typeof NameParams>; Body: PolicyWire }>(
    "/certificates/:name/policy",
    {
      schema: { body: Policy },
      config: config("CertificatePolicyUpdate", DataActions.certificatesUpdate, "update"),
    },
    async (request) => {
      const ctx = vaultOf(request);
      const policy = await certificates.updatePolicy(
        ctx.vault,
        request.params.name,
        policyFromWire(request.body),
      );
      return policyToWire(ctx, request.params.name, policy);
    },
  );

  app.get<{ Params: Static<typeof NameParams>; Querystring: { request_id?: string } }>(
    "/certificates/:name/pending",
    // A poll completes a pending certificate, storing its first version.
    {
      config: {
        ...config("CertificatePendingGet", DataActions.certificatesRead, "get"),
        writes: true as const,
      },
    },
    async (request) => {
      const ctx = vaultOf(request);
      const operation = await certificates.pollOperation(ctx.vault, request.params.name);
      const requestId = request.query.request_id;
      if (requestId && requestId !== operation.requestId) {
        throw new DomainError("NotFound", `No pending certificate with request id ${requestId}`, {
          reason: "PendingCertificateNotFound",
        });
      }
      return operationWire(ctx, operation);
    },
  );

  app.patch<{ Params: Static<typeof NameParams>; Body: Static<typeof CancelBody> }>(
    "/certificates/:name/pending",
    {
      schema: { body: CancelBody },
      config: config("CertificatePendingUpdate", DataActions.certificatesUpdate, "update"),
    },
    async (request) => {
      const ctx = vaultOf(request);
      if (!request.body.cancellation_requested)
        throw badParameter("Only cancellation_requested: true can be set");
      return operationWire(ctx, await certificates.cancelOperation(ctx.vault, request.params.name));
    },
  );

  app.delete<{ Params: Static<typeof NameParams> }>(
    "/certificates/:name/pending",
    { config: config("CertificatePendingDelete", DataActions.certificatesUpdate, "update") },
    async (request) => {
      const ctx = vaultOf(request);
      return operationWire(ctx, await certificates.deleteOperation(ctx.vault, request.params.name));
    },
  );

  app.post<{ Params: Static<typeof NameParams>; Body: Static<typeof MergeBody> }>(
    "/certificates/:name/pending/merge",
    {
      schema: { body: MergeBody },
      config: config("CertificatePendingMerge", DataActions.certificatesCreate, "create"),
    },
    async (request, reply) => {
      const ctx = vaultOf(request);
      const b = request.body;
      // The SDK's own sample sends base64 of PEM or of base64 text; decode once here, the rest is lenient.
      const x5c = b.x5c.map((entry) => Buffer.from(entry, "base64"));
      const certificate = await certificates.merge(ctx.vault, request.params.name, x5c, {
        tags: b.tags,
        enabled: b.attributes?.enabled,
      });
      return reply
        .status(201)
        .header("location", `${ctx.baseUrl}/certificates/${certificate.name}`)
        .send(certificateBundle(ctx, certificate, await certificates.getPolicy(ctx.vault, certificate.name)));
    },
  );

  app.delete<{ Params: Static<typeof NameParams> }>(
    "/certificates/:name",
    { config: config("CertificateDelete", DataActions.certificatesDelete, "delete") },
    async (request) => {
      const ctx = vaultOf(request);
      const deleted = await certificates.remove(ctx.vault, request.params.name);
      return deletedCertificateBundle(ctx, deleted);
    },
  );

  app.get(
    "/deletedcertificates",
    { config: config("CertificateListDeleted", DataActions.certificatesRead, "list") },
    async (request) => {
      const ctx = vaultOf(request);
      const { after, maxResults } = listQuery(request);
      const page = await certificates.listDeleted(ctx.vault, after, maxResults);
      return listResponse(request, ctx.baseUrl, page, (d) => deletedCertificateItem(ctx, d));
    },
  );

  app.get<{ Params: Static<typeof NameParams> }>(
    "/deletedcertificates/:name",
    { config: config("CertificateGetDeleted", DataActions.certificatesRead, "get") },
    async (request) => {
      const ctx = vaultOf(request);
      return deletedCertificateBundle(ctx, await certificates.getDeleted(ctx.vault, request.params.name));
    },
  );

  app.post<{ Params: Static<typeof NameParams> }>(
    "/deletedcertificates/:name/recover",
    { config: config("CertificateRecover", DataActions.certificatesRecover, "recover") },
    async (request) => {
      const ctx = vaultOf(request);
      const certificate = await certificates.recover(ctx.vault, request.params.name);
      return certificateBundle(ctx, certificate, await certificates.getPolicy(ctx.vault, certificate.name));
    },
  );

  app.delete<{ Params: Static<typeof NameParams> }>(
    "/deletedcertificates/:name",
    { config: config("CertificatePurge", DataActions.certificatesPurge, "purge") },
    async (request, reply) => {
      await certificates.purge(vaultOf(request).vault, request.params.name);
      return reply.status(204).send();
    },
  );

  app.post<{ Params: Static<typeof NameParams> }>(
    "/certificates/:name/backup",
    { config: config("CertificateBackup", DataActions.certificatesBackup, "backup") },
    async (request) => {
      const blob = await certificates.backup(vaultOf(request).vault, request.params.name);
      return { value: blob.toString("base64url") };
    },
  );

  app.post<{ Body: Static<typeof RestoreBody> }>(
    "/certificates/restore",
    {
      schema: { body: RestoreBody },
      config: config("CertificateRestore", DataActions.certificatesRestore, "restore"),
    },
    async (request) => {
      const ctx = vaultOf(request);
      const certificate = await certificates.restore(ctx.vault, base64url("value", request.body.value));
      return certificateBundle(ctx, certificate, await certificates.getPolicy(ctx.vault, certificate.name));
    },
  );
}
