import type { ObservationSource } from "./observation.js";

/** One subject alternative name, as RFC 5280 §4.2.1.6 types it. */
export interface SubjectAltName {
  type: "dns" | "ip" | "email" | "uri";
  value: string;
}

/** What the inventory reads out of a certificate's DER once, when it first sees it. */
export interface CertificateFacts {
  /** Lower-case hex SHA-256 of the DER: the record's key. */
  fingerprintSha256: string;
  /** RFC 4514-style, attributes in the order the certificate holds them: `CN=a, O=b`. */
  subject: string;
  issuer: string;
  /** Lower-case hex of the serial's value bytes. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** `RSA`, `EC`, `Ed25519`, `Ed448`, `DSA`, or the algorithm's OID when unknown. */
  keyType: string;
  /** Modulus bits for RSA and DSA, the curve's order bits for EC and EdDSA. */
  keySize?: number | undefined;
  /** `P-256`, `P-384`, `P-521`, `secp256k1`, or the curve's OID. */
  curve?: string | undefined;
  /** `sha256WithRSAEncryption`, `ecdsa-with-SHA256`, … or the OID when unknown. */
  signatureAlgorithm: string;
  sans: SubjectAltName[];
  /** Issuer and subject names are the same and the key identifiers, when both present, agree. */
  selfSigned: boolean;
  isCa: boolean;
  /** Hex key identifiers (RFC 5280 §4.2.1.1-2): an issuer's SKI equals its children's AKI. */
  subjectKeyId?: string | undefined;
  authorityKeyId?: string | undefined;
}

/** Who answers for a certificate; set on the record or derived from a vault version's tags. */
export interface Owner {
  team?: string | undefined;
  application?: string | undefined;
  contact?: string | undefined;
  /** `record`: set explicitly, and then never overwritten by tags. */
  origin: "record" | "tags";
}

/** One place a certificate was seen. `goneAt` is set once its source no longer sees it there. */
export interface Location {
  uri: string;
  source: ObservationSource;
  firstSeenAt: Date;
  lastSeenAt: Date;
  goneAt?: Date | undefined;
  detail?: Record<string, string | number | boolean | null> | undefined;
}

export interface InventoryRecord extends CertificateFacts {
  firstSeenAt: Date;
  /** The fingerprint of the issuer's record when the inventory holds it (chain link). */
  issuerFingerprintSha256?: string | undefined;
  owner?: Owner | undefined;
  locations: Location[];
}

export type InventorySort = "notAfter" | "-notAfter" | "subject";

/** A search over the inventory; every filter given must hold. */
export interface InventoryQuery {
  /** notAfter between now and now + this. */
  expiringWithinMs?: number | undefined;
  /** notAfter before now. */
  expired?: boolean | undefined;
  /** Words that must all appear in the issuer name. */
  issuer?: string | undefined;
  /** Words that must all appear in the subject name. */
  subject?: string | undefined;
  /** A SAN equal to this, or a DNS SAN under it (`example.com` finds `www.example.com`). */
  san?: string | undefined;
  keyType?: string | undefined;
  minKeySize?: number | undefined;
  /** Key size below this many bits (RSA under 3072: `keySizeBelow: 3072` with `keyType: "RSA"`). */
  keySizeBelow?: number | undefined;
  signatureAlgorithm?: string | undefined;
  /** Certificates with a location of this source not gone. */
  source?: ObservationSource | undefined;
  /** Certificates with a location not gone whose URI starts with this. */
  location?: string | undefined;
  /** Team, application or contact equal to this. */
  owner?: string | undefined;
  sort?: InventorySort | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface FacetCount {
  value: string;
  count: number;
}

/** Counts per value of the facets, over the whole inventory or the query's matches. */
export interface Facets {
  keyType: FacetCount[];
  signatureAlgorithm: FacetCount[];
  source: FacetCount[];
  issuer: FacetCount[];
  expiry: { expired: number; within30Days: number; within90Days: number };
  total: number;
}

export interface InventoryPage {
  items: InventoryRecord[];
  /** Pass as `cursor` for the next page; absent on the last. */
  next?: string | undefined;
}
