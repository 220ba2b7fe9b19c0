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

interface SecretWire {
  value?: string;
  id: string;
  contentType?: string;
  attributes: ObjectAttributesWire;
  tags: Record<string, string>;
  kid?: string;
  managed?: true;
}

// Assigned field by field rather than spread from conditional objects: a secret read is the hottest
// response there is, and spreading allocates and copies an object per optional field.
function secretWire(ctx: VaultContext, s: SecretVersion, id: string, value?: string): SecretWire {
  const wire: SecretWire =
    value === undefined
      ? { id, attributes: objectAttributes(ctx.vault, s), tags: s.tags }
      : { value, id, attributes: objectAttributes(ctx.vault, s), tags: s.tags };
  if (s.contentType !== undefined) wire.contentType = s.contentType;
  if (s.keyId !== undefined) wire.kid = `${ctx.baseUrl}/${s.keyId}`;
  if (s.managed) wire.managed = true;
  return wire;
}

/** SecretBundle; `value` only where the operation returns it. */
export function secretBundle(ctx: VaultContext, s: SecretVersion, value?: string) {
  return secretWire(ctx, s, `${ctx.baseUrl}/secrets/${s.name}/${s.version}`, value);
}

/** SecretItem, as listed: the unversioned id for the latest, the versioned id for a version listing. */
export function secretItem(ctx: VaultContext, s: SecretVersion, versioned: boolean) {
  return secretWire(ctx, s, `${ctx.baseUrl}/secrets/${s.name}${versioned ? `/${s.version}` : ""}`);
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
