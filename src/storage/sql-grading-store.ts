import { createHash } from "node:crypto";
import { type Insertable, type Selectable, sql } from "kysely";
import type { SubjectAltName } from "../domain/inventory/model.js";
import type { Finding, FindingKind, Judgement } from "../domain/rules/model.js";
import type { FindingStore, GradableRecord, GradingStore } from "../domain/rules/ports.js";
import type { Engine, StorageHandle } from "./database.js";
import type { Database } from "./schema.js";
import { writeTransaction } from "./transactions.js";

const GRADED_REVISION = "graded-revision";
/** Ids per `in (…)` list: far below both engines' bound-parameter limits. */
const CHUNK = 1000;

type FindingRow = Selectable<Database["inventory_findings"]>;

/**
 * The columns of `inventory_certificates` grading reads, in the order it reads them. Grading reads
 * every record on every run: only what it judges, as row arrays, the fingerprint as hex text.
 */
export const gradedColumns = (engine: Engine) =>
  `id, ${engine === "postgres" ? "encode(sha256, 'hex')" : "lower(hex(sha256))"}, subject, issuer, not_before,
  not_after, key_type, key_size, curve, signature_algorithm, sans, self_signed, aki, issuer_id, owner_team,
  owner_application`;

/** One open finding per record and key: the same finding judged again is the same row. */
const findingKey = (j: Judgement) => `${j.kind}|${j.ruleId ?? ""}|${j.locationUri ?? ""}`;

/** Whether `key` is the judgement's key, compared in place rather than by making the key. */
function isKeyOf(key: string, j: Judgement): boolean {
  const rule = j.ruleId ?? "";
  const at = j.locationUri ?? "";
  const ruleAt = j.kind.length + 1;
  const atAt = ruleAt + rule.length + 1;
  return (
    key.length === atAt + at.length &&
    key.startsWith(j.kind) &&
    key[ruleAt - 1] === "|" &&
    key.startsWith(rule, ruleAt) &&
    key[atAt - 1] === "|" &&
    key.endsWith(at)
  );
}

/** Whether an earlier judgement in the list has the same key as the one at `i`. */
function repeated(judged: readonly Judgement[], i: number): boolean {
  const j = judged[i] as Judgement;
  for (let k = 0; k < i; k++) {
    const other = judged[k] as Judgement;
    if (
      other.kind === j.kind &&
      (other.ruleId ?? "") === (j.ruleId ?? "") &&
      (other.locationUri ?? "") === (j.locationUri ?? "")
    )
      return true;
  }
  return false;
}

function isOpen(open: readonly { key: string }[], j: Judgement): boolean {
  for (const o of open) if (isKeyOf(o.key, j)) return true;
  return false;
}

function judgedAgain(key: string, judged: readonly Judgement[]): boolean {
  for (const j of judged) if (isKeyOf(key, j)) return true;
  return false;
}

/**
 * Pages read at once: the one graded and the next, whose reads overlap its grading. More would keep
 * more records alive for the garbage collector to copy, which costs more than the reads it hides.
 */
const READ_AHEAD = 2;

/** A record without open findings: one list shared by them all, read and never changed. */
const NONE_OPEN: { id: number; key: string }[] = [];

