import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { DataActions } from "../../domain/access/data-actions.js";
import { DomainError } from "../../domain/errors.js";
import type { KeyService } from "../../domain/keys/key-service.js";
import type { ImportJwk, RotationAction } from "../../domain/keys/model.js";
import { vaultOf } from "../request-context.js";
import { keyOperationResult, keyWire, rotationPolicyWire } from "./key-wire.js";
import { listQuery, listResponse } from "./paging.js";
import { routeConfig, vaultWideConfig } from "./route-access.js";
import {
  Attributes,
  base64url,
  changedDate,
  type NameParams,
  optionalDate,
  RestoreBody,
  Tags,
} from "./schemas.js";

const CreateKeyBody = Type.Object({
  kty: Type.String(),
  key_size: Type.Optional(Type.Integer()),
  public_exponent: Type.Optional(Type.Integer()),
  key_ops: Type.Optional(Type.Array(Type.String())),
  crv: Type.Optional(Type.String()),
  attributes: Type.Optional(Attributes),
  tags: Type.Optional(Tags),
  release_policy: Type.Optional(Type.Unknown()),
});

const ImportKeyBody = Type.Object({
  key: Type.Object(
    { kty: Type.String(), key_ops: Type.Optional(Type.Array(Type.String())) },
    { additionalProperties: true },
  ),
  Hsm: Type.Optional(Type.Boolean()),
  attributes: Type.Optional(Attributes),
  tags: Type.Optional(Tags),
  release_policy: Type.Optional(Type.Unknown()),
});

const UpdateKeyBody = Type.Object({
  key_ops: Type.Optional(Type.Array(Type.String())),
  attributes: Type.Optional(Attributes),
  tags: Type.Optional(Tags),
  release_policy: Type.Optional(Type.Unknown()),
});

const SignBody = Type.Object({ alg: Type.String(), value: Type.String() });
const VerifyBody = Type.Object({ alg: Type.String(), digest: Type.String(), value: Type.String() });
const CipherBody = Type.Object({
  alg: Type.String(),
  value: Type.String(),
  iv: Type.Optional(Type.String()),
  aad: Type.Optional(Type.String()),
  tag: Type.Optional(Type.String()),
});
const RandomBody = Type.Object({ count: Type.Integer() });

const Trigger = Type.Object({
  timeAfterCreate: Type.Optional(Type.String()),
  timeBeforeExpiry: Type.Optional(Type.String()),
});
const RotationPolicyBody = Type.Object({
  lifetimeActions: Type.Optional(
    Type.Array(Type.Object({ trigger: Trigger, action: Type.Object({ type: Type.String() }) })),
  ),
  attributes: Type.Optional(Type.Object({ expiryTime: Type.Optional(Type.String()) })),
});

type OpParams = { name: string; version?: string };

const optional = (field: string, value: string | undefined) =>
  value === undefined ? undefined : base64url(field, value);

const cipherInput = (b: Static<typeof CipherBody>) => ({
  data: base64url("value", b.value),
  iv: optional("iv", b.iv),
  aad: optional("aad", b.aad),
  tag: optional("tag", b.tag),
});

const releaseUnsupported = () =>
  new DomainError(
    "NotSupported",
    "Secure key release needs an attestation service and release policies, which Strongroom does not provide",
    { reason: "NotSupported" },
  );

function refuseReleasePolicy(body: { release_policy?: unknown } | undefined): void {
  if (body?.release_policy !== undefined) throw releaseUnsupported();
}

const actionType = (type: string): RotationAction =>
  (type.toLowerCase() === "rotate"
    ? "Rotate"
    : type.toLowerCase() === "notify"
      ? "Notify"
      : type) as RotationAction;

