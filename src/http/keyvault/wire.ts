import type { VersionedObject } from "../../domain/objects/model.js";
import type { DeletedSecret, SecretVersion } from "../../domain/secrets/model.js";
import { recoveryLevel, type Vault } from "../../domain/vaults/model.js";

/** The only place where domain Dates become Key Vault's integer Unix seconds. */
export const unixSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);
export const fromUnixSeconds = (seconds: number): Date => new Date(seconds * 1000);
const optionalSeconds = (date: Date | undefined) => (date === undefined ? undefined : unixSeconds(date));

/** Everything a mapper needs to build absolute object ids: the vault and the origin the client used. */
export interface VaultContext {
  vault: Vault;
  /** `https://host[:port]`, exactly as the client addressed the vault. */
  baseUrl: string;
}

export interface ObjectAttributesWire {
  enabled: boolean;
  nbf?: number;
  exp?: number;
  created: number;
  updated: number;
  recoverableDays: number;
  recoveryLevel: string;
}

/** The attributes every object has: enabled, validity, timestamps and how it is recovered. */
export function objectAttributes(vault: Vault, s: VersionedObject): ObjectAttributesWire {
  const wire: ObjectAttributesWire = {
    enabled: s.enabled,
    created: unixSeconds(s.createdAt),
    updated: unixSeconds(s.updatedAt),
    recoverableDays: vault.softDeleteRetentionDays,
    recoveryLevel: recoveryLevel(vault),
  };
  const nbf = optionalSeconds(s.notBefore);
  const exp = optionalSeconds(s.expiresAt);
  if (nbf !== undefined) wire.nbf = nbf;
  if (exp !== undefined) wire.exp = exp;
  return wire;
}

function common(ctx: VaultContext, s: SecretVersion) {
  return {
    ...(s.contentType !== undefined && { contentType: s.contentType }),
    attributes: objectAttributes(ctx.vault, s),
    tags: s.tags,
    ...(s.keyId !== undefined && { kid: `${ctx.baseUrl}/${s.keyId}` }),
    ...(s.managed && { managed: true }),
  };
}

/** SecretBundle; `value` only where the operation returns it. */
export function secretBundle(ctx: VaultContext, s: SecretVersion, value?: string) {
  return {
    ...(value !== undefined && { value }),
    id: `${ctx.baseUrl}/secrets/${s.name}/${s.version}`,
    ...common(ctx, s),
  };
}

/** SecretItem, as listed: the unversioned id for the latest, the versioned id for a version listing. */
export function secretItem(ctx: VaultContext, s: SecretVersion, versioned: boolean) {
  return {
    id: `${ctx.baseUrl}/secrets/${s.name}${versioned ? `/${s.version}` : ""}`,
    ...common(ctx, s),
  };
}

function deletedFields(ctx: VaultContext, d: DeletedSecret) {
  return {
    recoveryId: `${ctx.baseUrl}/deletedsecrets/${d.latest.name}`,
    deletedDate: unixSeconds(d.deletedAt),
    scheduledPurgeDate: unixSeconds(d.scheduledPurgeAt),
  };
}

export const deletedSecretBundle = (ctx: VaultContext, d: DeletedSecret) => ({
  ...secretBundle(ctx, d.latest),
  ...deletedFields(ctx, d),
});

export const deletedSecretItem = (ctx: VaultContext, d: DeletedSecret) => ({
  ...secretItem(ctx, d.latest, false),
  ...deletedFields(ctx, d),
});
