import { badParameter } from "../../domain/errors.js";
import { parseDuration } from "../../domain/inventory/inventory-service.js";
import type { InventoryQuery, InventoryRecord, InventorySort } from "../../domain/inventory/model.js";
import type { ObservationSource } from "../../domain/inventory/observation.js";

/** The filters by their wire names, shared by the admin API's query string and the CLI's flags. */
export interface InventoryFilters {
  expiringWithin?: string | undefined;
  expired?: string | boolean | undefined;
  issuer?: string | undefined;
  subject?: string | undefined;
  san?: string | undefined;
  keyType?: string | undefined;
  minKeySize?: string | undefined;
  keySizeBelow?: string | undefined;
  signatureAlgorithm?: string | undefined;
  source?: string | undefined;
  location?: string | undefined;
  owner?: string | undefined;
  sort?: string | undefined;
  limit?: string | undefined;
  cursor?: string | undefined;
}

function wholeNumber(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw badParameter(`${name} must be a whole number, not "${value}"`);
  return Number(value);
}

function flag(value: string | boolean | undefined, name: string): boolean | undefined {
  if (value === undefined || typeof value === "boolean") return value;
  if (value === "true" || value === "") return true;
  if (value === "false") return false;
  throw badParameter(`${name} must be true or false, not "${value}"`);
}

export function inventoryQuery(f: InventoryFilters): InventoryQuery {
  return {
    expiringWithinMs: f.expiringWithin === undefined ? undefined : parseDuration(f.expiringWithin),
    expired: flag(f.expired, "expired"),
    issuer: f.issuer,
    subject: f.subject,
    san: f.san,
    keyType: f.keyType,
    minKeySize: wholeNumber(f.minKeySize, "minKeySize"),
    keySizeBelow: wholeNumber(f.keySizeBelow, "keySizeBelow"),
    signatureAlgorithm: f.signatureAlgorithm,
    source: f.source as ObservationSource | undefined,
    location: f.location,
    owner: f.owner,
    sort: f.sort as InventorySort | undefined,
    limit: wholeNumber(f.limit, "limit"),
    cursor: f.cursor,
  };
}

/** One record as the admin API and `strongroom inventory --json` show it. */
export function inventoryItem(r: InventoryRecord) {
  return {
    fingerprintSha256: r.fingerprintSha256,
    subject: r.subject,
    issuer: r.issuer,
    serialNumber: r.serialNumber,
    notBefore: r.notBefore.toISOString(),
    notAfter: r.notAfter.toISOString(),
    keyType: r.keyType,
    ...(r.keySize !== undefined && { keySize: r.keySize }),
    ...(r.curve !== undefined && { curve: r.curve }),
    signatureAlgorithm: r.signatureAlgorithm,
    sans: r.sans,
    selfSigned: r.selfSigned,
    isCa: r.isCa,
    ...(r.subjectKeyId !== undefined && { subjectKeyId: r.subjectKeyId }),
    ...(r.authorityKeyId !== undefined && { authorityKeyId: r.authorityKeyId }),
    ...(r.issuerFingerprintSha256 !== undefined && { issuerFingerprintSha256: r.issuerFingerprintSha256 }),
    ...(r.owner !== undefined && { owner: r.owner }),
    firstSeenAt: r.firstSeenAt.toISOString(),
    locations: r.locations.map((l) => ({
      uri: l.uri,
      source: l.source,
      firstSeenAt: l.firstSeenAt.toISOString(),
      lastSeenAt: l.lastSeenAt.toISOString(),
      ...(l.goneAt !== undefined && { goneAt: l.goneAt.toISOString() }),
      ...(l.detail !== undefined && { detail: l.detail }),
    })),
  };
}

export const CSV_HEADER = [
  "fingerprintSha256",
  "subject",
  "issuer",
  "serialNumber",
  "notBefore",
  "notAfter",
  "keyType",
  "keySize",
  "curve",
  "signatureAlgorithm",
  "sans",
  "selfSigned",
  "ownerTeam",
  "ownerApplication",
  "ownerContact",
  "locations",
];

/** RFC 4180: fields with a comma, quote or line break are quoted, quotes doubled. */
const field = (value: string | number | boolean | undefined) => {
  const text = value === undefined ? "" : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

/** One CSV line (CRLF-terminated, RFC 4180); SANs and live locations joined with spaces. */
export function csvLine(r: InventoryRecord): string {
  return `${[
    r.fingerprintSha256,
    r.subject,
    r.issuer,
    r.serialNumber,
    r.notBefore.toISOString(),
    r.notAfter.toISOString(),
    r.keyType,
    r.keySize,
    r.curve,
    r.signatureAlgorithm,
    r.sans.map((s) => `${s.type}:${s.value}`).join(" "),
    r.selfSigned,
    r.owner?.team,
    r.owner?.application,
    r.owner?.contact,
    r.locations
      .filter((l) => l.goneAt === undefined)
      .map((l) => l.uri)
      .join(" "),
  ]
    .map(field)
    .join(",")}\r\n`;
}

export const csvHeader = () => `${CSV_HEADER.join(",")}\r\n`;
