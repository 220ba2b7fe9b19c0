import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import type { SecretHasher } from "../domain/access/ports.js";

const N = 16_384;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;

function derive(secret: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, KEY_LENGTH, { N: n, r, p, maxmem: 256 * n * r }, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

/** scrypt with a random 16-byte salt, stored as `scrypt$N$r$p$salt$hash`. */
export function createScryptSecretHasher(): SecretHasher {
  return {
    async hash(secret) {
      const salt = randomBytes(16);
      const key = await derive(secret, salt, N, R, P);
      return ["scrypt", N, R, P, salt.toString("base64"), key.toString("base64")].join("$");
    },
    async verify(secret, stored) {
      const [scheme, n, r, p, salt, hash] = stored.split("$");
      if (scheme !== "scrypt" || !salt || !hash) return false;
      const expected = Buffer.from(hash, "base64");
      const actual = await derive(secret, Buffer.from(salt, "base64"), Number(n), Number(r), Number(p));
      return actual.length === expected.length && timingSafeEqual(actual, expected);
    },
  };
}
