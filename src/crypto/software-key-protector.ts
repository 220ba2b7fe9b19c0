import {
  constants,
  createPrivateKey,
  generateKeyPair,
  type KeyObject,
  privateDecrypt,
  sign,
} from "node:crypto";
import { promisify } from "node:util";
import { badParameter, DomainError } from "../domain/errors.js";
import {
  ENCRYPTION_ALGORITHMS,
  type EncryptionAlgorithm,
  SIGNATURE_ALGORITHMS,
} from "../domain/keys/algorithms.js";
import type { KeyProtector } from "../domain/keys/ports.js";
import type { Sealer } from "../domain/sealing/ports.js";
import type { CryptoPool } from "./crypto-pool.js";
import { ed25519Parts, OPENSSL_CURVE, privateKeyFromJwk, publicParts, rsaBits } from "./jwk.js";
import { type NativeKey, nativeDigest, SignatureScheme } from "./native-digest.js";

const generate = promisify(generateKeyPair);

const SCHEME = {
  pkcs1: SignatureScheme.Pkcs1,
  pss: SignatureScheme.Pss,
  ecdsa: SignatureScheme.Ecdsa,
} as const;

interface Unsealed {
  material: Buffer;
  native: NativeKey;
  /** Parsed by node:crypto only for what the native module does not do (RSA-OAEP, Ed25519). */
  keyObject?: KeyObject;
}

const sealContext = (context: string) => `key/${context}`;

const softwareOnlyAsymmetric = () =>
  badParameter("Symmetric (oct) keys live only in an HSM: use kty oct-HSM in a premium vault");

export interface SoftwareKeyProtectorOptions {
  /** Unsealed keys kept parsed, by sealing context. */
  cacheSize?: number;
  /**
   * RSA signatures this process keeps on libuv's thread pool at once; beyond that it signs on its
   * own thread. Unbounded by default: one process needs the pool to use every core.
   */
  poolSignatures?: number;
  /** Makes new keys on its threads instead of the event loop's. */
  pool?: Pick<CryptoPool, "generateKey">;
}

/**
 * RSA signatures a server process keeps on the thread pool when it runs beside other workers.
 * With one worker per core, RS256 on 2 cores measured 6,300-6,700 signatures/s signing beyond one
 * pooled signature on the event loop, 5,700-6,100 with everything on the pool (four threads in each
 * of two processes contend for two cores) and 5,300-5,500 with everything on the event loop (which
 * then reads no request while it signs).
 */
export const WORKER_POOL_SIGNATURES = 1;

/**
 * Keys generated and used by OpenSSL in this process, stored sealed under the master key. Unsealed
 * keys are kept parsed in memory (bounded), since a versioned key's material never changes.
 */
