import type { StoredEvent } from "../events/model.js";
import type { CertificateFacts, Facets, InventoryQuery, InventoryRecord, Owner } from "./model.js";
import type { LocationDetail, ObservationSource } from "./observation.js";

/** Reads the facts out of a certificate's DER; throws DomainError BadParameter when it is not one. */
export interface CertificateFactsReader {
  read(der: Uint8Array): CertificateFacts;
}

/** An observation whose certificate (and chain) the reader has already parsed. */
export interface ParsedObservation {
  der: Uint8Array;
  facts: CertificateFacts;
  chain: { der: Uint8Array; facts: CertificateFacts }[];
  location: string;
  source: ObservationSource;
  seenAt: Date;
  detail?: LocationDetail | undefined;
  /** Derived from tags; applied unless the record has an owner set explicitly. */
  owner?: Omit<Owner, "origin"> | undefined;
}

/** One transaction's worth of inventory change. */
export interface InventoryChange {
  observed: readonly ParsedObservation[];
  /** Locations, or every location under a prefix (`prefix: true`), no longer seen from `at`. */
  gone?: readonly { uri: string; prefix?: boolean; at: Date }[] | undefined;
  /** Locations under these prefixes seen again (a recovered vault certificate). */
  revived?: readonly { prefix: string; at: Date }[] | undefined;
  /** A feed position stored in the same transaction, so what it covers is applied exactly once. */
  cursor?: { name: string; value: number } | undefined;
}

/** A query with its relative parts fixed against the clock. */
export interface ResolvedQuery extends Omit<InventoryQuery, "expiringWithinMs" | "expired" | "cursor"> {
  notAfterFrom?: number | undefined;
  notAfterBefore?: number | undefined;
  sort: NonNullable<InventoryQuery["sort"]>;
  limit: number;
  after?: { key: string | number; id: number } | undefined;
}

export interface InventoryStore {
  /** Applies the change in one transaction: records, locations, terms, facet counts, cursor. */
  apply(change: InventoryChange): Promise<void>;
  find(fingerprintSha256: string): Promise<InventoryRecord | undefined>;
  /** One page; `after` of the result is the keyset position of its last item. */
  search(
    query: ResolvedQuery,
  ): Promise<{ items: InventoryRecord[]; last?: { key: string | number; id: number } }>;
  /** Facet counts over the query's matches (the pre-counted ones when it has no filter). */
  facets(query: ResolvedQuery, now: number): Promise<Facets>;
  /** Certificates expiring on each UTC day from `fromDay` up to `toDay` (days since the epoch); days with none left out. */
  expiryByDay(fromDay: number, toDay: number): Promise<{ day: number; count: number }[]>;
  /** Sets or clears (undefined) the explicit owner; false when there is no such record. */
  setOwner(fingerprintSha256: string, owner: Omit<Owner, "origin"> | undefined): Promise<boolean>;
  cursor(name: string): Promise<number | undefined>;
}

/** A vault certificate version, as the inventory takes it in. */
export interface VaultCertificateVersion {
  seq: number;
  vaultName: string;
  name: string;
  version: string;
  der: Uint8Array;
  /** The issuers stored with it, issuer first. */
  chain: Uint8Array[];
  tags: Record<string, string>;
  deleted: boolean;
}

/** A certificate the private CA issued. */
export interface CaIssuedCertificate {
  caName: string;
  serial: string;
  der: Uint8Array;
  caCertificate?: Uint8Array | undefined;
  createdAt: Date;
}

/** Where the inventory job reads what the rest of Strongroom made. */
export interface InventoryFeed {
  latestEventSeq(): Promise<number>;
  /** Outbox events after `afterSeq`, oldest first. */
  events(afterSeq: number, limit: number): Promise<StoredEvent[]>;
  vaultVersion(vaultId: string, name: string, version: string): Promise<VaultCertificateVersion | undefined>;
  /** Every certificate version of every vault, by `seq`, for the first run's backfill. */
  vaultVersions(afterSeq: number, limit: number): Promise<VaultCertificateVersion[]>;
  caIssued(caId: string, serial: string): Promise<CaIssuedCertificate | undefined>;
  /** Every issued certificate, by (created, CA, serial) position `after`, for the backfill. */
  caIssuedPage(
    after: string | undefined,
    limit: number,
  ): Promise<{ items: CaIssuedCertificate[]; next?: string }>;
}
