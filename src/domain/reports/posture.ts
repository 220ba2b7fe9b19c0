import type { InventoryRecord } from "../inventory/model.js";
import { keyTypeLabel } from "../inventory/terms.js";

const DAY_MS = 86_400_000;

export interface Count {
  value: string;
  count: number;
}

export interface ExpiryBuckets {
  expired: number;
  within7Days: number;
  within30Days: number;
  within90Days: number;
  later: number;
}

/** Counts over one group of certificates: the whole installation, one vault or one owner. */
export interface PostureCounts {
  total: number;
  byKeyAlgorithm: Count[];
  bySignatureAlgorithm: Count[];
  byIssuer: Count[];
  byExpiry: ExpiryBuckets;
}

/** One RSA or ECDSA key a quantum-capable adversary could break, and where to replace it. */
export interface QuantumEntry {
  /** 1 is migrated first. */
  rank: number;
  fingerprint: string;
  subject: string;
  keyAlgorithm: string;
  isCa: boolean;
  notAfter: string;
  locations: string[];
  owner?: string | undefined;
}

export interface ViolationCount {
  ruleId: string;
  kind: string;
  count: number;
}

/** Everything in a posture report but the quantum-readiness list. */
export interface PostureSummary {
  generatedAt: string;
  /** Certificates with at least one location still present. */
  overall: PostureCounts;
  byVault: ({ vault: string } & PostureCounts)[];
  byOwner: ({ owner: string } & PostureCounts)[];
  /** Open findings of the inventory grading by rule; absent until the grading exists. */
  violationsByRule?: ViolationCount[] | undefined;
}

export interface PostureReport extends PostureSummary {
  quantumReadiness: QuantumEntry[];
}

/**
 * A posture report as it is read: the counts, then the quantum-readiness list one entry at a time,
 * so a report over a million certificates is never held whole in memory.
 */
export interface PostureStream {
  summary: PostureSummary;
  quantumEntries: AsyncIterable<QuantumEntry>;
}

/** What a posture report reads. */
export interface PostureFacts {
  /** Every inventory record, in any order. */
  records(): AsyncIterable<InventoryRecord>;
  /** Every inventory record, latest `notAfter` first. */
  latestExpiryFirst(): AsyncIterable<InventoryRecord>;
  /** Open findings counted by rule; undefined while the findings table does not exist. */
  violationsByRule(): Promise<ViolationCount[] | undefined>;
}

const NO_OWNER = "(no owner)";

class Tally {
  total = 0;
  keys = new Map<string, number>();
  signatures = new Map<string, number>();
  issuers = new Map<string, number>();
  expiry: ExpiryBuckets = { expired: 0, within7Days: 0, within30Days: 0, within90Days: 0, later: 0 };

  add(r: InventoryRecord, now: number) {
    this.total++;
    bump(this.keys, keyTypeLabel(r));
    bump(this.signatures, r.signatureAlgorithm);
    bump(this.issuers, r.issuer);
    const left = r.notAfter.getTime() - now;
    const bucket: keyof ExpiryBuckets =
      left <= 0
        ? "expired"
        : left <= 7 * DAY_MS
          ? "within7Days"
          : left <= 30 * DAY_MS
            ? "within30Days"
            : left <= 90 * DAY_MS
              ? "within90Days"
              : "later";
    this.expiry[bucket]++;
  }

  counts(): PostureCounts {
    return {
      total: this.total,
      byKeyAlgorithm: sorted(this.keys),
      bySignatureAlgorithm: sorted(this.signatures),
      byIssuer: sorted(this.issuers),
      byExpiry: { ...this.expiry },
    };
  }
}

const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
const sorted = (m: Map<string, number>): Count[] =>
  [...m]
    .map(([value, count]) => ({ value, count }))
    .sort((a, b) => b.count - a.count || a.value.localeCompare(b.value));
const tallyOf = (m: Map<string, Tally>, k: string) => {
  const t = m.get(k) ?? new Tally();
  m.set(k, t);
  return t;
};

const vaultOf = (uri: string) => /^vault:\/\/([^/]+)\//.exec(uri)?.[1];
const ownerOf = (r: InventoryRecord) => r.owner?.team ?? r.owner?.application ?? r.owner?.contact;

