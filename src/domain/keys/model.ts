import type { Tags } from "../tags.js";

export type KeyKind = "RSA" | "EC" | "oct";
/** Where the private part lives: sealed in the database, or inside the HSM and never outside it. */
export type Protection = "software" | "hsm";
export type CurveName = "P-256" | "P-384" | "P-521" | "P-256K";
/**
 * RFC 8037 OKP curves. Protectors hold Ed25519 keys for private CAs only: Key Vault's key API has
 * no OKP type, and its kty and crv parsers refuse one.
 */
export type EdwardsCurve = "Ed25519";
export type KeyOperation =
  | "encrypt"
  | "decrypt"
  | "sign"
  | "verify"
  | "wrapKey"
  | "unwrapKey"
  | "import"
  | "export";

export const KEY_OPERATIONS: readonly KeyOperation[] = [
  "encrypt",
  "decrypt",
  "sign",
  "verify",
  "wrapKey",
  "unwrapKey",
  "import",
  "export",
];
export const CURVES: readonly CurveName[] = ["P-256", "P-384", "P-521", "P-256K"];
export const RSA_SIZES = [2048, 3072, 4096] as const;
export const AES_SIZES = [128, 192, 256] as const;

/** The public half as JWK members (base64url), absent for symmetric keys; Ed25519 has no `y`. */
export interface PublicKeyParts {
  n?: string;
  e?: string;
  crv?: CurveName | EdwardsCurve;
  x?: string;
  y?: string;
}

/** The bit length of an RSA modulus given as base64url (a JWK's `n`), leading zero bytes aside. */
export function modulusBits(n: string): number {
  const modulus = Buffer.from(n, "base64url");
  const first = modulus.findIndex((byte) => byte !== 0);
  return first < 0 ? 0 : (modulus.length - first - 1) * 8 + (modulus[first] ?? 0).toString(2).length;
}

export interface KeyVersion {
  vaultId: string;
  name: string;
  version: string;
  kind: KeyKind;
  protection: Protection;
  keySize?: number | undefined;
  curve?: CurveName | undefined;
  keyOps: KeyOperation[];
  publicKey: PublicKeyParts;
  enabled: boolean;
  notBefore?: Date | undefined;
  expiresAt?: Date | undefined;
  exportable: boolean;
  tags: Tags;
  /** Set for the key that backs a certificate. */
  managed: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** A version as stored: `material` is the protector's opaque handle (sealed key or HSM object id). */
export interface StoredKeyVersion extends KeyVersion {
  material: Buffer;
}

export interface DeletedKey {
  latest: KeyVersion;
  deletedAt: Date;
  scheduledPurgeAt: Date;
}

export type RotationAction = "Rotate" | "Notify";

export interface LifetimeAction {
  /** ISO 8601 durations, e.g. P90D; exactly one is set. */
  timeAfterCreate?: string | undefined;
  timeBeforeExpiry?: string | undefined;
  action: RotationAction;
}

export interface RotationPolicy {
  lifetimeActions: LifetimeAction[];
  /** ISO 8601 duration after which new versions expire, e.g. P1Y. */
  expiryTime?: string | undefined;
  createdAt?: Date | undefined;
  updatedAt?: Date | undefined;
}

export type KeyCreateSpec =
  | {
      kind: KeyKind;
      protection: Protection;
      keySize?: number | undefined;
      publicExponent?: number | undefined;
      curve?: CurveName | undefined;
    }
  | { kind: "OKP"; protection: Protection; curve: EdwardsCurve };

/** A JWK as clients import it, private members included (RFC 7517, RFC 7518 §6). */
export interface ImportJwk {
  kty: string;
  n?: string;
  e?: string;
  d?: string;
  p?: string;
  q?: string;
  dp?: string;
  dq?: string;
  qi?: string;
  crv?: string;
  x?: string;
  y?: string;
  k?: string;
  key_hsm?: string;
  key_ops?: string[];
}

export interface KeyAttributesInput {
  enabled?: boolean | undefined;
  notBefore?: Date | undefined;
  expiresAt?: Date | undefined;
  exportable?: boolean | undefined;
}

export interface KeyUpdate {
  /** Validated against the key's type by the service. */
  keyOps?: string[] | undefined;
  tags?: Tags | undefined;
  enabled?: boolean | undefined;
  notBefore?: Date | null | undefined;
  expiresAt?: Date | null | undefined;
}
