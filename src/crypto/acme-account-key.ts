import { createPrivateKey, generateKeyPairSync, type KeyObject } from "node:crypto";

/** A new ACME account key (ECDSA P-256, signed as ES256) as PKCS#8 DER, to be sealed at once. */
export function generateAcmeAccountKey(): Buffer {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return privateKey.export({ format: "der", type: "pkcs8" });
}

/** The account key from its opened PKCS#8; the buffer is wiped, the key lives only in memory. */
export function loadAcmeAccountKey(pkcs8: Buffer): KeyObject {
  try {
    return createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
  } finally {
    pkcs8.fill(0);
  }
}
