import { randomBytes } from "node:crypto";
import type { Sealer } from "../domain/sealing/ports.js";
import type { MasterKey } from "./master-key.js";
import { nativePrimitives } from "./native-primitives.js";

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
export function createAesGcmSealer(masterKey: MasterKey): Sealer {
  const wrappingKey = masterKey.derive("strongroom/seal/v1");
  return {
    seal(plaintext, context) {
      // One random draw for the data key and both nonces.
      const fresh = randomBytes(DATA_KEY + 2 * NONCE);
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
      const wrapAt = 1 + KEY_ID;
      const wrapNonce = sealed.subarray(wrapAt, wrapAt + NONCE);
      const wrappedKey = sealed.subarray(wrapAt + NONCE, HEADER - NONCE);
      const dataNonce = sealed.subarray(HEADER - NONCE, HEADER);
      const dataKey = nativePrimitives.aesGcmOpen(wrappingKey, wrapNonce, wrappedKey);
      const value =
        dataKey &&
        nativePrimitives.aesGcmOpen(
          dataKey,
          dataNonce,
          sealed.subarray(HEADER),
          Buffer.from(context, "utf8"),
        );
      dataKey?.fill(0);
      if (!value)
        throw new Error("The sealed value does not authenticate: altered, or sealed for another object");
      return value;
    },
  };
}
