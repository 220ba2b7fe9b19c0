import type { AuditEntry } from "../domain/audit/model.js";
import type { AuditChain } from "../domain/audit/ports.js";
import type { MasterKey } from "./master-key.js";
import { nativePrimitives } from "./native-primitives.js";

/**
 * HMAC-SHA256 over the previous hash, the sequence number and the entry's fields in a fixed order.
 * Keyed from the master key, so someone who can write the database still cannot forge a valid chain.
 */
export function createHmacAuditChain(masterKey: MasterKey): AuditChain {
  const key = masterKey.derive("strongroom/audit/v1");
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
