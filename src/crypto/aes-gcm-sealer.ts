import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { Sealer } from "../domain/sealing/ports.js";
import type { MasterKey } from "./master-key.js";

const FORMAT = 1;
const KEY_ID = 8;
const NONCE = 12;
const TAG = 16;
const DATA_KEY = 32;
const HEADER = 1 + KEY_ID + NONCE + DATA_KEY + TAG + NONCE;

function encrypt(key: Buffer, nonce: Buffer, plaintext: Uint8Array, aad?: Buffer): Buffer[] {
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  if (aad) cipher.setAAD(aad);
  return [cipher.update(plaintext), cipher.final(), cipher.getAuthTag()];
}

function decrypt(key: Buffer, nonce: Buffer, ciphertext: Buffer, tag: Buffer, aad?: Buffer): Buffer {
  const decipher = createDecipheriv("aes-256-gcm", key, nonce);
  if (aad) decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}

/**
 * Envelope encryption with AES-256-GCM: each value gets a fresh data key, itself sealed under a key
 * derived from the master key. Layout: format | master key id | wrap nonce | wrapped data key | wrap
 * tag | data nonce | ciphertext | data tag.
 */
export function createAesGcmSealer(masterKey: MasterKey): Sealer {
  const wrappingKey = masterKey.derive("strongroom/seal/v1");
  return {
    seal(plaintext, context) {
      const dataKey = randomBytes(DATA_KEY);
      const wrapNonce = randomBytes(NONCE);
      const dataNonce = randomBytes(NONCE);
      const wrapped = encrypt(wrappingKey, wrapNonce, dataKey);
      const sealed = encrypt(dataKey, dataNonce, plaintext, Buffer.from(context, "utf8"));
      return Buffer.concat([Buffer.of(FORMAT), masterKey.id, wrapNonce, ...wrapped, dataNonce, ...sealed]);
    },

    open(sealedBytes, context) {
      const sealed = Buffer.from(sealedBytes.buffer, sealedBytes.byteOffset, sealedBytes.byteLength);
      if (sealed.length < HEADER + TAG || sealed[0] !== FORMAT) throw new Error("Not a sealed value");
      if (!sealed.subarray(1, 1 + KEY_ID).equals(masterKey.id)) {
        throw new Error("The value was sealed under a different master key");
      }
      const wrapAt = 1 + KEY_ID;
      const wrapNonce = sealed.subarray(wrapAt, wrapAt + NONCE);
      const wrappedKey = sealed.subarray(wrapAt + NONCE, wrapAt + NONCE + DATA_KEY);
      const wrapTag = sealed.subarray(wrapAt + NONCE + DATA_KEY, wrapAt + NONCE + DATA_KEY + TAG);
      const dataNonce = sealed.subarray(HEADER - NONCE, HEADER);
      const ciphertext = sealed.subarray(HEADER, sealed.length - TAG);
      const dataTag = sealed.subarray(sealed.length - TAG);
      const dataKey = decrypt(wrappingKey, wrapNonce, wrappedKey, wrapTag);
      return decrypt(dataKey, dataNonce, ciphertext, dataTag, Buffer.from(context, "utf8"));
    },
  };
}
