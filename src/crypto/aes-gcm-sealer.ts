import type { Sealer } from "../domain/sealing/ports.js";
import type { MasterKey } from "./master-key.js";
import { nativePrimitives } from "./native-primitives.js";
import { secretRandom } from "./secret-random.js";

const FORMAT = 1;
const KEY_ID = 8;
const NONCE = 12;
const TAG = 16;
const DATA_KEY = 32;
const HEADER = 1 + KEY_ID + NONCE + DATA_KEY + TAG + NONCE;

/**
 * Envelope encryption with AES-256-GCM: each value gets a fresh data key, itself sealed under a key
 * derived from the master key. Layout: format | master key id | wrap nonce | wrapped data key | wrap
 * tag | data nonce | ciphertext | data tag.
 */
export function createAesGcmSealer(masterKey: MasterKey, dataKeyCacheSize = 10_000): Sealer {
  const wrappingKey = masterKey.derive("strongroom/seal/v1");
  // Unwrapped data keys by their wrapped form, as envelope-encryption libraries cache them: a value
  // read again costs one decryption, not two. They stay in memory beside the master key that unwraps
  // them anyway; the values they open are never kept.
  const dataKeys = new Map<string, Buffer>();

  /** The data key in a sealed value's header (format, key id, wrap nonce, wrapped key, wrap tag). */
  function unwrap(header: Buffer): Buffer | null {
    const id = header.toString("base64");
    const hit = dataKeys.get(id);
    if (hit) return hit;
    const wrapAt = 1 + KEY_ID;
    const dataKey = nativePrimitives.aesGcmOpen(
      wrappingKey,
      header.subarray(wrapAt, wrapAt + NONCE),
      header.subarray(wrapAt + NONCE),
    );
    if (!dataKey) return null;
    if (dataKeys.size >= dataKeyCacheSize) {
      const oldest = dataKeys.keys().next().value;
      if (oldest !== undefined) dataKeys.delete(oldest);
    }
    dataKeys.set(id, dataKey);
    return dataKey;
  }

  return {
    seal(plaintext, context) {
      // One random draw for the data key and both nonces.
      const fresh = secretRandom(DATA_KEY + 2 * NONCE);
      const dataKey = fresh.subarray(0, DATA_KEY);
      const wrapNonce = fresh.subarray(DATA_KEY, DATA_KEY + NONCE);
      const dataNonce = fresh.subarray(DATA_KEY + NONCE);
      const wrapped = nativePrimitives.aesGcmSeal(wrappingKey, wrapNonce, dataKey);
      const sealed = nativePrimitives.aesGcmSeal(
        dataKey,
        dataNonce,
        Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength),
        Buffer.from(context, "utf8"),
      );
      dataKey.fill(0);
      return Buffer.concat([Buffer.of(FORMAT), masterKey.id, wrapNonce, wrapped, dataNonce, sealed]);
    },

    open(sealedBytes, context) {
      const sealed = Buffer.from(sealedBytes.buffer, sealedBytes.byteOffset, sealedBytes.byteLength);
      if (sealed.length < HEADER + TAG || sealed[0] !== FORMAT) throw new Error("Not a sealed value");
      if (!sealed.subarray(1, 1 + KEY_ID).equals(masterKey.id)) {
        throw new Error("The value was sealed under a different master key");
      }
      const dataKey = unwrap(sealed.subarray(0, HEADER - NONCE));
      const value =
        dataKey &&
        nativePrimitives.aesGcmOpen(
          dataKey,
          sealed.subarray(HEADER - NONCE, HEADER),
          sealed.subarray(HEADER),
          Buffer.from(context, "utf8"),
        );
      if (!value)
        throw new Error("The sealed value does not authenticate: altered, or sealed for another object");
      return value;
    },
  };
}
