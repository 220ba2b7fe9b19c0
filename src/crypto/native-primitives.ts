import { createRequire } from "node:module";

/** One-shot symmetric primitives from native/aes-gcm.c and native/hmac-sha256.c. */
interface NativePrimitives {
  /** AES-256-GCM with a 96-bit nonce; returns ciphertext followed by the 16-byte tag. */
  aesGcmSeal(key: Buffer, nonce: Buffer, plaintext: Buffer, aad?: Buffer): Buffer;
  /** The plaintext, or null when the tag does not authenticate the ciphertext and AAD. */
  aesGcmOpen(key: Buffer, nonce: Buffer, ciphertextAndTag: Buffer, aad?: Buffer): Buffer | null;
  hmacSha256(key: Buffer, data: Buffer): Buffer;
}

// The same addon as native-digest.ts: the C files are linked into one module.
export const nativePrimitives = createRequire(import.meta.url)(
  new URL("../../build/Release/strongroom_crypto.node", import.meta.url).pathname,
) as NativePrimitives;