const liveLocations = (r: InventoryRecord) => r.locations.filter((l) => !l.goneAt);
const quantumVulnerable = (r: InventoryRecord) => r.keyType === "RSA" || r.keyType === "EC";

/**
 * Shor's algorithm breaks RSA and elliptic-curve keys alike, so every one of them is on the list.
 * The order says what to migrate first: CA keys (every certificate below them depends on them and
 * they live longest), then the certificates whose exposure lasts longest (latest expiry: recorded
 * traffic stays decryptable until then), then the smaller keys.
 */
function quantumOrder(a: InventoryRecord, b: InventoryRecord): number {
  if (a.isCa !== b.isCa) return a.isCa ? -1 : 1;
  const byExpiry = b.notAfter.getTime() - a.notAfter.getTime();
  if (byExpiry !== 0) return byExpiry;
  return (a.keySize ?? 0) - (b.keySize ?? 0) || a.fingerprintSha256.localeCompare(b.fingerprintSha256);
}

const quantumEntry = (r: InventoryRecord, rank: number): QuantumEntry => ({
  rank,
  fingerprint: r.fingerprintSha256,
  subject: r.subject,
  keyAlgorithm: keyTypeLabel(r),
  isCa: r.isCa,
  notAfter: r.notAfter.toISOString(),
  locations: r.locations.map((l) => l.uri),
  owner: ownerOf(r),
});

/**
 * CA keys first (few: gathered by the counting pass), then the other keys as the inventory yields
 * them latest expiry first, holding only the run of one `notAfter` to order it by key size.
 */
async function* quantumEntries(cas: InventoryRecord[], facts: PostureFacts): AsyncIterable<QuantumEntry> {
  let rank = 0;
  for (const ca of cas.sort(quantumOrder)) yield quantumEntry(ca, ++rank);
  let run: InventoryRecord[] = [];
  const flush = function* () {
    for (const r of run.sort(quantumOrder)) yield quantumEntry(r, ++rank);
    run = [];
  };
  for await (const r of facts.latestExpiryFirst()) {
    if (r.isCa || !quantumVulnerable(r)) continue;
    const live = liveLocations(r);
    if (live.length === 0) continue;
    if (run.length > 0 && run[0]?.notAfter.getTime() !== r.notAfter.getTime()) yield* flush();
    run.push({ ...r, locations: live });
  }
  yield* flush();
}

/** The installation's certificate posture; a pure function of the inventory and the findings. */
export async function postureStream(facts: PostureFacts, now: Date): Promise<PostureStream> {
  const overall = new Tally();
  const vaults = new Map<string, Tally>();
  const owners = new Map<string, Tally>();
  const cas: InventoryRecord[] = [];
  const at = now.getTime();
  for await (const r of facts.records()) {
    const live = liveLocations(r);
    if (live.length === 0) continue;
    overall.add(r, at);
    for (const v of new Set(live.flatMap((l) => vaultOf(l.uri) ?? []))) tallyOf(vaults, v).add(r, at);
    tallyOf(owners, ownerOf(r) ?? NO_OWNER).add(r, at);
    if (r.isCa && quantumVulnerable(r)) cas.push({ ...r, locations: live });
  }
  const violationsByRule = await facts.violationsByRule();
  return {
    summary: {
      generatedAt: now.toISOString(),
      overall: overall.counts(),
      byVault: [...vaults]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([vault, t]) => ({ vault, ...t.counts() })),
      byOwner: [...owners]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([owner, t]) => ({ owner, ...t.counts() })),
      ...(violationsByRule !== undefined && { violationsByRule }),
    },
    quantumEntries: quantumEntries(cas, facts),
  };
}

/** The whole report in memory, for callers that want an object rather than a stream. */
export async function postureReport(facts: PostureFacts, now: Date): Promise<PostureReport> {
  const { summary, quantumEntries } = await postureStream(facts, now);
  const quantumReadiness: QuantumEntry[] = [];
  for await (const q of quantumEntries) quantumReadiness.push(q);
  return { ...summary, quantumReadiness };
}
