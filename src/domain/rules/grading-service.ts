import type { Clock } from "../clock.js";
import type { CertificateFacts } from "../inventory/model.js";
import { builtInFindings, type GradingContext, trustSet } from "./built-in-findings.js";
import { applicableRules, evaluate } from "./evaluate.js";
import type { RuleScope } from "./issuance-gate.js";
import type { Judgement, Rule } from "./model.js";
import type { GradableRecord, GradingStore, IdRange, RuleStore } from "./ports.js";
import { certificateFacts, commonName } from "./request-facts.js";

/** The names owner rules are set by: the record's team and application, lower-cased. */
function ownersOf(record: GradableRecord): string[] | undefined {
  if (record.ownerTeam === undefined && record.ownerApplication === undefined) return undefined;
  const names: string[] = [];
  if (record.ownerTeam !== undefined) names.push(record.ownerTeam.toLowerCase());
  if (record.ownerApplication !== undefined) names.push(record.ownerApplication.toLowerCase());
  return names;
}

/**
 * Records read and written per transaction: large enough to amortise round trips, small enough that
 * few records are alive when the garbage collector runs (at 2,000 it took a quarter of a re-grade).
 */
const BATCH = 1000;

/**
 * Ranges of ids each thread is given in a full grading: more than one, so that a thread whose
 * ranges hold fewer records (ids deleted, issuers read) takes on another's.
 */
const RANGES_PER_THREAD = 4;

/** What a full grading reads before the records, once, as plain data: a grading thread is given it. */
export interface GradingInputs {
  rules: Rule[];
  anchors: CertificateFacts[];
  revoked: string[];
  /** Vault and CA ids by lower-cased name. */
  vaults: [string, string][];
  cas: [string, string][];
  /** The time findings are judged at and stamped with. */
  now: Date;
}

/** Threads that grade ranges of records (grading-threads.ts). */
export interface GradingThreads {
  readonly size: number;
  /** One full grading's calls, the inputs given to each thread once. */
  session(inputs: GradingInputs): {
    grade(range: IdRange): Promise<GradingProgress>;
    /** The threads forget the inputs. */
    end(): void;
  };
}

export interface GradingProgress {
  mode: "full" | "changed";
  graded: number;
  opened: number;
  resolved: number;
}

export type GradingService = ReturnType<typeof createGradingService>;

/**
 * Grades inventory records against the organisation rules that apply where they are (a vault's via
 * `vault://`, a CA's via `ca://`, the installation's always), those of their owner (team or
 * application), and the built-in findings. A change of
 * any rule re-grades everything; a change of records re-grades only those (the store queues them).
 */