const toFinding = (r: FindingRow): Finding => ({
  id: Number(r.id),
  fingerprintSha256: r.fingerprint_sha256,
  kind: r.kind as FindingKind,
  ruleId: r.rule_id ?? undefined,
  locationUri: r.location_uri ?? undefined,
  reason: r.reason,
  foundAt: new Date(Number(r.found_at)),
  resolvedAt: r.resolved_at === null ? undefined : new Date(Number(r.resolved_at)),
});

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Grading's reads of the inventory and its findings, and the findings as alerts and reports read them. */
export function createSqlGradingStore(storage: StorageHandle): GradingStore & FindingStore {
  const { db } = storage;

  const pgsql = storage.engine === "postgres";
  const certColumns = gradedColumns(storage.engine);
  // A location's presented chain is taken out of its JSON by the database, not parsed here.
  const presented = pgsql
    ? "case when json_typeof(detail::json -> 'presented') = 'string' then detail::json ->> 'presented' end"
    : "case when json_type(detail, '$.presented') = 'text' then json_extract(detail, '$.presented') end";
  const p = (n: number) => (pgsql ? `$${n}` : "?");
  const idList = pgsql ? "= any($1::bigint[])" : "in (select value from json_each(?))";
  const ids = (list: readonly number[]) => (pgsql ? list : JSON.stringify(list));
  const PAGE = `select ${certColumns} from inventory_certificates where id > ${p(1)} order by id limit ${p(2)}`;
  const RANGE_PAGE = `select ${certColumns} from inventory_certificates where id > ${p(1)} and id <= ${p(2)}
    order by id limit ${p(3)}`;
  const BY_ID = `select ${certColumns} from inventory_certificates where id ${idList}`;
  const LOCATIONS = `select cert_id, uri, gone_at, ${presented} from inventory_locations`;
  const RANGE_LOCATIONS = `${LOCATIONS} where cert_id >= ${p(1)} and cert_id <= ${p(2)}`;
  const LISTED_LOCATIONS = `${LOCATIONS} where cert_id ${idList}`;
  const RANGE_OPEN = `select cert_id, id, finding_key from inventory_findings
    where resolved_at is null and cert_id >= ${p(1)} and cert_id <= ${p(2)}`;

  const toRecord = (r: unknown[]): GradableRecord => ({
    id: r[0] as number,
    facts: {
      fingerprintSha256: r[1] as string,
      subject: r[2] as string,
      issuer: r[3] as string,
      notBefore: new Date(r[4] as number),
      notAfter: new Date(r[5] as number),
      keyType: r[6] as string,
      keySize: (r[7] as number | null) ?? undefined,
      curve: (r[8] as string | null) ?? undefined,
      signatureAlgorithm: r[9] as string,
      sans: JSON.parse(r[10] as string) as SubjectAltName[],
      selfSigned: r[11] !== 0,
      authorityKeyId: (r[12] as string | null) ?? undefined,
    },
    issuerId: (r[13] as number | null) ?? undefined,
    ownerTeam: (r[14] as string | null) ?? undefined,
    ownerApplication: (r[15] as string | null) ?? undefined,
    locations: [],
  });

  /** Each location added to its record; the records by id. */
  function withLocations(records: GradableRecord[], locations: unknown[][]): Map<number, GradableRecord> {
    const byId = new Map<number, GradableRecord>();
    for (const r of records) byId.set(r.id, r);
    for (const l of locations)
      byId.get(l[0] as number)?.locations.push({
        uri: l[1] as string,
        gone: l[2] !== null,
        presented: (l[3] as string | null) ?? undefined,
      });
    return byId;
  }

  /** A page's records with their locations and open findings, read by two range scans at once. */
  async function withFindings(rows: unknown[][]): Promise<GradableRecord[]> {
    const records = rows.map(toRecord);
    if (!records.length) return records;
    const range = [(records[0] as GradableRecord).id, (records.at(-1) as GradableRecord).id];
    const [locations, open] = await Promise.all([
      storage.arrayRows(RANGE_LOCATIONS, range),
      storage.arrayRows(RANGE_OPEN, range),
    ]);
    const byId = withLocations(records, locations);
    for (const r of records) r.open = NONE_OPEN;
    for (const f of open) {
      const r = byId.get(f[0] as number);
      if (!r) continue;
      if (r.open === NONE_OPEN) r.open = [];
      r.open?.push({ id: f[1] as number, key: f[2] as string });
    }
    return records;
  }

  return {
    async *pages(limit, range) {
      const lastId = (rows: unknown[][]) => (rows.at(-1) as unknown[])[0] as number;
      const rowsAfter = (after: number) =>
        range
          ? storage.arrayRows(RANGE_PAGE, [after, range.upTo, limit])
          : storage.arrayRows(PAGE, [after, limit]);
      // A page's records are asked for as soon as the page before's have arrived (their last id is
      // where it starts), and its locations and open findings as soon as its own have: on PostgreSQL
      // the database reads the next pages while this process grades one, each on its own connection.
      const read = (before: Promise<unknown[][]> | undefined) => {
        const rows = before
          ? before.then((r) => (r.length < limit ? [] : rowsAfter(lastId(r))))
          : rowsAfter(range?.after ?? 0);
        const page = rows.then(withFindings);
        // Awaited in turn below; one read ahead that is never awaited (an aborted grading) is dropped.
        page.catch(() => undefined);
        return { rows, page };
      };
      const ahead = [read(undefined)];
      for (;;) {
        while (ahead.length < READ_AHEAD)
          ahead.push(read((ahead.at(-1) as { rows: Promise<unknown[][]> }).rows));
        const page = await (ahead.shift() as { page: Promise<GradableRecord[]> }).page;
        if (!page.length) return;
        yield page;
      }
    },

    async idBounds() {
      const row = await db
        .selectFrom("inventory_certificates")
        .select((eb) => [eb.fn.min("id").as("low"), eb.fn.max("id").as("high")])
        .executeTakeFirst();
      if (row?.low === null || row?.low === undefined || row.high === null) return undefined;
      // Keyset bounds: ids after `after`, so the lowest id is one past it.
      return { after: Number(row.low) - 1, upTo: Number(row.high) };
    },

    async records(list) {
      const out: GradableRecord[] = [];
      for (const part of chunks(list, CHUNK)) {
        const [rows, locations] = await Promise.all([
          storage.arrayRows(BY_ID, [ids(part)]),
          storage.arrayRows(LISTED_LOCATIONS, [ids(part)]),
        ]);
        const records = rows.map(toRecord);
        withLocations(records, locations);
        out.push(...records);
      }
      return out;
    },

    async queued(limit) {
      const rows = await db
        .selectFrom("inventory_grading_queue")
        .select("cert_id")
        .orderBy("cert_id")
        .limit(limit)
        .execute();
      return rows.map((r) => Number(r.cert_id));
    },

    async record(graded, at) {
      if (!graded.length) return { opened: 0, resolved: 0 };
      const unread = graded.filter((g) => g.open === undefined).map((g) => g.id);
      const openOf = new Map<number, { id: number; key: string }[]>();
      // The changed records' open findings, which no page read with them: scattered ids, by list.
      for (const part of chunks(unread, CHUNK)) {
        const rows = await db
          .selectFrom("inventory_findings")
          .select(["id", "cert_id", "finding_key"])
          .where("resolved_at", "is", null)
          .where("cert_id", "in", part)
          .execute();
        for (const o of rows) {
          const list = openOf.get(Number(o.cert_id)) ?? [];
          list.push({ id: Number(o.id), key: o.finding_key });
          openOf.set(Number(o.cert_id), list);
        }
      }
      const inserts: Insertable<Database["inventory_findings"]>[] = [];
      const resolved: number[] = [];
      // A record has a handful of findings at most: lists compared in place, and a key made only for
      // a finding that opens (a re-grading judges every record again and opens few).
      for (const g of graded) {
        const open = g.open ?? openOf.get(g.id) ?? NONE_OPEN;
        const judged = g.judgements;
        for (let i = 0; i < judged.length; i++) {
          const j = judged[i] as Judgement;
          if (repeated(judged, i) || isOpen(open, j)) continue;
          const key = findingKey(j);
          inserts.push({
            cert_id: g.id,
            fingerprint_sha256: g.fingerprintSha256,
            location_uri: j.locationUri ?? null,
            kind: j.kind,
            rule_id: j.ruleId ?? null,
            reason: j.reason,
            finding_key: key,
            found_at: at.getTime(),
            resolved_at: null,
          });
        }
        for (const o of open) if (!judgedAgain(o.key, judged)) resolved.push(o.id);
      }
      // Most batches of a re-grading change nothing, and take no transaction.
      if (!inserts.length && !resolved.length) return { opened: 0, resolved: 0 };
      return writeTransaction(storage, async (trx) => {
        for (const part of chunks(inserts, CHUNK / 10))
          await trx
            .insertInto("inventory_findings")
            .values(part)
            .onConflict((oc) => oc.doNothing())
            .execute();
        for (const part of chunks(resolved, CHUNK))
          await trx
            .updateTable("inventory_findings")
            .set({ resolved_at: at.getTime() })
            .where("id", "in", part)
            .where("resolved_at", "is", null)
            .execute();
        return { opened: inserts.length, resolved: resolved.length };
      });
    },

    async claim(ids) {
      for (const part of chunks(ids, CHUNK))
        await db.deleteFrom("inventory_grading_queue").where("cert_id", "in", part).execute();
    },

    async claimAll() {
      await db.deleteFrom("inventory_grading_queue").execute();
    },

    async revokedFingerprints() {
      const rows = await db.selectFrom("ca_issued").select("der").where("status", "=", "revoked").execute();
      return new Set(rows.map((r) => createHash("sha256").update(r.der).digest("hex")));
    },

    async gradedRevision() {
      const row = await db
        .selectFrom("grading_state")
        .select("value")
        .where("name", "=", GRADED_REVISION)
        .executeTakeFirst();
      return row ? Number(row.value) : undefined;
    },

    async setGradedRevision(revision) {
      await db
        .insertInto("grading_state")
        .values({ name: GRADED_REVISION, value: revision })
        .onConflict((oc) => oc.column("name").doUpdateSet({ value: sql`excluded.value` }))
        .execute();
    },

    async listOpen(limit, after) {
      const rows = await db
        .selectFrom("inventory_findings")
        .selectAll()
        .where("resolved_at", "is", null)
        .where("id", ">", after ?? 0)
        .orderBy("id")
        .limit(limit)
        .execute();
      const items = rows.map(toFinding);
      return { items, ...(items.length === limit && { next: items.at(-1)?.id }) };
    },

    async forCertificate(fingerprintSha256) {
      const rows = await db
        .selectFrom("inventory_findings")
        .selectAll()
        .where("fingerprint_sha256", "=", fingerprintSha256)
        .orderBy("id", "desc")
        .execute();
      return rows.map(toFinding);
    },
  };
}
