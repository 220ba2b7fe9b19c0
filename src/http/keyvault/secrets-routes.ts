import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { DataActions } from "../../domain/access/data-actions.js";
import type { SecretFormats } from "../../domain/certificates/secret-formats.js";
import type { SecretService } from "../../domain/secrets/secret-service.js";
import { vaultOf } from "../request-context.js";
import { listQuery, listResponse } from "./paging.js";
import { routeConfig } from "./route-access.js";
import {
  Attributes,
  base64url,
  changedDate,
  NameParams,
  optionalDate,
  RestoreBody,
  Tags,
  type VersionParams,
} from "./schemas.js";
import { deletedSecretBundle, deletedSecretItem, secretBundle, secretItem } from "./wire.js";

// Key Vault ignores read-only fields such as attributes.created that clients echo back.
const SetSecretBody = Type.Object({
  value: Type.String(),
  contentType: Type.Optional(Type.String()),
  attributes: Type.Optional(Attributes),
  tags: Type.Optional(Tags),
});

const UpdateSecretBody = Type.Object({
  contentType: Type.Optional(Type.String()),
  attributes: Type.Optional(Attributes),
  tags: Type.Optional(Tags),
});

type OutContentType = { outContentType?: string };

/** Key Vault secrets (keyvault-api.md §2, Secrets); reads go through `formats` for outContentType. */
export function registerSecretRoutes(
  app: FastifyInstance,
  secrets: SecretService,
  formats: Pick<SecretFormats, "get">,
): void {
  const config = routeConfig("secrets");

  app.put<{ Params: Static<typeof NameParams>; Body: Static<typeof SetSecretBody> }>(
    "/secrets/:name",
    {
      schema: { body: SetSecretBody, params: NameParams },
      config: config("SecretSet", DataActions.secretsSet, "set"),
    },
    async (request) => {
      const ctx = vaultOf(request);
      const { value, contentType, attributes, tags } = request.body;
      const secret = await secrets.set(ctx.vault, request.params.name, {
        value,
        contentType,
        tags,
        enabled: attributes?.enabled,
        notBefore: optionalDate(attributes?.nbf),
        expiresAt: optionalDate(attributes?.exp),
      });
      return secretBundle(ctx, secret, value);
    },
  );

  // keyvault-api.md §2: `outContentType` converts a certificate's secret (PFX to PEM).
  app.get<{ Params: Static<typeof NameParams>; Querystring: OutContentType }>(
    "/secrets/:name",
    { config: config("SecretGet", DataActions.secretsGet, "get") },
    async (request) => {
      const ctx = vaultOf(request);
      const { name } = request.params;
      const { secret, value } = await formats.get(ctx.vault, name, undefined, request.query.outContentType);
      return secretBundle(ctx, secret, value);
    },
  );

  app.get<{ Params: Static<typeof VersionParams>; Querystring: OutContentType }>(
    "/secrets/:name/:version",
    { config: config("SecretGet", DataActions.secretsGet, "get") },
    async (request) => {
      const ctx = vaultOf(request);
      const { name, version } = request.params;
      const { secret, value } = await formats.get(ctx.vault, name, version, request.query.outContentType);
      return secretBundle(ctx, secret, value);
    },
  );

  const update = async (
    ctx: ReturnType<typeof vaultOf>,
    name: string,
    version: string | undefined,
    body: Static<typeof UpdateSecretBody> | undefined,
  ) => {
    const secret = await secrets.update(ctx.vault, name, version, {
      contentType: body?.contentType,
      tags: body?.tags,
      enabled: body?.attributes?.enabled,
      notBefore: changedDate(body?.attributes?.nbf),
      expiresAt: changedDate(body?.attributes?.exp),
    });
    return secretBundle(ctx, secret);
  };

  app.patch<{ Params: Static<typeof NameParams>; Body: Static<typeof UpdateSecretBody> }>(
    "/secrets/:name",
    { schema: { body: UpdateSecretBody }, config: config("SecretUpdate", DataActions.secretsUpdate, "set") },
    (request) => update(vaultOf(request), request.params.name, undefined, request.body),
  );

  app.patch<{ Params: Static<typeof VersionParams>; Body: Static<typeof UpdateSecretBody> }>(
    "/secrets/:name/:version",
    { schema: { body: UpdateSecretBody }, config: config("SecretUpdate", DataActions.secretsUpdate, "set") },
    (request) => update(vaultOf(request), request.params.name, request.params.version, request.body),
  );

  app.get(
    "/secrets",
    { config: config("SecretList", DataActions.secretsReadMetadata, "list") },
    async (request) => {
      const ctx = vaultOf(request);
      const { after, maxResults } = listQuery(request);
      const page = await secrets.list(ctx.vault, after, maxResults);
      return listResponse(request, ctx.baseUrl, page, (s) => secretItem(ctx, s, false));
    },
  );

  app.get<{ Params: Static<typeof NameParams> }>(
    "/secrets/:name/versions",
    { config: config("SecretListVersions", DataActions.secretsReadMetadata, "list") },
    async (request) => {
      const ctx = vaultOf(request);
      const { after, maxResults } = listQuery(request);
      const page = await secrets.listVersions(ctx.vault, request.params.name, after, maxResults);
      return listResponse(request, ctx.baseUrl, page, (s) => secretItem(ctx, s, true));
    },
  );

  app.delete<{ Params: Static<typeof NameParams> }>(
    "/secrets/:name",
    { config: config("SecretDelete", DataActions.secretsDelete, "delete") },
    async (request) => {
      const ctx = vaultOf(request);
      return deletedSecretBundle(ctx, await secrets.remove(ctx.vault, request.params.name));
    },
  );

  app.get(
    "/deletedsecrets",
    { config: config("SecretListDeleted", DataActions.secretsReadMetadata, "list") },
    async (request) => {
      const ctx = vaultOf(request);
      const { after, maxResults } = listQuery(request);
      const page = await secrets.listDeleted(ctx.vault, after, maxResults);
      return listResponse(request, ctx.baseUrl, page, (d) => deletedSecretItem(ctx, d));
    },
  );

  app.get<{ Params: Static<typeof NameParams> }>(
    "/deletedsecrets/:name",
    { config: config("SecretGetDeleted", DataActions.secretsReadMetadata, "get") },
    async (request) => {
      const ctx = vaultOf(request);
      return deletedSecretBundle(ctx, await secrets.getDeleted(ctx.vault, request.params.name));
    },
  );

  app.post<{ Params: Static<typeof NameParams> }>(
    "/deletedsecrets/:name/recover",
    { config: config("SecretRecover", DataActions.secretsRecover, "recover") },
    async (request) => {
      const ctx = vaultOf(request);
      return secretBundle(ctx, await secrets.recover(ctx.vault, request.params.name));
    },
  );

  app.delete<{ Params: Static<typeof NameParams> }>(
    "/deletedsecrets/:name",
    { config: config("SecretPurge", DataActions.secretsPurge, "purge") },
    async (request, reply) => {
      await secrets.purge(vaultOf(request).vault, request.params.name);
      return reply.status(204).send();
    },
  );

  app.post<{ Params: Static<typeof NameParams> }>(
    "/secrets/:name/backup",
    { config: config("SecretBackup", DataActions.secretsBackup, "backup") },
    async (request) => {
      const blob = await secrets.backup(vaultOf(request).vault, request.params.name);
      return { value: blob.toString("base64url") };
    },
  );

  app.post<{ Body: Static<typeof RestoreBody> }>(
    "/secrets/restore",
    { schema: { body: RestoreBody }, config: config("SecretRestore", DataActions.secretsRestore, "restore") },
    async (request) => {
      const ctx = vaultOf(request);
      const secret = await secrets.restore(ctx.vault, base64url("value", request.body.value));
      return secretBundle(ctx, secret);
    },
  );
}
