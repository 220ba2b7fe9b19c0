import { type Kysely, type RawBuilder, type Selectable, sql } from "kysely";
import type {
  CertificateFacts,
  FacetCount,
  InventoryRecord,
  Location,
  Owner,
  SubjectAltName,
} from "../domain/inventory/model.js";
import type { LocationDetail, ObservationSource } from "../domain/inventory/observation.js";
import type { InventoryChange, InventoryStore, ResolvedQuery } from "../domain/inventory/ports.js";
import { factTerms, keyTypeLabel, ownerTerms, term, words } from "../domain/inventory/terms.js";
import type { StorageHandle } from "./database.js";
import type { Database } from "./schema.js";
import { writeTransaction } from "./transactions.js";

type Row = Omit<Selectable<Database["inventory_certificates"]>, "der">;
/**
 * A record's columns, the issuer's fingerprint among them, without the DER: a page never shows it,
 * and copying a kilobyte per row out of the database is most of a page's cost.
 */
const RECORD_COLUMNS = sql.raw(
  `c.id, c.sha256, c.subject, c.subject_key, c.issuer, c.serial, c.not_before, c.not_after, c.key_type,
  c.key_size, c.curve, c.signature_algorithm, c.sans, c.self_signed, c.is_ca, c.ski, c.aki, c.issuer_id,
  c.first_seen_at, c.owner_team, c.owner_application, c.owner_contact, c.owner_origin,
  (select i.sha256 from inventory_certificates i where i.id = c.issuer_id) as issuer_sha256`,
);

/** The issuer's fingerprint and one location (null without any) beside a certificate row. */
interface PageRow {
  issuer_sha256: Uint8Array | null;
  l_id: number | null;
  l_uri: string | null;
  l_source: string | null;
  l_first_seen_at: number | null;
  l_last_seen_at: number | null;
  l_gone_at: number | null;
  l_detail: string | null;
}
type Trx = Kysely<Database>;

/** Rows per multi-row statement: far below both engines' bound-parameter limits. */
const CHUNK = 1000;
const TERM_CHUNK = 8000;
/** The top of a prefix range: above every character a URI holds. */
const PREFIX_END = "\uffff";
/** Planning counts a filter's rows up to this many; fewer is "selective". */
const ESTIMATE_CAP = 5000;
/** Planning reads the issuer, key type, algorithm and source counts when there are fewer than this. */
const FACET_TERM_LIMIT = 20_000;

type Plan =
  | { driver: "term"; term: string; terms: string[] }
  | { driver: "location" | "expiry"; terms: string[] };

const FACET = {
  keyType: "keyType",
  signatureAlgorithm: "signatureAlgorithm",
  issuer: "issuer",
  source: "source",
  total: "total",
  /** Certificates per UTC day of notAfter: expiry windows are summed from whole days. */
  expiryDay: "expiryDay",
};
const DAY_MS = 86_400_000;
const SOURCE_NAMES = ["tls", "file", "vault", "akv", "ca", "acme"] as const;
/** Day numbers zero-padded, so the text order of facet values is their numeric order. */
const dayKey = (day: number) => String(day).padStart(8, "0");

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const fingerprint = (row: { sha256: Uint8Array }) => Buffer.from(row.sha256).toString("hex");

export function toFacts(r: Row): CertificateFacts {
  return {
    fingerprintSha256: fingerprint(r),
    subject: r.subject,
    issuer: r.issuer,
    serialNumber: r.serial,
    notBefore: new Date(Number(r.not_before)),
    notAfter: new Date(Number(r.not_after)),
    keyType: r.key_type,
    keySize: r.key_size ?? undefined,
    curve: r.curve ?? undefined,
    signatureAlgorithm: r.signature_algorithm,
    sans: JSON.parse(r.sans) as SubjectAltName[],
    selfSigned: r.self_signed !== 0,
    isCa: r.is_ca !== 0,
    subjectKeyId: r.ski ?? undefined,
    authorityKeyId: r.aki ?? undefined,
  };
}

function toOwner(r: Row): Owner | undefined {
  if (r.owner_origin === null) return undefined;
  return {
    team: r.owner_team ?? undefined,
    application: r.owner_application ?? undefined,
    contact: r.owner_contact ?? undefined,
    origin: r.owner_origin as Owner["origin"],
  };
}

function toLocation(
  r: Omit<Selectable<Database["inventory_locations"]>, "previous_cert_id" | "changed_at">,
): Location {
  return {
    uri: r.uri,
    source: r.source as ObservationSource,
    firstSeenAt: new Date(Number(r.first_seen_at)),
    lastSeenAt: new Date(Number(r.last_seen_at)),
    goneAt: r.gone_at === null ? undefined : new Date(Number(r.gone_at)),
    detail: r.detail === null ? undefined : (JSON.parse(r.detail) as LocationDetail),
  };
}

/** The facet increments of one new certificate. */
function factFacets(f: CertificateFacts): [string, string][] {
  return [
    [FACET.keyType, keyTypeLabel(f)],
    [FACET.signatureAlgorithm, f.signatureAlgorithm],
    [FACET.issuer, f.issuer],
    [FACET.total, ""],
    [FACET.expiryDay, dayKey(Math.floor(f.notAfter.getTime() / DAY_MS))],
  ];
}

