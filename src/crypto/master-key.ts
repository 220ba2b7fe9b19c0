import { createHash, hkdfSync, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

export const MASTER_KEY_BYTES = 32;

/** The installation's root secret; every other at-rest key is derived from it. */
export interface MasterKey {
  /** 8 bytes naming the key, stored beside sealed data so a wrong key is reported, not guessed at. */
  readonly id: Buffer;
  /** A 32-byte key for one purpose, derived with HKDF-SHA256. */
  derive(purpose: string): Buffer;
}

export function masterKeyFrom(bytes: Buffer): MasterKey {
  if (bytes.length !== MASTER_KEY_BYTES) {
    throw new Error(`The master key must be ${MASTER_KEY_BYTES} bytes (base64 encoded), got ${bytes.length}`);
  }
  const secret = Buffer.from(bytes);
  return {
    id: createHash("sha256").update("strongroom master key id").update(secret).digest().subarray(0, 8),
    derive: (purpose) => Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), purpose, 32)),
  };
}

/**
 * Reads the master key from `base64` when given (STRONGROOM_MASTER_KEY), else from `file`, creating the
 * file (mode 0600) on first start. Losing this key loses every sealed value: back it up.
 */
export function loadMasterKey(file: string, base64?: string): { key: MasterKey; created: boolean } {
  if (base64) return { key: masterKeyFrom(Buffer.from(base64, "base64")), created: false };
  if (existsSync(file)) {
    return { key: masterKeyFrom(Buffer.from(readFileSync(file, "utf8").trim(), "base64")), created: false };
  }
  const bytes = randomBytes(MASTER_KEY_BYTES);
  writeFileSync(file, `${bytes.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  return { key: masterKeyFrom(bytes), created: true };
}
