import { createRequire } from "node:module";

interface NativeAesGcm {
  /** AES-256-GCM with a 96-bit nonce; returns ciphertext followed by the 16-byte tag. */
  aesGcmSeal(key: Buffer, nonce: Buffer, plaintext: Buffer, aad?: Buffer): Buffer;
  /** The plaintext, or null when the tag does not authenticate the ciphertext and AAD. */
  aesGcmOpen(key: Buffer, nonce: Buffer, ciphertextAndTag: Buffer, aad?: Buffer): Buffer | null;
}

// The same addon as native-digest.ts (native/aes-gcm.c is linked into it).
export const nativeAesGcm = createRequire(import.meta.url)(
  new URL("../../build/Release/strongroom_crypto.node", import.meta.url).pathname,
) as NativeAesGcm;
