import {
  constants,
  createCipheriv,
  createPublicKey,
  type KeyObject,
  publicEncrypt,
  randomBytes,
} from "node:crypto";
import type { JsonWebKey, KeyVaultKey } from "@azure/keyvault-keys";

const b64 = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString("base64url");

/** The public key as node:crypto sees it, independently of the server. */
export function nodePublicKey(key: KeyVaultKey): KeyObject {
  const jwk = key.key as JsonWebKey;
  if (jwk.kty?.startsWith("RSA"))
    return createPublicKey({ key: { kty: "RSA", n: b64(jwk.n), e: b64(jwk.e) }, format: "jwk" });
  const crv = jwk.crv === "P-256K" ? "secp256k1" : (jwk.crv ?? "");
  return createPublicKey({ key: { kty: "EC", crv, x: b64(jwk.x), y: b64(jwk.y) }, format: "jwk" });
}

/** A JWK from node:crypto as the SDK takes it: every member but kty and crv as bytes. */
export const sdkJwk = (jwk: Record<string, unknown>): JsonWebKey =>
  Object.fromEntries(
    Object.entries(jwk).map(([k, v]) => [
      k,
      k === "kty" || k === "crv" ? v : Buffer.from(String(v), "base64url"),
    ]),
  ) as JsonWebKey;

/**
 * What an HSM vendor's BYOK tool writes for a target key (CKM_RSA_AES_KEY_WRAP): a fresh AES-256
 * transport key under the KEK's public key with RSA-OAEP-SHA1, then the target's PKCS#8 under the
 * transport key with RFC 5649 key wrap with padding.
 */
export function byokBlob(kek: KeyVaultKey, target: KeyObject) {
  const transportKey = randomBytes(32);
  const wrappedTransport = publicEncrypt(
    { key: nodePublicKey(kek), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" },
    transportKey,
  );
  const kwp = createCipheriv("id-aes256-wrap-pad", transportKey, Buffer.from("a65959a6", "hex"));
  const pkcs8 = target.export({ format: "der", type: "pkcs8" });
  const wrappedKey = Buffer.concat([kwp.update(pkcs8), kwp.final()]);
  return {
    transportKey,
    wrappedTransport,
    wrappedKey,
    blob: {
      schema_version: "1.0.0",
      header: { kid: kek.id, alg: "dir", enc: "CKM_RSA_AES_KEY_WRAP" },
      ciphertext: Buffer.concat([wrappedTransport, wrappedKey]).toString("base64url"),
      generator: "strongroom test",
    },
  };
}
