import { wireKty } from "../../domain/keys/key-service.js";
import type { DeletedKey, KeyVersion, RotationPolicy } from "../../domain/keys/model.js";
import type { CipherOutput } from "../../domain/keys/ports.js";
import { objectAttributes, unixSeconds, type VaultContext } from "./wire.js";

const keyId = (ctx: VaultContext, k: KeyVersion, versioned = true) =>
  `${ctx.baseUrl}/keys/${k.name}${versioned ? `/${k.version}` : ""}`;

/**
 * KeyBundle, KeyItem and their deleted forms. HSM keys carry `hsmPlatform`, as Key Vault's do; here
 * it names the configured token's maker and model rather than one of Azure's HSM fleets.
 */
export function keyWire(hsmPlatform: string | undefined) {
  function attributes(ctx: VaultContext, k: KeyVersion) {
    return {
      ...objectAttributes(ctx.vault, k),
      exportable: k.exportable,
      ...(k.protection === "hsm" && hsmPlatform !== undefined && { hsmPlatform }),
    };
  }

  /** The public JWK only: `d`, `p`, `q`, `dp`, `dq`, `qi` and `k` never appear. */
  function keyBundle(ctx: VaultContext, k: KeyVersion) {
    return {
      key: { kid: keyId(ctx, k), kty: wireKty(k), key_ops: k.keyOps, ...k.publicKey },
      attributes: attributes(ctx, k),
      tags: k.tags,
      ...(k.managed && { managed: true }),
    };
  }

  function keyItem(ctx: VaultContext, k: KeyVersion, versioned: boolean) {
    return {
      kid: keyId(ctx, k, versioned),
      attributes: attributes(ctx, k),
      tags: k.tags,
      ...(k.managed && { managed: true }),
    };
  }

  return {
    keyBundle,
    keyItem,
    deletedKeyBundle: (ctx: VaultContext, d: DeletedKey) => ({
      ...keyBundle(ctx, d.latest),
      ...deletedFields(ctx, d),
    }),
    deletedKeyItem: (ctx: VaultContext, d: DeletedKey) => ({
      ...keyItem(ctx, d.latest, false),
      ...deletedFields(ctx, d),
    }),
  };
}

function deletedFields(ctx: VaultContext, d: DeletedKey) {
  return {
    recoveryId: `${ctx.baseUrl}/deletedkeys/${d.latest.name}`,
    deletedDate: unixSeconds(d.deletedAt),
    scheduledPurgeDate: unixSeconds(d.scheduledPurgeAt),
  };
}

/** KeyOperationResult (encrypt, decrypt, sign, wrapKey, unwrapKey): base64url fields. */
export function keyOperationResult(
  ctx: VaultContext,
  k: KeyVersion,
  value: Buffer,
  extra: Omit<CipherOutput, "data"> = {},
) {
  return {
    kid: keyId(ctx, k),
    value: value.toString("base64url"),
    ...(extra.iv && { iv: extra.iv.toString("base64url") }),
    ...(extra.tag && { tag: extra.tag.toString("base64url") }),
    ...(extra.aad && { aad: extra.aad.toString("base64url") }),
  };
}

export function rotationPolicyWire(ctx: VaultContext, name: string, p: RotationPolicy) {
  return {
    id: `${ctx.baseUrl}/keys/${name}/rotationpolicy`,
    lifetimeActions: p.lifetimeActions.map((a) => ({
      trigger: {
        ...(a.timeAfterCreate !== undefined && { timeAfterCreate: a.timeAfterCreate }),
        ...(a.timeBeforeExpiry !== undefined && { timeBeforeExpiry: a.timeBeforeExpiry }),
      },
      action: { type: a.action },
    })),
    attributes: {
      ...(p.expiryTime !== undefined && { expiryTime: p.expiryTime }),
      ...(p.createdAt && { created: unixSeconds(p.createdAt) }),
      ...(p.updatedAt && { updated: unixSeconds(p.updatedAt) }),
    },
  };
}