export function createSoftwareKeyProtector(
  sealer: Sealer,
  { cacheSize = 10_000, poolSignatures = Number.POSITIVE_INFINITY, pool }: SoftwareKeyProtectorOptions = {},
): KeyProtector {
  const cache = new Map<string, Unsealed>();
  let pooled = 0;

  function remember(context: string, entry: Unsealed): Unsealed {
    if (cache.size >= cacheSize && !cache.has(context)) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    cache.set(context, entry);
    return entry;
  }

  function unseal(material: Buffer, context: string): Unsealed {
    const hit = cache.get(context);
    if (hit?.material.equals(material)) return hit;
    const pkcs8 = sealer.open(material, sealContext(context));
    const entry = { material, native: nativeDigest.privateKey(pkcs8) };
    pkcs8.fill(0);
    return remember(context, entry);
  }

  function keyObjectOf(entry: Unsealed, context: string): KeyObject {
    if (!entry.keyObject) {
      const pkcs8 = sealer.open(entry.material, sealContext(context));
      entry.keyObject = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
      pkcs8.fill(0);
    }
    return entry.keyObject;
  }

  function protect(key: KeyObject, context: string, publicKey = publicParts(key)) {
    const pkcs8 = key.export({ format: "der", type: "pkcs8" });
    const material = sealer.seal(pkcs8, sealContext(context));
    // A new key is usually used at once (a certificate's CSR and signature): keep it parsed.
    remember(context, { material, keyObject: key, native: nativeDigest.privateKey(pkcs8) });
    pkcs8.fill(0);
    return { publicKey, keySize: rsaBits(publicKey), material };
  }

  return {
    protection: "software",

    async generate(spec, context) {
      if (spec.kind === "oct") throw softwareOnlyAsymmetric();
      if (pool) {
        // Sealed here, where the master key is; parsed again only when it is first used.
        const { pkcs8, publicKey } = await pool.generateKey(spec);
        try {
          return {
            publicKey,
            keySize: rsaBits(publicKey),
            material: sealer.seal(pkcs8, sealContext(context)),
          };
        } finally {
          pkcs8.fill(0);
        }
      }
      if (spec.kind === "OKP") {
        const { privateKey } = await generate("ed25519");
        return protect(privateKey, context, ed25519Parts(privateKey));
      }
      const { privateKey } =
        spec.kind === "RSA"
          ? await generate("rsa", {
              modulusLength: spec.keySize ?? 2048,
              publicExponent: spec.publicExponent ?? 65537,
            })
          : await generate("ec", { namedCurve: OPENSSL_CURVE[spec.curve ?? "P-256"] });
      return protect(privateKey, context);
    },

    async importJwk(jwk, context) {
      if (jwk.kty.startsWith("oct")) throw softwareOnlyAsymmetric();
      return protect(privateKeyFromJwk(jwk), context);
    },

    async sign(material, context, alg, digest) {
      const spec = SIGNATURE_ALGORITHMS[alg];
      const key = unseal(material, context).native;
      // An ECDSA signature takes tens of microseconds, less than the thread pool's hand-off and
      // wake-up; RSA's take hundreds and go to the pool, so every core signs, up to poolSignatures.
      if (spec.family === "ecdsa" || pooled >= poolSignatures) {
        return nativeDigest.signSync(key, SCHEME[spec.family], spec.hash, digest);
      }
      pooled += 1;
      try {
        return await nativeDigest.sign(key, SCHEME[spec.family], spec.hash, digest);
      } finally {
        pooled -= 1;
      }
    },

    async signMessage(material, context, message) {
      const key = keyObjectOf(unseal(material, context), context);
      // node:crypto would pick a digest for other key types; only PureEdDSA signs the message itself.
      if (key.asymmetricKeyType !== "ed25519") throw badParameter("Only Ed25519 keys sign whole messages");
      return sign(null, message, key);
    },

    async encrypt() {
      throw softwareOnlyAsymmetric();
    },

    async decrypt(material, context, alg: EncryptionAlgorithm, input) {
      const spec = ENCRYPTION_ALGORITHMS[alg];
      const key = unseal(material, context);
      try {
        if (spec.mode === "rsa1_5") return nativeDigest.decryptPkcs1(key.native, input.data);
        if (spec.mode === "oaep") {
          return privateDecrypt(
            {
              key: keyObjectOf(key, context),
              padding: constants.RSA_PKCS1_OAEP_PADDING,
              oaepHash: spec.oaepHash ?? "sha1",
            },
            input.data,
          );
        }
      } catch (cause) {
        throw new DomainError(
          "BadParameter",
          "The ciphertext could not be decrypted with this key and algorithm",
          {
            cause,
          },
        );
      }
      throw softwareOnlyAsymmetric();
    },

    async exportForBackup(material, context) {
      return sealer.open(material, sealContext(context));
    },

    async importFromBackup(pkcs8, context) {
      return sealer.seal(pkcs8, sealContext(context));
    },

    async destroy() {
      // The sealed material is deleted with its row; nothing else holds it.
    },
  };
}