export function createGradingService({
  store,
  rules,
  anchors,
  vaultIds,
  caIds,
  clock,
  threads,
}: {
  store: GradingStore;
  rules: Pick<RuleStore, "list" | "revision">;
  /** The trust set's certificates: the private CA's and the configured trust bundle's. */
  anchors: () => Promise<CertificateFacts[]>;
  /** Vault and CA ids by lower-cased name, as location URIs name them. */
  vaultIds: () => Promise<Map<string, string>>;
  caIds: () => Promise<Map<string, string>>;
  clock: Clock;
  /**
   * Threads that grade ranges of records beside this one, each with connections of its own: a full
   * grading then uses every core. Without them (or with one) it runs here.
   */
  threads?: GradingThreads | undefined;
}) {
  /** Everything one run needs besides the records, read once per run: plain data a thread can take. */
  async function readInputs(): Promise<GradingInputs> {
    const [all, trust, revoked, vaults, cas] = await Promise.all([
      rules.list(),
      anchors(),
      store.revokedFingerprints(),
      vaultIds(),
      caIds(),
    ]);
    return {
      rules: all,
      anchors: trust,
      revoked: [...revoked],
      vaults: [...vaults],
      cas: [...cas],
      now: clock.now(),
    };
  }

  /** A run's lookups, made from its inputs. */
  function prepare(inputs: GradingInputs) {
    // Entry-point-limited rules govern requests only; grading judges by the rules for every entry.
    const graded = inputs.rules.filter((r) => !r.entries);
    const byScope = new Map<string, Rule[]>();
    const scoped = (key: string, scope: RuleScope) => {
      let found = byScope.get(key);
      if (!found) {
        found = applicableRules(graded, scope);
        byScope.set(key, found);
      }
      return found;
    };
    const issuers = new Map<number, GradableRecord | undefined>();
    // Per run, by owner key: the rule sets of a `vault://name` or `ca://name` prefix (null when it
    // names no vault or CA), and the set alone in a list, so that a record kept in one place (most
    // are) is given a list already made.
    const placed = new Map<string, Map<string, { set: Rule[]; alone: Rule[][] } | null>>();
    const commonNames = new Map<string, string | null>();
    return {
      trust: trustSet(inputs.anchors),
      revoked: new Set(inputs.revoked),
      vaults: new Map(inputs.vaults),
      cas: new Map(inputs.cas),
      now: inputs.now,
      scoped,
      issuers,
      placed,
      commonNames,
    };
  }
  type Run = ReturnType<typeof prepare>;

  /** The issuer's common name, which `issuers` rules judge: an installation has few issuers. */
  function issuerName(issuer: string, run: Run): string | undefined {
    let name = run.commonNames.get(issuer);
    if (name === undefined) {
      name = commonName(issuer) ?? null;
      run.commonNames.set(issuer, name);
    }
    return name ?? undefined;
  }

  /** The rules of the place a location URI's prefix (`vault://name`, `ca://name`, `installation`) names. */
  function placeRules(prefix: string, owners: string[] | undefined, ownerKey: string, run: Run) {
    let byPrefix = run.placed.get(ownerKey);
    if (!byPrefix) {
      byPrefix = new Map();
      run.placed.set(ownerKey, byPrefix);
    }
    let found = byPrefix.get(prefix);
    if (found === undefined) {
      let set: Rule[] | undefined;
      if (prefix === "installation") set = run.scoped(`installation${ownerKey}`, { owners });
      else {
        const vault = prefix.startsWith("vault://");
        const name = decodeURIComponent(prefix.slice(vault ? 8 : 5)).toLowerCase();
        const id = (vault ? run.vaults : run.cas).get(name);
        if (id)
          set = run.scoped(
            `${vault ? "vault" : "ca"}:${id}${ownerKey}`,
            vault ? { vaultId: id, owners } : { caId: id, owners },
          );
      }
      found = set ? { set, alone: [set] } : null;
      byPrefix.set(prefix, found);
    }
    return found;
  }

  /**
   * The rule sets a record falls under, one per place it is kept (the installation's when none), each
   * with its owner's rules. The lists are shared between records: read, never changed.
   */
  function ruleSets(record: GradableRecord, run: Run): readonly Rule[][] {
    const owners = ownersOf(record);
    const ownerKey = owners ? `|${owners.join("|")}` : "";
    let first: { set: Rule[]; alone: Rule[][] } | undefined;
    let sets: Rule[][] | undefined;
    for (const l of record.locations) {
      // Most locations are TLS endpoints and files: nothing to look up for them.
      if (l.gone) continue;
      const scheme = l.uri.startsWith("vault://") ? 8 : l.uri.startsWith("ca://") ? 5 : 0;
      if (!scheme) continue;
      const end = l.uri.indexOf("/", scheme);
      if (end <= scheme) continue;
      const found = placeRules(l.uri.slice(0, end), owners, ownerKey, run);
      if (!found) continue;
      if (!first) first = found;
      else {
        sets ??= [first.set];
        sets.push(found.set);
      }
    }
    return sets ?? first?.alone ?? (placeRules("installation", owners, ownerKey, run)?.alone as Rule[][]);
  }

  /** Fetches the issuers up the chains of a batch that no earlier batch fetched. */
  async function loadIssuers(records: readonly GradableRecord[], run: Run): Promise<void> {
    let wanted = records;
    for (let depth = 0; depth < 8 && wanted.length; depth++) {
      const ids = [
        ...new Set(
          wanted.flatMap((r) =>
            r.issuerId !== undefined && !run.issuers.has(r.issuerId) ? [r.issuerId] : [],
          ),
        ),
      ];
      if (!ids.length) return;
      const found = await store.records(ids);
      for (const id of ids) run.issuers.set(id, undefined);
      for (const r of found) run.issuers.set(r.id, r);
      wanted = found;
    }
  }

  function judge(record: GradableRecord, run: Run, ctx: GradingContext): Judgement[] {
    const facts = certificateFacts(record.facts, { issuerName: issuerName(record.facts.issuer, run) });
    const sets = ruleSets(record, run);
    const found = builtInFindings(record, ctx);
    if (sets.length === 1) {
      for (const j of evaluate(sets[0] as Rule[], facts)) found.push(j);
      return found;
    }
    // A rule that applies through two places is one finding, not two.
    const seen = new Set<string>();
    for (const set of sets)
      for (const j of evaluate(set, facts)) {
        if (seen.has(j.ruleId as string)) continue;
        seen.add(j.ruleId as string);
        found.push(j);
      }
    return found;
  }

  async function gradeBatch(records: GradableRecord[], run: Run, progress: GradingProgress) {
    await loadIssuers(records, run);
    const ctx: GradingContext = {
      trust: run.trust,
      issuer: (id) => run.issuers.get(id),
      revoked: run.revoked,
      now: run.now,
    };
    const result = await store.record(
      records.map((r) => ({
        id: r.id,
        fingerprintSha256: r.facts.fingerprintSha256,
        judgements: judge(r, run, ctx),
        open: r.open,
      })),
      ctx.now,
    );
    progress.graded += records.length;
    progress.opened += result.opened;
    progress.resolved += result.resolved;
  }

  /** Grades the records of `range` (every record when absent) batch by batch with `inputs`. */
  async function gradeRange(
    inputs: GradingInputs,
    range: IdRange | undefined,
    signal: AbortSignal,
    onBatch?: (p: GradingProgress) => void,
  ): Promise<GradingProgress> {
    const run = prepare(inputs);
    const progress: GradingProgress = { mode: "full", graded: 0, opened: 0, resolved: 0 };
    for await (const page of store.pages(BATCH, range)) {
      if (signal.aborted) break;
      await gradeBatch(page, run, progress);
      onBatch?.({ ...progress });
    }
    return progress;
  }

  /** `threads.size` ranges at a time on the threads, RANGES_PER_THREAD each, summed into `progress`. */
  async function gradeOnThreads(
    pool: GradingThreads,
    inputs: GradingInputs,
    signal: AbortSignal,
    progress: GradingProgress,
    onProgress?: (p: GradingProgress) => void,
  ): Promise<void> {
    const bounds = await store.idBounds();
    if (!bounds) return;
    const count = pool.size * RANGES_PER_THREAD;
    const span = Math.max(BATCH, Math.ceil((bounds.upTo - bounds.after) / count));
    const ranges: IdRange[] = [];
    for (let after = bounds.after; after < bounds.upTo; after += span)
      ranges.push({ after, upTo: Math.min(after + span, bounds.upTo) });
    const session = pool.session(inputs);
    const next = async (): Promise<void> => {
      try {
        for (let range = ranges.shift(); range && !signal.aborted; range = ranges.shift()) {
          const done = await session.grade(range);
          progress.graded += done.graded;
          progress.opened += done.opened;
          progress.resolved += done.resolved;
          onProgress?.({ ...progress });
        }
      } catch (error) {
        // A range that failed stops the others at their next range.
        ranges.length = 0;
        throw error;
      }
    };
    // Every thread's range settles before the grading ends, failed or not: nothing writes after it.
    const lanes = await Promise.allSettled(Array.from({ length: Math.min(pool.size, ranges.length) }, next));
    session.end();
    const failed = lanes.find((l): l is PromiseRejectedResult => l.status === "rejected");
    if (failed) throw failed.reason;
  }

  /**
   * Grades every record, batch by batch; `onProgress` hears after each batch (after each range on
   * threads). An abort takes effect at the next batch, on threads at the next range.
   */
  async function gradeAll(
    signal: AbortSignal,
    onProgress?: (p: GradingProgress) => void,
  ): Promise<GradingProgress> {
    const revision = await rules.revision();
    await store.claimAll();
    const inputs = await readInputs();
    let progress: GradingProgress = { mode: "full", graded: 0, opened: 0, resolved: 0 };
    if (threads && threads.size > 1) await gradeOnThreads(threads, inputs, signal, progress, onProgress);
    else progress = await gradeRange(inputs, undefined, signal, onProgress);
    if (!signal.aborted) await store.setGradedRevision(revision);
    return progress;
  }

  /** Grades the records queued by inventory changes since they were last graded. */
  async function gradeChanged(
    signal: AbortSignal,
    onProgress?: (p: GradingProgress) => void,
  ): Promise<GradingProgress> {
    const progress: GradingProgress = { mode: "changed", graded: 0, opened: 0, resolved: 0 };
    let run: Run | undefined;
    while (!signal.aborted) {
      const ids = await store.queued(BATCH);
      if (!ids.length) break;
      run ??= prepare(await readInputs());
      // Claimed first: a record changed while it is graded is queued again. One claimed and then
      // lost to a crash is caught by the daily full grading.
      await store.claim(ids);
      await gradeBatch(await store.records(ids), run, progress);
      onProgress?.({ ...progress });
    }
    return progress;
  }

  return {
    gradeAll,
    gradeChanged,
    gradeRange,

    /** A full grading when the rules changed since the last one covered them, else the changed records. */
    async grade(signal: AbortSignal, onProgress?: (p: GradingProgress) => void): Promise<GradingProgress> {
      const [revision, graded] = await Promise.all([rules.revision(), store.gradedRevision()]);
      return revision !== graded ? gradeAll(signal, onProgress) : gradeChanged(signal, onProgress);
    },
  };
}
