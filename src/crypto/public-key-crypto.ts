import { constants, publicEncrypt } from "node:crypto";
import { badParameter } from "../domain/errors.js";
import { ENCRYPTION_ALGORITHMS, SIGNATURE_ALGORITHMS } from "../domain/keys/algorithms.js";
import type { PublicKeyParts } from "../domain/keys/model.js";
import type { PublicKeyCrypto } from "../domain/keys/ports.js";
import { publicKeyFromParts } from "./jwk.js";
import { type NativeKey, nativeDigest, SignatureScheme } from "./native-digest.js";

const SCHEME = {
  pkcs1: SignatureScheme.Pkcs1,
  pss: SignatureScheme.Pss,
  ecdsa: SignatureScheme.Ecdsa,
} as const;

/** Verification and public-key encryption: nothing secret, so they run here for software and HSM keys alike. */
export function createPublicKeyCrypto(cacheSize = 10_000): PublicKeyCrypto {
  const cache = new Map<string, NativeKey>();
  const nativeKey = (parts: PublicKeyParts): NativeKey => {
    const id = parts.n ?? `${parts.x}.${parts.y}`;
    let key = cache.get(id);
    if (!key) {
      key = nativeDigest.publicKey(publicKeyFromParts(parts).export({ format: "der", type: "spki" }));
      if (cache.size >= cacheSize) {
        const oldest = cache.keys().next().value;
        if (oldest !== undefined) cache.delete(oldest);
      }
      cache.set(id, key);
    }
    return key;
  };

  return {
    verify(parts, alg, digest, signature) {
      const spec = SIGNATURE_ALGORITHMS[alg];
      return nativeDigest.verify(nativeKey(parts), SCHEME[spec.family], spec.hash, digest, signature);
    },
    encrypt(parts, alg, plaintext) {
      const spec = ENCRYPTION_ALGORITHMS[alg];
      const key = publicKeyFromParts(parts);
      try {
        return publicEncrypt(
          spec.mode === "rsa1_5"
            ? { key, padding: constants.RSA_PKCS1_PADDING }
            : { key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: spec.oaepHash ?? "sha1" },
          plaintext,
        );
      } catch {
        throw badParameter(
          `The plaintext is too long for ${alg} with a ${Buffer.from(parts.n ?? "", "base64url").length * 8}-bit key`,
        );
      }
    },
  };
}