/** Key Vault keys (keyvault-api.md §2, Keys). Operation routes exist with and without a version. */
export function registerKeyRoutes(app: FastifyInstance, keys: KeyService): void {
  const config = routeConfig("keys");
  const { keyBundle, keyItem, deletedKeyBundle, deletedKeyItem } = keyWire(keys.hsmPlatform);

  app.post<{ Params: Static<typeof NameParams>; Body: Static<typeof CreateKeyBody> }>(
    "/keys/:name/create",
    { schema: { body: CreateKeyBody }, config: config("KeyCreate", DataActions.keysCreate, "create") },
    async (request) => {
      const ctx = vaultOf(request);
      const b = request.body;
      refuseReleasePolicy(b);
      const key = await keys.create(ctx.vault, request.params.name, {
        kty: b.kty,
        keySize: b.key_size,
        publicExponent: b.public_exponent,
        curve: b.crv,
        keyOps: b.key_ops,
        tags: b.tags,
        enabled: b.attributes?.enabled,
        notBefore: optionalDate(b.attributes?.nbf),
        expiresAt: optionalDate(b.attributes?.exp),
        exportable: b.attributes?.exportable,
      });
      return keyBundle(ctx, key);
    },
  );

  app.put<{ Params: Static<typeof NameParams>; Body: Static<typeof ImportKeyBody> }>(
    "/keys/:name",
    { schema: { body: ImportKeyBody }, config: config("KeyImport", DataActions.keysImport, "import") },
    async (request) => {
      const ctx = vaultOf(request);
      const b = request.body;
      refuseReleasePolicy(b);
      const key = await keys.import(ctx.vault, request.params.name, {
        jwk: b.key as ImportJwk,
        hsm: b.Hsm,
        tags: b.tags,
        enabled: b.attributes?.enabled,
        notBefore: optionalDate(b.attributes?.nbf),
        expiresAt: optionalDate(b.attributes?.exp),
        exportable: b.attributes?.exportable,
      });
      return keyBundle(ctx, key);
    },
  );

  for (const path of ["/keys/:name", "/keys/:name/:version"]) {
    app.get<{ Params: OpParams }>(
      path,
      { config: config("KeyGet", DataActions.keysRead, "get") },
      async (request) => {
        const ctx = vaultOf(request);
        return keyBundle(
          ctx,
          await keys.get(ctx.vault, request.params.name, request.params.version || undefined),
        );
      },
    );

    app.patch<{ Params: OpParams; Body: Static<typeof UpdateKeyBody> | undefined }>(
      path,
      { schema: { body: UpdateKeyBody }, config: config("KeyUpdate", DataActions.keysUpdate, "update") },
      async (request) => {
        const ctx = vaultOf(request);
        const b = request.body;
        refuseReleasePolicy(b);
        const key = await keys.update(ctx.vault, request.params.name, request.params.version || undefined, {
          keyOps: b?.key_ops,
          tags: b?.tags,
          enabled: b?.attributes?.enabled,
          notBefore: changedDate(b?.attributes?.nbf),
          expiresAt: changedDate(b?.attributes?.exp),
        });
        return keyBundle(ctx, key);
      },
    );
  }

  app.get("/keys", { config: config("KeyList", DataActions.keysRead, "list") }, async (request) => {
    const ctx = vaultOf(request);
    const { after, maxResults } = listQuery(request);
    const page = await keys.list(ctx.vault, after, maxResults);
    return listResponse(request, ctx.baseUrl, page, (k) => keyItem(ctx, k, false));
  });

  app.get<{ Params: Static<typeof NameParams> }>(
    "/keys/:name/versions",
    { config: config("KeyListVersions", DataActions.keysRead, "list") },
    async (request) => {
      const ctx = vaultOf(request);
      const { after, maxResults } = listQuery(request);
      const page = await keys.listVersions(ctx.vault, request.params.name, after, maxResults);
      return listResponse(request, ctx.baseUrl, page, (k) => keyItem(ctx, k, true));
    },
  );

  app.delete<{ Params: Static<typeof NameParams> }>(
    "/keys/:name",
    { config: config("KeyDelete", DataActions.keysDelete, "delete") },
    async (request) => {
      const ctx = vaultOf(request);
      return deletedKeyBundle(ctx, await keys.remove(ctx.vault, request.params.name));
    },
  );

  app.get(
    "/deletedkeys",
    { config: config("KeyListDeleted", DataActions.keysRead, "list") },
    async (request) => {
      const ctx = vaultOf(request);
      const { after, maxResults } = listQuery(request);
      const page = await keys.listDeleted(ctx.vault, after, maxResults);
      return listResponse(request, ctx.baseUrl, page, (d) => deletedKeyItem(ctx, d));
    },
  );

  app.get<{ Params: Static<typeof NameParams> }>(
    "/deletedkeys/:name",
    { config: config("KeyGetDeleted", DataActions.keysRead, "get") },
    async (request) => {
      const ctx = vaultOf(request);
      return deletedKeyBundle(ctx, await keys.getDeleted(ctx.vault, request.params.name));
    },
  );

  app.post<{ Params: Static<typeof NameParams> }>(
    "/deletedkeys/:name/recover",
    { config: config("KeyRecover", DataActions.keysRecover, "recover") },
    async (request) => {
      const ctx = vaultOf(request);
      return keyBundle(ctx, await keys.recover(ctx.vault, request.params.name));
    },
  );

  app.delete<{ Params: Static<typeof NameParams> }>(
    "/deletedkeys/:name",
    { config: config("KeyPurge", DataActions.keysPurge, "purge") },
    async (request, reply) => {
      await keys.purge(vaultOf(request).vault, request.params.name);
      return reply.status(204).send();
    },
  );

  app.post<{ Params: Static<typeof NameParams> }>(
    "/keys/:name/backup",
    { config: config("KeyBackup", DataActions.keysBackup, "backup") },
    async (request) => {
      const blob = await keys.backup(vaultOf(request).vault, request.params.name);
      return { value: blob.toString("base64url") };
    },
  );

  app.post<{ Body: Static<typeof RestoreBody> }>(
    "/keys/restore",
    { schema: { body: RestoreBody }, config: config("KeyRestore", DataActions.keysRestore, "restore") },
    async (request) => {
      const ctx = vaultOf(request);
      return keyBundle(ctx, await keys.restore(ctx.vault, base64url("value", request.body.value)));
    },
  );

  app.post<{ Params: Static<typeof NameParams> }>(
    "/keys/:name/rotate",
    { config: config("KeyRotate", DataActions.keysRotate, "rotate") },
    async (request) => {
      const ctx = vaultOf(request);
      return keyBundle(ctx, await keys.rotate(ctx.vault, request.params.name));
    },
  );

  app.get<{ Params: Static<typeof NameParams> }>(
    "/keys/:name/rotationpolicy",
    { config: config("KeyGetRotationPolicy", DataActions.keyRotationPoliciesRead, "getrotationpolicy") },
    async (request) => {
      const ctx = vaultOf(request);
      return rotationPolicyWire(
        ctx,
        request.params.name,
        await keys.getRotationPolicy(ctx.vault, request.params.name),
      );
    },
  );

  app.put<{ Params: Static<typeof NameParams>; Body: Static<typeof RotationPolicyBody> }>(
    "/keys/:name/rotationpolicy",
    {
      schema: { body: RotationPolicyBody },
      config: config("KeyUpdateRotationPolicy", DataActions.keyRotationPoliciesWrite, "setrotationpolicy"),
    },
    async (request) => {
      const ctx = vaultOf(request);
      const b = request.body;
      const policy = await keys.putRotationPolicy(ctx.vault, request.params.name, {
        expiryTime: b.attributes?.expiryTime,
        lifetimeActions: (b.lifetimeActions ?? []).map((a) => ({
          timeAfterCreate: a.trigger.timeAfterCreate,
          timeBeforeExpiry: a.trigger.timeBeforeExpiry,
          action: actionType(a.action.type),
        })),
      });
      return rotationPolicyWire(ctx, request.params.name, policy);
    },
  );

  const target = (request: FastifyRequest<{ Params: OpParams }>) => ({
    ctx: vaultOf(request),
    name: request.params.name,
    version: request.params.version || undefined,
  });

  for (const prefix of ["/keys/:name", "/keys/:name/:version"]) {
    app.post<{ Params: OpParams; Body: Static<typeof SignBody> }>(
      `${prefix}/sign`,
      { schema: { body: SignBody }, config: config("KeySign", DataActions.keysSign, "sign") },
      async (request) => {
        const { ctx, name, version } = target(request);
        const digest = base64url("value", request.body.value);
        const { key, value } = await keys.sign(ctx.vault, name, version, request.body.alg, digest);
        return keyOperationResult(ctx, key, value);
      },
    );

    app.post<{ Params: OpParams; Body: Static<typeof VerifyBody> }>(
      `${prefix}/verify`,
      { schema: { body: VerifyBody }, config: config("KeyVerify", DataActions.keysVerify, "verify") },
      async (request) => {
        const { ctx, name, version } = target(request);
        const b = request.body;
        const valid = await keys.verify(
          ctx.vault,
          name,
          version,
          b.alg,
          base64url("digest", b.digest),
          base64url("value", b.value),
        );
        return { value: valid };
      },
    );

    for (const [segment, op, operation, dataAction, permission] of [
      ["encrypt", "encrypt", "KeyEncrypt", DataActions.keysEncrypt, "encrypt"],
      ["wrapkey", "wrapKey", "KeyWrap", DataActions.keysWrap, "wrapkey"],
    ] as const) {
      app.post<{ Params: OpParams; Body: Static<typeof CipherBody> }>(
        `${prefix}/${segment}`,
        { schema: { body: CipherBody }, config: config(operation, dataAction, permission) },
        async (request) => {
          const { ctx, name, version } = target(request);
          const b = request.body;
          const { key, result } = await keys.encrypt(ctx.vault, name, version, op, b.alg, cipherInput(b));
          return keyOperationResult(ctx, key, result.data, result);
        },
      );
    }

    for (const [segment, op, operation, dataAction, permission] of [
      ["decrypt", "decrypt", "KeyDecrypt", DataActions.keysDecrypt, "decrypt"],
      ["unwrapkey", "unwrapKey", "KeyUnwrap", DataActions.keysUnwrap, "unwrapkey"],
    ] as const) {
      app.post<{ Params: OpParams; Body: Static<typeof CipherBody> }>(
        `${prefix}/${segment}`,
        { schema: { body: CipherBody }, config: config(operation, dataAction, permission) },
        async (request) => {
          const { ctx, name, version } = target(request);
          const b = request.body;
          const { key, data } = await keys.decrypt(ctx.vault, name, version, op, b.alg, cipherInput(b));
          return keyOperationResult(ctx, key, data);
        },
      );
    }

    app.post<{ Params: OpParams }>(
      `${prefix}/release`,
      { config: config("KeyRelease", DataActions.keysRelease, "release") },
      async () => {
        throw releaseUnsupported();
      },
    );

    app.get<{ Params: OpParams }>(
      `${prefix}/attestation`,
      { config: config("KeyGetAttestation", DataActions.keysRead, "get") },
      async () => {
        throw new DomainError(
          "NotSupported",
          "Key attestation is available only from a Managed HSM; Strongroom does not provide it",
          {
            reason: "NotSupported",
          },
        );
      },
    );
  }

  app.post<{ Body: Static<typeof RandomBody> }>(
    "/rng",
    { schema: { body: RandomBody }, config: vaultWideConfig("GetRandomBytes", DataActions.rng) },
    async (request) => ({ value: keys.randomBytes(request.body.count).toString("base64url") }),
  );
}
