import { createHash } from "node:crypto";

const DAY = 86_400_000;

/**
 * An `inventory_certificates` row as the inventory writes it for a leaf served as `host`: an EC
 * P-256 certificate of 91 days issued by "CN=Issuing", seen at `at`; `over` changes any column.
 */
export function inventoryRow(host: string, n: number, at: Date, over: Record<string, unknown> = {}) {
  return {
    sha256: createHash("sha256").update(host).digest(),
    der: Buffer.alloc(1),
    subject: `CN=${host}`,
    subject_key: `cn=${host}`,
    issuer: "CN=Issuing",
    serial: n.toString(16),
    not_before: at.getTime() - DAY,
    not_after: at.getTime() + 90 * DAY,
    key_type: "EC",
    key_size: 256,
    curve: "P-256",
    signature_algorithm: "ecdsa-with-SHA256",
    sans: JSON.stringify([{ type: "dns", value: host }]),
    self_signed: 0,
    is_ca: 0,
    ski: null,
    aki: "01",
    issuer_id: null,
    first_seen_at: at.getTime(),
    owner_team: null,
    owner_application: null,
    owner_contact: null,
    owner_origin: null,
    ...over,
  };
}
