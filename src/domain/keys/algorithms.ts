import { badParameter } from "../errors.js";
import type { CurveName, KeyKind } from "./model.js";

export type SignatureAlgorithm =
  | "RS256"
  | "RS384"
  | "RS512"
  | "PS256"
  | "PS384"
  | "PS512"
  | "ES256"
  | "ES384"
  | "ES512"
  | "ES256K";

export type EncryptionAlgorithm =
  | "RSA1_5"
  | "RSA-OAEP"
  | "RSA-OAEP-256"
  | "A128GCM"
  | "A192GCM"
  | "A256GCM"
  | "A128CBC"
  | "A192CBC"
  | "A256CBC"
  | "A128CBCPAD"
  | "A192CBCPAD"
  | "A256CBCPAD"
  | "A128KW"
  | "A192KW"
  | "A256KW";

export interface SignatureSpec {
  family: "pkcs1" | "pss" | "ecdsa";
  hash: "sha256" | "sha384" | "sha512";
  digestBytes: number;
  curve?: CurveName;
}

/** RFC 7518 §3.1 and Key Vault's ES256K. */
export const SIGNATURE_ALGORITHMS: Record<SignatureAlgorithm, SignatureSpec> = {
  RS256: { family: "pkcs1", hash: "sha256", digestBytes: 32 },
  RS384: { family: "pkcs1", hash: "sha384", digestBytes: 48 },
  RS512: { family: "pkcs1", hash: "sha512", digestBytes: 64 },
  PS256: { family: "pss", hash: "sha256", digestBytes: 32 },
  PS384: { family: "pss", hash: "sha384", digestBytes: 48 },
  PS512: { family: "pss", hash: "sha512", digestBytes: 64 },
  ES256: { family: "ecdsa", hash: "sha256", digestBytes: 32, curve: "P-256" },
  ES384: { family: "ecdsa", hash: "sha384", digestBytes: 48, curve: "P-384" },
  ES512: { family: "ecdsa", hash: "sha512", digestBytes: 64, curve: "P-521" },
  ES256K: { family: "ecdsa", hash: "sha256", digestBytes: 32, curve: "P-256K" },
};

export interface EncryptionSpec {
  kind: KeyKind;
  mode: "rsa1_5" | "oaep" | "gcm" | "cbc" | "cbcpad" | "kw";
  /** AES key size in bits, or the OAEP hash. */
  aesBits?: 128 | 192 | 256;
  oaepHash?: "sha1" | "sha256";
}

const aes = (mode: EncryptionSpec["mode"], aesBits: 128 | 192 | 256): EncryptionSpec => ({
  kind: "oct",
  mode,
  aesBits,
});

export const ENCRYPTION_ALGORITHMS: Record<EncryptionAlgorithm, EncryptionSpec> = {
  RSA1_5: { kind: "RSA", mode: "rsa1_5" },
  "RSA-OAEP": { kind: "RSA", mode: "oaep", oaepHash: "sha1" },
  "RSA-OAEP-256": { kind: "RSA", mode: "oaep", oaepHash: "sha256" },
  A128GCM: aes("gcm", 128),
  A192GCM: aes("gcm", 192),
  A256GCM: aes("gcm", 256),
  A128CBC: aes("cbc", 128),
  A192CBC: aes("cbc", 192),
  A256CBC: aes("cbc", 256),
  A128CBCPAD: aes("cbcpad", 128),
  A192CBCPAD: aes("cbcpad", 192),
  A256CBCPAD: aes("cbcpad", 256),
  A128KW: aes("kw", 128),
  A192KW: aes("kw", 192),
  A256KW: aes("kw", 256),
};

export function signatureSpec(alg: string): SignatureSpec {
  const spec = SIGNATURE_ALGORITHMS[alg as SignatureAlgorithm];
  if (!spec) {
    throw badParameter(
      `Unknown signature algorithm "${alg}"; use one of ${Object.keys(SIGNATURE_ALGORITHMS).join(", ")}`,
    );
  }
  return spec;
}

export function encryptionSpec(alg: string): EncryptionSpec {
  const spec = ENCRYPTION_ALGORITHMS[alg as EncryptionAlgorithm];
  if (!spec) {
    throw badParameter(
      `Unknown encryption algorithm "${alg}"; use one of ${Object.keys(ENCRYPTION_ALGORITHMS).join(", ")}`,
    );
  }
  return spec;
}
