import { createHash } from "node:crypto";
import { type Insertable, type Selectable, sql } from "kysely";
import type { Finding, FindingKind, Judgement } from "../domain/rules/model.js";
import type { FindingStore, GradableRecord, GradingStore } from "../domain/rules/ports.js";
import type { StorageHandle } from "./database.js";
import type { Database } from "./schema.js";
import { toFacts } from "./sql-inventory-store.js";
import { writeTransaction } from "./transactions.js";

const GRADED_REVISION = "graded-revision";
/** Ids per `in (…)` list: far below both engines' bound-parameter limits. */
const CHUNK = 1000;

type CertRow = Omit<Selectable<Database["inventory_certificates"]>, "der">;
type FindingRow = Selectable<Database["inventory_findings"]>;

const CERT_COLUMNS = [
  "id",
  "sha256",
  "subject",
  "subject_key",
  "issuer",
  "serial",
  "not_before",
  "not_after",
  "key_type",
  "key_size",
  "curve",
  "signature_algorithm",
  "sans",
  "self_signed",
  "is_ca",
  "ski",
  "aki",
  "issuer_id",
  "first_seen_at",
  "owner_team",
  "owner_application",
  "owner_contact",
  "owner_origin",
] as const;

/** One open finding per record and key: the same finding judged again is the same row. */
const findingKey = (j: Judgement) => `${j.kind}|${j.ruleId ?? ""}|${j.locationUri ?? ""}`;

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

  /** The locations of scattered records (the changed ones), by id list. */
  async function withLocations(rows: CertRow[]): Promise<GradableRecord[]> {
    if (!rows.length) return [];
    const ids = rows.map((r) => Number(r.id));
    const locations = (
      await Promise.all(
        chunks(ids, CHUNK).map((part) =>
          db
            .selectFrom("inventory_locations")
            .select(["cert_id", "uri", "gone_at", "detail"])
            .where("cert_id", "in", part)
            .execute(),
        ),
      )
    ).flat();
    const byCert = new Map<number, GradableRecord["locations"]>();
    for (const l of locations) {
      const list = byCert.get(Number(l.cert_id)) ?? [];
      list.push({
        uri: l.uri,
        gone: l.gone_at !== null,
        detail: l.detail === null ? undefined : (JSON.parse(l.detail) as Record<string, unknown>),
      });
      byCert.set(Number(l.cert_id), list);
    }
    return rows.map((r) => ({
      id: Number(r.id),
      facts: toFacts(r),
      issuerId: r.issuer_id === null ? undefined : Number(r.issuer_id),
      locations: byCert.get(Number(r.id)) ?? [],
    }));
  }

  /**
   * On PostgreSQL a correlated aggregate per record costs more than it saves: the page, then its
   * locations and open findings as two range scans at once on two pooled connections.
   */
  async function pagePostgres(afterId: number, limit: number): Promise<GradableRecord[]> {
    const rows = await db
      .selectFrom("inventory_certificates")
      .select(CERT_COLUMNS)
      .where("id", ">", afterId)
      .orderBy("id")
      .limit(limit)
      .execute();
    if (!rows.length) return [];
    const low = Number(rows[0]?.id);
    const high = Number(rows.at(-1)?.id);
    const [locations, open] = await Promise.all([
      db
        .selectFrom("inventory_locations")
        .select(["cert_id", "uri", "gone_at", "detail"])
        .where("cert_id", ">=", low)
        .where("cert_id", "<=", high)
        .execute(),
      db
        .selectFrom("inventory_findings")
        .select(["id", "cert_id", "finding_key"])
        .where("resolved_at", "is", null)
        .where("cert_id", ">=", low)
        .where("cert_id", "<=", high)
        .execute(),
    ]);
    const byCert = new Map<number, GradableRecord>();
    const records = rows.map((r) => {
      const record: GradableRecord = {
        id: Number(r.id),
        facts: toFacts(r),
        issuerId: r.issuer_id === null ? undefined : Number(r.issuer_id),
        locations: [],
        open: [],
      };
      byCert.set(record.id, record);
      return record;
    });
    for (const l of locations)
      byCert.get(Number(l.cert_id))?.locations.push({
        uri: l.uri,
        gone: l.gone_at !== null,
        detail: l.detail === null ? undefined : (JSON.parse(l.detail) as Record<string, unknown>),
      });
    for (const f of open) byCert.get(Number(f.cert_id))?.open?.push({ id: Number(f.id), key: f.finding_key });
    return records;
  }

  return {
    async page(afterId, limit) {
      if (storage.engine === "postgres") return pagePostgres(afterId, limit);
      // SQLite runs in this process: one statement a page, each record's locations and open
      // findings riding along as JSON arrays, saves a statement's overhead per page twice over.
      const agg = (items: string) => sql.raw(`json_group_array(json_array(${items}))`);
      const result = await sql<
        CertRow & {
          locs: string | null;
          open: string | null;
        }
      >`
        select ${sql.raw(CERT_COLUMNS.map((c) => `c.${c}`).join(", "))},
          (select ${agg("l.uri, l.gone_at, l.detail")} from inventory_locations l where l.cert_id = c.id) as locs,
          (select ${agg("f.id, f.finding_key")} from inventory_findings f
            where f.cert_id = c.id and f.resolved_at is null) as open
        from inventory_certificates c where c.id > ${afterId} order by c.id limit ${limit}`.execute(db);
      const parsed = <T>(value: string | null): T[] => (value === null ? [] : (JSON.parse(value) as T[]));
      return result.rows.map((r) => ({
        id: Number(r.id),
        facts: toFacts(r),
        issuerId: r.issuer_id === null ? undefined : Number(r.issuer_id),
        locations: parsed<[string, number | null, string | null]>(r.locs).map(([uri, goneAt, detail]) => ({
          uri,
          gone: goneAt !== null,
          detail: detail === null ? undefined : (JSON.parse(detail) as Record<string, unknown>),
        })),
        open: parsed<[number, string]>(r.open).map(([id, key]) => ({ id: Number(id), key })),
      }));
    },

    async records(ids) {
      const rows = (
        await Promise.all(
          chunks(ids, CHUNK).map((part) =>
            db.selectFrom("inventory_certificates").select(CERT_COLUMNS).where("id", "in", part).execute(),
          ),
        )
      ).flat();
      return withLocations(rows);
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
      const ids = graded.map((g) => g.id);
      const low = Math.min(...ids);
      const high = Math.max(...ids);
      // A full grading's batch is a contiguous id range: one range scan of the open-findings index
      // instead of an id list. The changed records' ids are scattered, and looked up by list.
      const dense = high - low < 2 * ids.length;
      const selectOpen = (part?: number[]) => {
        const q = db
          .selectFrom("inventory_findings")
          .select(["id", "cert_id", "finding_key"])
          .where("resolved_at", "is", null);
        return (
          part ? q.where("cert_id", "in", part) : q.where("cert_id", ">=", low).where("cert_id", "<=", high)
        ).execute();
      };
      const given = graded.every((g) => g.open !== undefined);
      const open = given
        ? graded.flatMap((g) => (g.open ?? []).map((o) => ({ id: o.id, cert_id: g.id, finding_key: o.key })))
        : dense
          ? await selectOpen()
          : (await Promise.all(chunks(ids, CHUNK).map(selectOpen))).flat();
      const openKeys = new Map(open.map((o) => [`${o.cert_id}/${o.finding_key}`, Number(o.id)]));
      const judged = new Set<string>();
      const inserts: Insertable<Database["inventory_findings"]>[] = [];
      for (const g of graded) {
        for (const j of g.judgements) {
          const key = findingKey(j);
          const both = `${g.id}/${key}`;
          if (judged.has(both)) continue;
          judged.add(both);
          if (openKeys.has(both)) continue;
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
      }
      const known = new Set(ids);
      const resolved = open
        .filter((o) => known.has(Number(o.cert_id)) && !judged.has(`${o.cert_id}/${o.finding_key}`))
        .map((o) => Number(o.id));
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
