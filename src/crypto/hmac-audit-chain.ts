import type { AuditEntry } from "../domain/audit/model.js";
import type { AuditChain } from "../domain/audit/ports.js";
import type { MasterKey } from "./master-key.js";
import { nativePrimitives } from "./native-primitives.js";

/** The purpose the chain's key is derived from the master key for. */
const AUDIT_KEY_PURPOSE = "strongroom/audit/v1";

/** The chain's key: all a thread that writes audited changes needs, rather than the master key. */
export const auditChainKey = (masterKey: MasterKey): Buffer => masterKey.derive(AUDIT_KEY_PURPOSE);

/**
 * HMAC-SHA256 over the previous hash, the sequence number and the entry's fields in a fixed order.
 * Keyed from the master key, so someone who can write the database still cannot forge a valid chain.
 */
export function createHmacAuditChain(masterKey: MasterKey): AuditChain {
  return hmacAuditChain(auditChainKey(masterKey));
}

/** The chain keyed by `key` (auditChainKey). */
export function hmacAuditChain(key: Buffer): AuditChain {
  return {
    link(prevHash, seq, e: AuditEntry) {
      const fields = [
        prevHash,
        seq,
        e.time.getTime(),
        e.requestId,
        e.principalId ?? null,
        e.clientId ?? null,
        e.vault ?? null,
        e.operation,
        e.objectId ?? null,
        e.version ?? null,
        e.outcome,
        e.status,
        e.clientAddress,
        e.detail ?? null,
      ];
      return nativePrimitives.hmacSha256(key, Buffer.from(JSON.stringify(fields), "utf8")).toString("hex");
    },
    mac(label, ...parts) {
      // The label keeps a head's MAC from ever equalling a change's or a row's link.
      return nativePrimitives
        .hmacSha256(key, Buffer.from(JSON.stringify([`strongroom/audit/${label}`, ...parts]), "utf8"))
        .toString("hex");
    },
  };
}
