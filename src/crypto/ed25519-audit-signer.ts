import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from "node:crypto";
import type { AuditSigner } from "../domain/audit/ports.js";
import type { Sealer } from "../domain/sealing/ports.js";

const CONTEXT = "settings/audit-signing-key";

/** A fresh Ed25519 installation key, PKCS#8 DER sealed under the master key. */
export function newSealedAuditKey(sealer: Sealer): Buffer {
  const { privateKey } = generateKeyPairSync("ed25519");
  return sealer.seal(privateKey.export({ format: "der", type: "pkcs8" }), CONTEXT);
}

/** Signs checkpoints with the installation's Ed25519 key; its private half is only ever held sealed at rest. */
export function createEd25519AuditSigner(sealer: Sealer, sealedKey: Uint8Array): AuditSigner {
  const privateKey = createPrivateKey({ key: sealer.open(sealedKey, CONTEXT), format: "der", type: "pkcs8" });
  const publicKey = createPublicKey(privateKey).export({ format: "der", type: "spki" }).toString("base64");
  return {
    publicKey,
    sign: (message) => sign(null, Buffer.from(message, "utf8"), privateKey).toString("base64"),
    verify: (message, signature, key) => checkpointSignatureValid(message, signature, key),
  };
}

/** Checks an Ed25519 signature against a public key given as SPKI DER base64. */
export function checkpointSignatureValid(message: string, signature: string, publicKey: string): boolean {
  try {
    const key = createPublicKey({ key: Buffer.from(publicKey, "base64"), format: "der", type: "spki" });
    return verify(null, Buffer.from(message, "utf8"), key, Buffer.from(signature, "base64"));
  } catch {
    return false;
  }
}
