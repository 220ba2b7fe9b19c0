import { createRequire } from "node:module";

/** An OpenSSL EVP_PKEY held by the native module; freed when collected. */
export type NativeKey = { readonly __nativeKey: unique symbol };

/** RSASSA-PKCS1-v1_5, RSASSA-PSS (salt = digest length) or ECDSA (raw r‖s). */
export const SignatureScheme = { Pkcs1: 0, Pss: 1, Ecdsa: 2 } as const;
export type SignatureScheme = (typeof SignatureScheme)[keyof typeof SignatureScheme];

interface NativeDigestCrypto {
  privateKey(pkcs8: Buffer): NativeKey;
  publicKey(spki: Buffer): NativeKey;
  /** Signs a precomputed digest on the libuv thread pool. */
  sign(key: NativeKey, scheme: SignatureScheme, md: string, digest: Buffer): Promise<Buffer>;
  /**
   * Signs on the calling thread: for ECDSA, cheaper than a trip through the thread pool, and for RSA
   * in a worker whose share of the pool is busy.
   */
  signSync(key: NativeKey, scheme: SignatureScheme, md: string, digest: Buffer): Buffer;
  verify(key: NativeKey, scheme: SignatureScheme, md: string, digest: Buffer, signature: Buffer): boolean;
  /** RSAES-PKCS1-v1_5 decryption, which node:crypto refuses since CVE-2023-46809. */
  decryptPkcs1(key: NativeKey, ciphertext: Buffer): Buffer;
  /**
   * Empties the main thread's OpenSSL error queue. A PKCS#11 module linked against OpenSSL shares
   * Node's copy in this process; errors it leaves behind would fail Node's next TLS record.
   */
  clearErrors(): void;
}

// src/crypto and dist/crypto both sit two levels below the project root, beside build/.
export const nativeDigest = createRequire(import.meta.url)(
  new URL("../../build/Release/strongroom_crypto.node", import.meta.url).pathname,
) as NativeDigestCrypto;
