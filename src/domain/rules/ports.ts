import type { CertificateFacts } from "../inventory/model.js";
import type { Finding, Judgement, Rule, RuleKind, RuleLevel } from "./model.js";

/** Where organisation rules are kept; each write bumps the rules' revision in the same transaction. */
export interface RuleStore {
  /** Every rule; an installation holds tens, not thousands. */
  list(): Promise<Rule[]>;
  /** Inserts or replaces the rule of this kind at this level and target. */
  put(rule: Rule): Promise<Rule>;
  find(level: RuleLevel, target: string, kind: RuleKind): Promise<Rule | undefined>;
  /** False when there was no such rule. */
  remove(id: string): Promise<boolean>;
  /** Grows with every change of any rule: grading compares it with the revision it last graded. */
  revision(): Promise<number>;
}

/** One page of open findings; `next` is the cursor of the following page, absent on the last. */
export interface FindingPage {
  items: Finding[];
  next?: number | undefined;
}

/** The facts of a certificate that grading judges: no serial, no key identifier of its own. */
export type GradedFacts = Pick<
  CertificateFacts,
  | "fingerprintSha256"
  | "subject"
  | "issuer"
  | "notBefore"
  | "notAfter"
  | "keyType"
  | "keySize"
  | "curve"
  | "signatureAlgorithm"
  | "sans"
  | "selfSigned"
  | "authorityKeyId"
>;

/** One inventory record as grading reads it: its facts, chain link, owner and the places it is served. */
export interface GradableRecord {
  id: number;
  facts: GradedFacts;
  issuerId?: number | undefined;
  /** The owner's team and application, by which owner rules apply. */
  ownerTeam?: string | undefined;
  ownerApplication?: string | undefined;
  /** `presented`: a TLS location's chain as sent, issuers' fingerprints comma-separated. */
  locations: { uri: string; gone: boolean; presented?: string | undefined }[];
  /**
   * The record's open findings (id and the store's key), when the store read them with the record:
   * recording its grade then needs no second read.
   */
  open?: { id: number; key: string }[] | undefined;
}

/** Findings on inventory records, as grading stores them and alerts and reports read them. */
export interface FindingStore {
  /** Open findings, oldest first, `limit` at a time from the cursor `after`. */
  listOpen(limit: number, after?: number): Promise<FindingPage>;
  /** Every finding (open and resolved) of one certificate, newest first. */
  forCertificate(fingerprintSha256: string): Promise<Finding[]>;
}

/** Record ids from `after` (exclusive) to `upTo` (inclusive). */
export interface IdRange {
  after: number;
  upTo: number;
}

/** What grading reads from the inventory and writes back, batch by batch. */
export interface GradingStore {
  /**
   * Every record by id (those in `range` when given), `limit` at a time, each with its locations and
   * open findings. The store may read ahead of the consumer (the next pages are read while this one
   * is graded).
   */
  pages(limit: number, range?: IdRange): AsyncIterable<GradableRecord[]>;
  /** The lowest and highest record id; undefined when the inventory is empty. */
  idBounds(): Promise<IdRange | undefined>;
  /** The records with these ids (issuers up a chain, queued records). */
  records(ids: readonly number[]): Promise<GradableRecord[]>;
  /** Records whose locations or facts changed since they were last graded, oldest first. */
  queued(limit: number): Promise<number[]>;
  /**
   * Takes records off the queue before they are read, so a change that lands while they are graded
   * queues them again rather than being lost.
   */
  claim(ids: readonly number[]): Promise<void>;
  /** Empties the queue as a full grading starts: every record is read after it, so none is missed. */
  claimAll(): Promise<void>;
  /**
   * Replaces the open findings of each record with its judgements in one transaction: a judgement
   * already open stays (its foundAt kept), a new one opens, an open one not judged again resolves.
   * Returns how many opened and resolved.
   */
  record(
    graded: readonly {
      id: number;
      fingerprintSha256: string;
      judgements: Judgement[];
      open?: GradableRecord["open"];
    }[],
    at: Date,
  ): Promise<{ opened: number; resolved: number }>;
  /** SHA-256 fingerprints of certificates the private CA revoked. */
  revokedFingerprints(): Promise<Set<string>>;
  /** The rules' revision the last full grading covered. */
  gradedRevision(): Promise<number | undefined>;
  setGradedRevision(revision: number): Promise<void>;
}