export function createSqlInventoryStore(storage: StorageHandle): InventoryStore {
  const { db, engine } = storage;
  const greatest = engine === "postgres" ? "greatest" : "max";
  /**
   * Ends every EXISTS probe. PostgreSQL turns a plain EXISTS into a semi-join, and with the row
   * estimates of several term filters it then hashes every row of a broad term (a second on a
   * million); OFFSET 0 keeps the probe a per-row primary-key lookup on the driving scan, which
   * stops when the page is full. SQLite always probes per row (and allows OFFSET only after LIMIT).
   */
  const probe = engine === "postgres" ? sql`offset 0` : sql``;

  async function addFacets(trx: Trx, deltas: Map<string, number>): Promise<void> {
    // Sorted, so two PostgreSQL transactions lock the counter rows in the same order.
    const rows = [...deltas.entries()]
      .filter(([, count]) => count !== 0)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, count]) => {
        const at = key.indexOf("\u0000");
        return { facet: key.slice(0, at), value: key.slice(at + 1), count };
      });
    for (const chunk of chunks(rows, CHUNK)) {
      await trx
        .insertInto("inventory_facets")
        .values(chunk)
        .onConflict((oc) =>
          oc.columns(["facet", "value"]).doUpdateSet({ count: sql`inventory_facets.count + excluded.count` }),
        )
        .execute();
    }
  }

  const bump = (deltas: Map<string, number>, facet: string, value: string, by = 1) => {
    const key = `${facet}\u0000${value}`;
    deltas.set(key, (deltas.get(key) ?? 0) + by);
  };

  async function insertTerms(trx: Trx, rows: { term: string; not_after: number; cert_id: number }[]) {
    for (const chunk of chunks(rows, TERM_CHUNK)) {
      await trx
        .insertInto("inventory_terms")
        .values(chunk)
        .onConflict((oc) => oc.doNothing())
        .execute();
    }
  }

  /** Ids (and notAfter) of every certificate in the change, inserting those not yet held. */
  async function upsertCertificates(
    trx: Trx,
    items: readonly { der: Uint8Array; facts: CertificateFacts; seenAt: Date }[],
    owners: ReadonlyMap<string, Omit<Owner, "origin">>,
    deltas: Map<string, number>,
  ): Promise<{ known: Map<string, { id: number; notAfter: number }>; inserted: Set<string> }> {
    const unique = new Map<string, (typeof items)[number]>();
    for (const item of items)
      if (!unique.has(item.facts.fingerprintSha256)) unique.set(item.facts.fingerprintSha256, item);
    const known = new Map<string, { id: number; notAfter: number }>();
    const lookup = async (fingerprints: string[]) => {
      for (const chunk of chunks(fingerprints, CHUNK)) {
        const rows = await trx
          .selectFrom("inventory_certificates")
          .select(["id", "sha256", "not_after"])
          .where(
            "sha256",
            "in",
            chunk.map((f) => Buffer.from(f, "hex")),
          )
          .execute();
        for (const r of rows) known.set(fingerprint(r), { id: Number(r.id), notAfter: Number(r.not_after) });
      }
    };
    await lookup([...unique.keys()]);
    const fresh = [...unique.values()].filter((i) => !known.has(i.facts.fingerprintSha256));
    const inserted: { id: number; facts: CertificateFacts }[] = [];
    for (const chunk of chunks(fresh, CHUNK)) {
      const rows = await trx
        .insertInto("inventory_certificates")
        .values(
          chunk.map(({ der, facts: f, seenAt }) => ({
            sha256: Buffer.from(f.fingerprintSha256, "hex"),
            der: Buffer.from(der),
            subject: f.subject,
            subject_key: f.subject.toLowerCase(),
            issuer: f.issuer,
            serial: f.serialNumber,
            not_before: f.notBefore.getTime(),
            not_after: f.notAfter.getTime(),
            key_type: f.keyType,
            key_size: f.keySize ?? null,
            curve: f.curve ?? null,
            signature_algorithm: f.signatureAlgorithm,
            sans: JSON.stringify(f.sans),
            self_signed: f.selfSigned ? 1 : 0,
            is_ca: f.isCa ? 1 : 0,
            ski: f.subjectKeyId ?? null,
            aki: f.authorityKeyId ?? null,
            issuer_id: null,
            first_seen_at: seenAt.getTime(),
            owner_team: owners.get(f.fingerprintSha256)?.team ?? null,
            owner_application: owners.get(f.fingerprintSha256)?.application ?? null,
            owner_contact: owners.get(f.fingerprintSha256)?.contact ?? null,
            owner_origin: owners.has(f.fingerprintSha256) ? "tags" : null,
          })),
        )
        // Another PostgreSQL node may insert the same certificate meanwhile: read its id below.
        .onConflict((oc) => oc.column("sha256").doNothing())
        .returning(["id", "sha256"])
        .execute();
      const byFingerprint = new Map(chunk.map((c) => [c.facts.fingerprintSha256, c.facts]));
      for (const r of rows) {
        const f = byFingerprint.get(fingerprint(r));
        if (!f) continue;
        known.set(f.fingerprintSha256, { id: Number(r.id), notAfter: f.notAfter.getTime() });
        inserted.push({ id: Number(r.id), facts: f });
      }
    }
    const raced = fresh.filter((i) => !known.has(i.facts.fingerprintSha256));
    if (raced.length > 0) await lookup(raced.map((i) => i.facts.fingerprintSha256));
    const insertedSet = new Set(inserted.map((i) => i.facts.fingerprintSha256));
    if (inserted.length === 0) return { known, inserted: insertedSet };

    const terms: { term: string; not_after: number; cert_id: number }[] = [];
    for (const { id, facts: f } of inserted) {
      const own = [...factTerms(f), ...ownerTerms(owners.get(f.fingerprintSha256))];
      for (const t of own) terms.push({ term: t, not_after: f.notAfter.getTime(), cert_id: id });
      for (const [facet, value] of factFacets(f)) bump(deltas, facet, value);
    }
    await insertTerms(trx, terms);
    await linkChains(trx, inserted);
    return { known, inserted: insertedSet };
  }

  /**
   * Chain links both ways: a new certificate to its issuer already held (AKI = SKI, names equal),
   * and certificates already held that waited for a new CA certificate.
   */
  async function linkChains(trx: Trx, inserted: { id: number; facts: CertificateFacts }[]) {
    const waiting = inserted.filter((i) => i.facts.authorityKeyId && !i.facts.selfSigned).map((i) => i.id);
    for (const chunk of chunks(waiting, CHUNK)) {
      await sql`update inventory_certificates set issuer_id = (
          select i.id from inventory_certificates i
          where i.ski = inventory_certificates.aki and i.subject = inventory_certificates.issuer
            and i.id <> inventory_certificates.id
          order by i.id limit 1)
        where id in (${sql.join(chunk)})`.execute(trx);
    }
    for (const { id, facts: f } of inserted) {
      if (!f.isCa || !f.subjectKeyId) continue;
      // The children it links gain a chain, so their grading may change: queued before they are linked.
      await trx
        .insertInto("inventory_grading_queue")
        .columns(["cert_id"])
        .expression((eb) =>
          eb
            .selectFrom("inventory_certificates")
            .select("id as cert_id")
            .where("aki", "=", f.subjectKeyId as string)
            .where("issuer_id", "is", null)
            .where("issuer", "=", f.subject)
            .where("id", "!=", id),
        )
        .onConflict((oc) => oc.doNothing())
        .execute();
      await trx
        .updateTable("inventory_certificates")
        .set({ issuer_id: id })
        .where("aki", "=", f.subjectKeyId)
        .where("issuer_id", "is", null)
        .where("issuer", "=", f.subject)
        .where("id", "!=", id)
        .execute();
    }
  }

  /**
   * Makes the `src:` term and the source facet of each (certificate, source) agree with whether a
   * location of that source still sees the certificate.
   */
  async function reconcileSources(
    trx: Trx,
    pairs: Iterable<{ certId: number; source: string }>,
    deltas: Map<string, number>,
  ) {
    const seen = new Set<string>();
    for (const { certId, source } of pairs) {
      const key = `${certId}/${source}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const live = await trx
        .selectFrom("inventory_locations")
        .select("id")
        .where("cert_id", "=", certId)
        .where("source", "=", source)
        .where("gone_at", "is", null)
        .limit(1)
        .executeTakeFirst();
      const cert = await trx
        .selectFrom("inventory_certificates")
        .select("not_after")
        .where("id", "=", certId)
        .executeTakeFirstOrThrow();
      const row = {
        term: term.source(source as ObservationSource),
        not_after: Number(cert.not_after),
        cert_id: certId,
      };
      if (live) {
        const added = await trx
          .insertInto("inventory_terms")
          .values(row)
          .onConflict((oc) => oc.doNothing())
          .executeTakeFirst();
        if (Number(added.numInsertedOrUpdatedRows ?? 0) > 0) bump(deltas, FACET.source, source);
      } else {
        const removed = await trx
          .deleteFrom("inventory_terms")
          .where("term", "=", row.term)
          .where("not_after", "=", row.not_after)
          .where("cert_id", "=", certId)
          .executeTakeFirst();
        if (Number(removed.numDeletedRows) > 0) bump(deltas, FACET.source, source, -1);
      }
    }
  }

  async function writeOwner(
    trx: Trx,
    certId: number,
    owner: Omit<Owner, "origin"> | undefined,
    origin: Owner["origin"],
  ): Promise<boolean> {
    const current = await trx
      .selectFrom("inventory_certificates")
      .select(["not_after", "owner_team", "owner_application", "owner_contact", "owner_origin"])
      .where("id", "=", certId)
      .executeTakeFirst();
    if (!current) return false;
    // An owner set on the record is the user's word; tags never replace it.
    if (origin === "tags" && current.owner_origin === "record") return true;
    const next = {
      owner_team: owner?.team ?? null,
      owner_application: owner?.application ?? null,
      owner_contact: owner?.contact ?? null,
    };
    const empty = next.owner_team === null && next.owner_application === null && next.owner_contact === null;
    const nextOrigin = empty ? null : origin;
    if (
      current.owner_team === next.owner_team &&
      current.owner_application === next.owner_application &&
      current.owner_contact === next.owner_contact &&
      current.owner_origin === nextOrigin
    )
      return true;
    const notAfter = Number(current.not_after);
    const before = ownerTerms({
      team: current.owner_team ?? undefined,
      application: current.owner_application ?? undefined,
      contact: current.owner_contact ?? undefined,
    });
    if (before.length > 0)
      await trx
        .deleteFrom("inventory_terms")
        .where("term", "in", before)
        .where("not_after", "=", notAfter)
        .where("cert_id", "=", certId)
        .execute();
    await trx
      .updateTable("inventory_certificates")
      .set({ ...next, owner_origin: nextOrigin })
      .where("id", "=", certId)
      .execute();
    await insertTerms(
      trx,
      ownerTerms(owner).map((t) => ({ term: t, not_after: notAfter, cert_id: certId })),
    );
    // An owner's rules grade the records it answers for: a new owner may mean other rules.
    if (current.owner_team !== next.owner_team || current.owner_application !== next.owner_application)
      await queueForGrading(trx, [certId]);
    return true;
  }

  async function applyLocations(
    trx: Trx,
    change: InventoryChange,
    ids: Map<string, { id: number; notAfter: number }>,
    fresh: ReadonlySet<string>,
    deltas: Map<string, number>,
  ) {
    // The last observation of a URI in the batch wins.
    const byUri = new Map<string, InventoryChange["observed"][number]>();
    for (const o of change.observed) byUri.set(o.location, o);
    const observed = [...byUri.values()];
    const touched: { certId: number; source: string }[] = [];
    for (const chunk of chunks(observed, CHUNK)) {
      const before = await trx
        .selectFrom("inventory_locations")
        .select(["uri", "cert_id", "source"])
        .where(
          "uri",
          "in",
          chunk.map((o) => o.location),
        )
        .execute();
      const previous = new Map(before.map((r) => [r.uri, r]));
      await trx
        .insertInto("inventory_locations")
        .values(
          chunk.map((o) => ({
            uri: o.location,
            cert_id: (ids.get(o.facts.fingerprintSha256) as { id: number }).id,
            source: o.source,
            first_seen_at: o.seenAt.getTime(),
            last_seen_at: o.seenAt.getTime(),
            gone_at: null,
            detail: o.detail === undefined ? null : JSON.stringify(o.detail),
            previous_cert_id: null,
            changed_at: null,
          })),
        )
        .onConflict((oc) =>
          oc.column("uri").doUpdateSet({
            // Here, in the one upsert every source's observations go through, a location that now
            // serves another certificate records which one it served and when that changed.
            previous_cert_id: sql`case when inventory_locations.cert_id <> excluded.cert_id
              then inventory_locations.cert_id else inventory_locations.previous_cert_id end`,
            changed_at: sql`case when inventory_locations.cert_id <> excluded.cert_id
              then excluded.last_seen_at else inventory_locations.changed_at end`,
            cert_id: sql`excluded.cert_id`,
            source: sql`excluded.source`,
            last_seen_at: sql`${sql.raw(greatest)}(inventory_locations.last_seen_at, excluded.last_seen_at)`,
            gone_at: null,
            detail: sql`excluded.detail`,
          }),
        )
        .execute();
      const terms = new Map<string, { term: string; not_after: number; cert_id: number }>();
      for (const o of chunk) {
        const cert = ids.get(o.facts.fingerprintSha256) as { id: number; notAfter: number };
        const was = previous.get(o.location);
        if (was && (Number(was.cert_id) !== cert.id || was.source !== o.source))
          touched.push({ certId: Number(was.cert_id), source: was.source });
        const t = term.source(o.source);
        terms.set(`${t}/${cert.id}`, { term: t, not_after: cert.notAfter, cert_id: cert.id });
      }
      for (const part of chunks([...terms.values()], TERM_CHUNK)) {
        const added = await trx
          .insertInto("inventory_terms")
          .values(part)
          .onConflict((oc) => oc.doNothing())
          .returning("term")
          .execute();
        for (const a of added) bump(deltas, FACET.source, a.term.slice("src:".length));
      }
    }
    for (const o of observed) {
      // A certificate inserted by this change took its owner with its row.
      if (!o.owner || fresh.has(o.facts.fingerprintSha256)) continue;
      await writeOwner(trx, (ids.get(o.facts.fingerprintSha256) as { id: number }).id, o.owner, "tags");
    }
    for (const gone of change.gone ?? []) {
      let q = trx
        .updateTable("inventory_locations")
        .set({ gone_at: gone.at.getTime() })
        .where("gone_at", "is", null);
      q = gone.prefix
        ? q.where("uri", ">=", gone.uri).where("uri", "<", gone.uri + PREFIX_END)
        : q.where("uri", "=", gone.uri);
      const rows = await q.returning(["cert_id", "source"]).execute();
      for (const r of rows) touched.push({ certId: Number(r.cert_id), source: r.source });
    }
    for (const revived of change.revived ?? []) {
      const rows = await trx
        .updateTable("inventory_locations")
        .set({ gone_at: null, last_seen_at: revived.at.getTime() })
        .where("gone_at", "is not", null)
        .where("uri", ">=", revived.prefix)
        .where("uri", "<", revived.prefix + PREFIX_END)
        .returning(["cert_id", "source"])
        .execute();
      for (const r of rows) touched.push({ certId: Number(r.cert_id), source: r.source });
    }
    await reconcileSources(trx, touched, deltas);
    return touched.map((t) => t.certId);
  }

  /** Queues the records a change touched for grading, in the change's own transaction. */
  async function queueForGrading(trx: Trx, certIds: Iterable<number>) {
    for (const part of chunks([...new Set(certIds)], CHUNK)) {
      await trx
        .insertInto("inventory_grading_queue")
        .values(part.map((cert_id) => ({ cert_id })))
        .onConflict((oc) => oc.doNothing())
        .execute();
    }
  }

  /** PostgreSQL: the page and its locations in one statement, one round trip. */
  async function joined(page: RawBuilder<unknown>, order: RawBuilder<unknown>): Promise<(Row & PageRow)[]> {
    const result = await sql<Row & PageRow>`with page as (${page})
      select page.*,
        l.id as l_id, l.uri as l_uri, l.source as l_source, l.first_seen_at as l_first_seen_at,
        l.last_seen_at as l_last_seen_at, l.gone_at as l_gone_at, l.detail as l_detail
      from page left join inventory_locations l on l.cert_id = page.id
      order by ${order}, l.first_seen_at, l.id`.execute(db);
    return result.rows;
  }

  /**
   * SQLite: the page, then its locations. There is no round trip to save, and SQLite evaluates the
   * joined form several times slower than the two plain statements.
   */
  async function separate(page: RawBuilder<unknown>): Promise<(Row & PageRow)[]> {
    const certs = (await sql<Row & { issuer_sha256: Uint8Array | null }>`${page}`.execute(db)).rows;
    if (certs.length === 0) return [];
    const locations = await db
      .selectFrom("inventory_locations")
      .selectAll()
      .where(
        "cert_id",
        "in",
        certs.map((c) => Number(c.id)),
      )
      .orderBy("first_seen_at")
      .orderBy("id")
      .execute();
    const byCert = new Map<number, (typeof locations)[number][]>();
    for (const l of locations) {
      const list = byCert.get(Number(l.cert_id)) ?? [];
      list.push(l);
      byCert.set(Number(l.cert_id), list);
    }
    const none = {
      l_id: null,
      l_uri: null,
      l_source: null,
      l_first_seen_at: null,
      l_last_seen_at: null,
      l_gone_at: null,
      l_detail: null,
    };
    return certs.flatMap((c): (Row & PageRow)[] => {
      const places = byCert.get(Number(c.id));
      if (!places) return [{ ...c, ...none }];
      return places.map((l) => ({
        ...c,
        l_id: Number(l.id),
        l_uri: l.uri,
        l_source: l.source,
        l_first_seen_at: Number(l.first_seen_at),
        l_last_seen_at: Number(l.last_seen_at),
        l_gone_at: l.gone_at,
        l_detail: l.detail,
      }));
    });
  }

  /**
   * The records of `page` (a select of RECORD_COLUMNS, ordered and limited) with every location,
   * in the page's order.
   */
  async function records(
    page: RawBuilder<unknown>,
    order: RawBuilder<unknown>,
  ): Promise<{ id: number; record: InventoryRecord }[]> {
    const rows = engine === "postgres" ? await joined(page, order) : await separate(page);
    const out: { id: number; record: InventoryRecord }[] = [];
    let current: { id: number; record: InventoryRecord } | undefined;
    for (const r of rows) {
      const id = Number(r.id);
      if (current?.id !== id) {
        current = {
          id,
          record: {
            ...toFacts(r),
            firstSeenAt: new Date(Number(r.first_seen_at)),
            issuerFingerprintSha256: r.issuer_sha256
              ? Buffer.from(r.issuer_sha256).toString("hex")
              : undefined,
            owner: toOwner(r),
            locations: [],
          },
        };
        out.push(current);
      }
      if (r.l_id !== null)
        current.record.locations.push(
          toLocation({
            id: r.l_id,
            cert_id: id,
            uri: r.l_uri as string,
            source: r.l_source as string,
            first_seen_at: r.l_first_seen_at as number,
            last_seen_at: r.l_last_seen_at as number,
            gone_at: r.l_gone_at,
            detail: r.l_detail,
          }),
        );
    }
    return out;
  }

  /** The query's term filters. */
  function queryTerms(q: ResolvedQuery): string[] {
    const groups: string[][] = [];
    if (q.san) groups.push([term.san(q.san.replace(/\.$/, ""))]);
    if (q.subject) groups.push(words(q.subject).map(term.subject));
    if (q.owner) groups.push([term.owner(q.owner)]);
    if (q.issuer) groups.push(words(q.issuer).map(term.issuer));
    if (q.signatureAlgorithm) groups.push([term.signatureAlgorithm(q.signatureAlgorithm)]);
    if (q.keyType) groups.push([term.keyType(q.keyType)]);
    if (q.source) groups.push([term.source(q.source)]);
    return [...new Set(groups.flat())];
  }

  /** How many rows `fromWhere` holds, counted up to ESTIMATE_CAP: cheap, since it stops there. */
  async function estimate(fromWhere: RawBuilder<unknown>): Promise<number> {
    const result = await sql<{
      n: number;
    }>`select count(*) as n from (select 1 as one from ${fromWhere} limit ${ESTIMATE_CAP}) x`.execute(db);
    return Number(result.rows[0]?.n ?? 0);
  }

  /**
   * Whole-inventory counts of the terms the kept facets answer: issuer words (summed over the issuer
   * names holding each word), key types, signature algorithms and sources. Counting rows stops at
   * ESTIMATE_CAP, and at a million certificates every word of an issuing CA's name passes it, so
   * the ranking between them was arbitrary: the word shared by every issuer could drive, and a page
   * of one issuer then probed thousands of rows. Without the window of the query, but what ranks
   * the terms is their share, which a window rarely turns around.
   */
  async function facetTermCounts(): Promise<Map<string, number>> {
    const rows = await db
      .selectFrom("inventory_facets")
      .select(["facet", "value", "count"])
      .where("facet", "in", [FACET.issuer, FACET.keyType, FACET.signatureAlgorithm, FACET.source])
      .where("count", ">", 0)
      .limit(FACET_TERM_LIMIT)
      .execute();
    const counts = new Map<string, number>();
    if (rows.length === FACET_TERM_LIMIT) return counts;
    const add = (t: string, n: number) => counts.set(t, (counts.get(t) ?? 0) + n);
    for (const { facet, value, count } of rows) {
      const n = Number(count);
      if (facet === FACET.issuer) for (const w of words(value)) add(term.issuer(w), n);
      else if (facet === FACET.keyType) add(term.keyType(value.split(" ")[0] ?? value), n);
      else if (facet === FACET.signatureAlgorithm) add(term.signatureAlgorithm(value), n);
      else add(term.source(value as ObservationSource), n);
    }
    return counts;
  }

  /**
   * Which index drives the scan. The most selective term (each counted up to ESTIMATE_CAP) drives
   * and the others are probes; a location prefix matching fewer places than that drives instead.
   * Without either the scan runs down the certificates' expiry index, which suits broad filters:
   * a page fills after a few hundred rows.
   */
  async function plan(q: ResolvedQuery): Promise<Plan> {
    const terms = queryTerms(q);
    const window = (column: RawBuilder<unknown>) => [
      ...(q.notAfterFrom !== undefined ? [sql`${column} >= ${q.notAfterFrom}`] : []),
      ...(q.notAfterBefore !== undefined ? [sql`${column} < ${q.notAfterBefore}`] : []),
    ];
    const termCount = (t: string) =>
      estimate(
        sql`inventory_terms where ${sql.join([sql`term = ${t}`, ...window(sql`not_after`)], sql` and `)}`,
      );
    let ranked = terms.map((t) => ({ t, n: Number.POSITIVE_INFINITY }));
    if (terms.length > 1 || (terms.length === 1 && q.location)) {
      const counted = await facetTermCounts();
      ranked = await Promise.all(terms.map(async (t) => ({ t, n: counted.get(t) ?? (await termCount(t)) })));
      ranked.sort((a, b) => a.n - b.n);
    }
    if (q.location) {
      const places = await estimate(
        sql`inventory_locations where uri >= ${q.location} and uri < ${q.location + PREFIX_END} and gone_at is null`,
      );
      const best = ranked[0]?.n ?? Number.POSITIVE_INFINITY;
      if (places < ESTIMATE_CAP && places < best)
        return { driver: "location", terms: ranked.map((r) => r.t) };
    }
    const [first, ...rest] = ranked;
    return first
      ? { driver: "term", term: first.t, terms: rest.map((r) => r.t) }
      : { driver: "expiry", terms: [] };
  }

  /**
   * The matching certificates as `from … where …`, with the columns their order and keyset use.
   * A term drives down the terms' primary key (term, not_after, cert_id), already in notAfter
   * order; every other filter is a probe on the certificate's row or an exact primary-key lookup of
   * one of its terms.
   */
  function matching(
    q: ResolvedQuery,
    p: Plan,
  ): {
    from: RawBuilder<unknown>;
    notAfter: RawBuilder<unknown>;
    id: RawBuilder<unknown>;
    hasWhere: boolean;
  } {
    const conditions: RawBuilder<unknown>[] = [];
    let from = sql`inventory_certificates c`;
    let notAfter = sql`c.not_after`;
    let id = sql`c.id`;
    const range = sql`uri >= ${q.location ?? ""} and uri < ${`${q.location ?? ""}${PREFIX_END}`} and gone_at is null`;
    if (p.driver === "term") {
      from = sql`inventory_terms t join inventory_certificates c on c.id = t.cert_id`;
      conditions.push(sql`t.term = ${p.term}`);
      notAfter = sql`t.not_after`;
      id = sql`t.cert_id`;
    } else if (p.driver === "location") {
      from = sql`(select distinct cert_id from inventory_locations where ${range}) l
        join inventory_certificates c on c.id = l.cert_id`;
    }
    for (const other of p.terms)
      conditions.push(
        sql`exists (select 1 from inventory_terms x where x.term = ${other} and x.not_after = c.not_after and x.cert_id = c.id ${probe})`,
      );
    if (q.notAfterFrom !== undefined) conditions.push(sql`${notAfter} >= ${q.notAfterFrom}`);
    if (q.notAfterBefore !== undefined) conditions.push(sql`${notAfter} < ${q.notAfterBefore}`);
    if (q.minKeySize !== undefined) conditions.push(sql`c.key_size >= ${q.minKeySize}`);
    if (q.keySizeBelow !== undefined) conditions.push(sql`c.key_size < ${q.keySizeBelow}`);
    if (q.location && p.driver !== "location")
      conditions.push(
        sql`exists (select 1 from inventory_locations l where l.cert_id = c.id and ${range} ${probe})`,
      );
    const where = conditions.length > 0 ? sql`where ${sql.join(conditions, sql` and `)}` : sql``;
    return { from: sql`${from} ${where}`, notAfter, id, hasWhere: conditions.length > 0 };
  }

  /** Whether the query filters at all (else facets come from the counts kept on write). */
  const hasFilter = (q: ResolvedQuery) =>
    queryTerms(q).length > 0 ||
    q.notAfterFrom !== undefined ||
    q.notAfterBefore !== undefined ||
    q.minKeySize !== undefined ||
    q.keySizeBelow !== undefined ||
    q.location !== undefined;

  /**
   * Certificates with notAfter in [from, to) (from undefined: everything before `to`): whole UTC
   * days from the kept per-day counts, the partial days at either end from the expiry index.
   */
  async function countExpiring(from: number | undefined, to: number): Promise<number> {
    const exact = async (a: number | undefined, b: number) => {
      let query = db
        .selectFrom("inventory_certificates")
        .select((eb) => eb.fn.countAll().as("n"))
        .where("not_after", "<", b);
      if (a !== undefined) query = query.where("not_after", ">=", a);
      return Number((await query.executeTakeFirst())?.n ?? 0);
    };
    const firstWholeDay = from === undefined ? undefined : Math.ceil(from / DAY_MS);
    const endDay = Math.floor(to / DAY_MS);
    if (firstWholeDay !== undefined && firstWholeDay >= endDay) return exact(from, to);
    let days = db
      .selectFrom("inventory_facets")
      .select((eb) => eb.fn.sum<number>("count").as("n"))
      .where("facet", "=", FACET.expiryDay)
      .where("value", "<", dayKey(endDay));
    if (firstWholeDay !== undefined) days = days.where("value", ">=", dayKey(firstWholeDay));
    const whole = Number((await days.executeTakeFirst())?.n ?? 0);
    const head =
      from === undefined || firstWholeDay === undefined ? 0 : await exact(from, firstWholeDay * DAY_MS);
    return head + whole + (await exact(endDay * DAY_MS, to));
  }

  async function facetRows(facet: string, limit: number): Promise<FacetCount[]> {
    const rows = await db
      .selectFrom("inventory_facets")
      .select(["value", "count"])
      .where("facet", "=", facet)
      .where("count", ">", 0)
      .orderBy("count", "desc")
      .orderBy("value")
      .limit(limit)
      .execute();
    return rows.map((r) => ({ value: r.value, count: Number(r.count) }));
  }

  const store: InventoryStore = {
    async apply(change) {
      const certificates = change.observed.flatMap((o) => [
        { der: o.der, facts: o.facts, seenAt: o.seenAt },
        ...o.chain.map((c) => ({ der: c.der, facts: c.facts, seenAt: o.seenAt })),
      ]);
      await writeTransaction(storage, async (trx) => {
        const deltas = new Map<string, number>();
        const owners = new Map<string, Omit<Owner, "origin">>();
        for (const o of change.observed) if (o.owner) owners.set(o.facts.fingerprintSha256, o.owner);
        const { known, inserted } = await upsertCertificates(trx, certificates, owners, deltas);
        const touched = await applyLocations(trx, change, known, inserted, deltas);
        await queueForGrading(trx, [...[...known.values()].map((k) => k.id), ...touched]);
        await addFacets(trx, deltas);
        if (change.cursor)
          await trx
            .insertInto("inventory_cursors")
            .values(change.cursor)
            .onConflict((oc) => oc.column("name").doUpdateSet({ value: sql`excluded.value` }))
            .execute();
      });
    },

    async find(fingerprintSha256) {
      const [found] = await records(
        sql`select ${RECORD_COLUMNS} from inventory_certificates c where c.sha256 = ${Buffer.from(fingerprintSha256, "hex")}`,
        sql`page.id`,
      );
      return found?.record;
    },

    async search(q) {
      const m = matching(q, await plan(q));
      const bySubject = q.sort === "subject";
      const desc = q.sort === "-notAfter";
      const key = bySubject ? sql`c.subject_key` : m.notAfter;
      const keyset =
        q.after === undefined
          ? sql``
          : sql`${m.hasWhere ? sql`and` : sql`where`} (${key}, ${m.id}) ${sql.raw(desc ? "<" : ">")} (${q.after.key}, ${q.after.id})`;
      const direction = sql.raw(desc ? "desc" : "asc");
      const page = await records(
        sql`select ${RECORD_COLUMNS} from ${m.from} ${keyset} order by ${key} ${direction}, ${m.id} ${direction} limit ${q.limit}`,
        sql`${sql.raw(bySubject ? "page.subject_key" : "page.not_after")} ${direction}, page.id ${direction}`,
      );
      const last = page.at(-1);
      return {
        items: page.map((p) => p.record),
        ...(last && {
          last: {
            key: bySubject ? last.record.subject.toLowerCase() : last.record.notAfter.getTime(),
            id: last.id,
          },
        }),
      };
    },

    async expiryByDay(fromDay, toDay) {
      // The per-day counts kept with every change: 90 days of timeline is 90 small rows at any size.
      const rows = await db
        .selectFrom("inventory_facets")
        .select(["value", "count"])
        .where("facet", "=", FACET.expiryDay)
        .where("value", ">=", dayKey(fromDay))
        .where("value", "<", dayKey(toDay))
        .where("count", ">", 0)
        .orderBy("value")
        .execute();
      return rows.map((r) => ({ day: Number(r.value), count: Number(r.count) }));
    },

    async facets(q, now) {
      const windows = {
        expired: [undefined, now],
        within30Days: [now, now + 30 * DAY_MS],
        within90Days: [now, now + 90 * DAY_MS],
      } as const;
      if (!hasFilter(q)) {
        const [keyType, signatureAlgorithm, source, issuer] = await Promise.all([
          facetRows(FACET.keyType, 50),
          facetRows(FACET.signatureAlgorithm, 50),
          facetRows(FACET.source, 50),
          facetRows(FACET.issuer, 50),
        ]);
        const total = await db
          .selectFrom("inventory_facets")
          .select("count")
          .where("facet", "=", FACET.total)
          .executeTakeFirst();
        return {
          keyType,
          signatureAlgorithm,
          source,
          issuer,
          expiry: {
            expired: await countExpiring(windows.expired[0], windows.expired[1]),
            within30Days: await countExpiring(windows.within30Days[0], windows.within30Days[1]),
            within90Days: await countExpiring(windows.within90Days[0], windows.within90Days[1]),
          },
          total: Number(total?.count ?? 0),
        };
      }
      const m = matching(q, await plan(q));
      const keyLabel = sql`case when c.curve is not null then c.key_type || ' ' || c.curve
        when c.key_size is not null and c.key_type not in ('Ed25519', 'Ed448') then c.key_type || ' ' || ${sql.raw(engine === "postgres" ? "c.key_size::text" : "c.key_size")}
        else c.key_type end`;
      const tally = (condition: RawBuilder<unknown>) => sql`sum(case when ${condition} then 1 else 0 end)`;
      const within = (from: number | undefined, to: number) =>
        tally(
          from === undefined ? sql`c.not_after < ${to}` : sql`c.not_after >= ${from} and c.not_after < ${to}`,
        );
      // Every facet in one pass over the matches, grouped by (key, signature, issuer) — a few dozen
      // groups however many matches — and summed here: a pass per facet made a broad filter (one key
      // type, half the inventory) read its matches four times. Still a scan of every match, so a
      // long read: off the event loop on SQLite, where it would hold every other request.
      const groups = await storage.longRead<Record<string, number | string | null>>(
        sql`select ${keyLabel} as key_label,
          c.signature_algorithm as signature, c.issuer as issuer, count(*) as total,
          ${within(windows.expired[0], windows.expired[1])} as expired,
          ${within(windows.within30Days[0], windows.within30Days[1])} as within30,
          ${within(windows.within90Days[0], windows.within90Days[1])} as within90,
          ${sql.join(
            SOURCE_NAMES.map(
              (source) =>
                sql`${tally(sql`exists (select 1 from inventory_terms y where y.term = ${term.source(source)} and y.not_after = c.not_after and y.cert_id = c.id ${probe})`)} as ${sql.ref(`src_${source}`)}`,
            ),
          )}
          from ${m.from} group by 1, 2, 3`.compile(db),
      );
      const sum = (name: string) => groups.reduce((n, g) => n + Number(g[name] ?? 0), 0);
      const top = (column: string) => {
        const counts = new Map<string, number>();
        for (const g of groups) {
          const value = String(g[column]);
          counts.set(value, (counts.get(value) ?? 0) + Number(g.total));
        }
        return [...counts]
          .map(([value, count]) => ({ value, count }))
          .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0))
          .slice(0, 50);
      };
      const sources: FacetCount[] = SOURCE_NAMES.map((value) => ({ value, count: sum(`src_${value}`) }))
        .filter((f) => f.count > 0)
        .sort((a, b) => b.count - a.count);
      return {
        keyType: top("key_label"),
        signatureAlgorithm: top("signature"),
        source: sources,
        issuer: top("issuer"),
        expiry: { expired: sum("expired"), within30Days: sum("within30"), within90Days: sum("within90") },
        total: sum("total"),
      };
    },

    async setOwner(fingerprintSha256, owner) {
      return writeTransaction(storage, async (trx) => {
        const row = await trx
          .selectFrom("inventory_certificates")
          .select("id")
          .where("sha256", "=", Buffer.from(fingerprintSha256, "hex"))
          .executeTakeFirst();
        if (!row) return false;
        return writeOwner(trx, Number(row.id), owner, "record");
      });
    },

    async cursor(name) {
      const row = await db
        .selectFrom("inventory_cursors")
        .select("value")
        .where("name", "=", name)
        .executeTakeFirst();
      return row === undefined ? undefined : Number(row.value);
    },
  };

  return store;
}
