import type { Clock } from "../clock.js";
import { badParameter, DomainError } from "../errors.js";
import { createDerMap } from "./der-map.js";
import type {
  CertificateFacts,
  Facets,
  InventoryPage,
  InventoryQuery,
  InventoryRecord,
  InventorySort,
  Owner,
} from "./model.js";
import type { Observation, ObservationSink, ObservationSource } from "./observation.js";
import type {
  CertificateFactsReader,
  InventoryChange,
  InventoryStore,
  ParsedObservation,
  ResolvedQuery,
} from "./ports.js";

export const SOURCES: readonly ObservationSource[] = ["tls", "file", "vault", "akv", "ca", "acme"];
const SORTS: readonly InventorySort[] = ["notAfter", "-notAfter", "subject"];
export const MAX_PAGE = 1000;
const DEFAULT_PAGE = 100;

const DAY_MS = 86_400_000;
const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: DAY_MS, w: 7 * DAY_MS };

/** `30d`, `12h`, `2w` (or plain days) as milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)\s*([smhdw]?)$/.exec(text.trim());
  if (!match) throw badParameter(`"${text}" is not a duration such as 30d, 12h or 2w`);
  return Number(match[1]) * (UNITS[match[2] || "d"] ?? 0);
}

const FINGERPRINT = /^[0-9a-f]{64}$/;

function fingerprintOf(text: string): string {
  const normalized = text.toLowerCase().replace(/:/g, "");
  if (!FINGERPRINT.test(normalized))
    throw badParameter(`"${text}" is not a SHA-256 fingerprint (64 hex digits, colons allowed)`);
  return normalized;
}

/** Validates a location URI: a scheme of one of the sources, as the observation contract lists. */
function checkLocation(uri: string, source: ObservationSource): void {
  const scheme = /^([a-z]+):\/\//.exec(uri)?.[1];
  if (!scheme) throw badParameter(`Location "${uri}" is not a URI such as tls://10.0.0.5:443`);
  if (!SOURCES.includes(source)) throw badParameter(`Unknown source "${source}"; use ${SOURCES.join(", ")}`);
}

interface CursorBody {
  s: InventorySort;
  k: string | number;
  i: number;
}

function encodeCursor(body: CursorBody): string {
  return Buffer.from(JSON.stringify(body)).toString("base64url");
}

function decodeCursor(cursor: string, sort: InventorySort): { key: string | number; id: number } {
  let body: CursorBody;
  try {
    body = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as CursorBody;
  } catch {
    throw badParameter("The cursor is not one this inventory returned");
  }
  const keyOk = sort === "subject" ? typeof body.k === "string" : typeof body.k === "number";
  if (body.s !== sort || !keyOk || !Number.isSafeInteger(body.i))
    throw badParameter("The cursor belongs to another sort order or is damaged; start again without it");
  return { key: body.k, id: body.i };
}

export type InventoryService = ReturnType<typeof createInventoryService>;

/**
 * The one inventory of certificates: every source reports into it through `observe`/`forget` (the
 * ObservationSink), the inventory job through `apply`, and the admin API and CLI search it.
 */
export function createInventoryService({
  store,
  reader,
  clock,
}: {
  store: InventoryStore;
  reader: CertificateFactsReader;
  clock: Clock;
}) {
  /**
   * Parses each observation's certificate and chain. A batch often holds one certificate seen in
   * several places and the same issuers over and over, so each distinct DER is read once per batch.
   */
  function parseAll(observations: readonly Observation[]): ParsedObservation[] {
    const read = createDerMap<CertificateFacts>();
    const facts = (der: Uint8Array, location: string) =>
      read.valueOf(der, () => {
        try {
          return reader.read(der);
        } catch (error) {
          if (error instanceof DomainError)
            throw badParameter(`The certificate seen at ${location} is unreadable: ${error.message}`);
          throw error;
        }
      });
    return observations.map((o) => {
      checkLocation(o.location, o.source);
      const chain = (o.chain ?? []).map((der) => ({ der, facts: facts(der, o.location) }));
      return {
        der: o.der,
        facts: facts(o.der, o.location),
        chain,
        location: o.location,
        source: o.source,
        seenAt: o.seenAt,
        // What a TLS server sent is what its clients get: grading judges a missing intermediate from it.
        detail:
          o.source === "tls"
            ? { ...o.detail, presented: chain.map((c) => c.facts.fingerprintSha256).join(",") }
            : o.detail,
        owner: o.owner,
      };
    });
  }

  function resolve(query: InventoryQuery): ResolvedQuery {
    const sort = query.sort ?? "notAfter";
    if (!SORTS.includes(sort)) throw badParameter(`Unknown sort "${sort}"; use ${SORTS.join(", ")}`);
    const limit = query.limit ?? DEFAULT_PAGE;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE)
      throw badParameter(`limit must be between 1 and ${MAX_PAGE}`);
    if (query.source !== undefined && !SOURCES.includes(query.source))
      throw badParameter(`Unknown source "${query.source}"; use ${SOURCES.join(", ")}`);
    if (query.minKeySize !== undefined && (!Number.isInteger(query.minKeySize) || query.minKeySize < 1))
      throw badParameter("min key size must be a positive whole number of bits");
    if (query.keySizeBelow !== undefined && (!Number.isInteger(query.keySizeBelow) || query.keySizeBelow < 1))
      throw badParameter("key size below must be a positive whole number of bits");
    if (query.expiringWithinMs !== undefined && !(query.expiringWithinMs > 0))
      throw badParameter("expiring-within must be a positive duration");
    for (const [name, value] of Object.entries({
      issuer: query.issuer,
      subject: query.subject,
      san: query.san,
      owner: query.owner,
      location: query.location,
      keyType: query.keyType,
      signatureAlgorithm: query.signatureAlgorithm,
    })) {
      if (value !== undefined && value.trim() === "") throw badParameter(`${name} must not be empty`);
    }
    const now = clock.now().getTime();
    let notAfterFrom: number | undefined;
    let notAfterBefore: number | undefined;
    if (query.expired) notAfterBefore = now;
    if (query.expiringWithinMs !== undefined) {
      if (query.expired)
        throw badParameter(
          "expired and expiring-within exclude each other: expired means notAfter has passed",
        );
      notAfterFrom = now;
      notAfterBefore = now + query.expiringWithinMs;
    }
    const { expiringWithinMs: _e, expired: _x, cursor, ...rest } = query;
    return {
      ...rest,
      sort,
      limit,
      notAfterFrom,
      notAfterBefore,
      after: cursor === undefined ? undefined : decodeCursor(cursor, sort),
    };
  }

  const sink: ObservationSink = {
    async observe(observations) {
      if (observations.length === 0) return;
      await store.apply({ observed: parseAll(observations) });
    },
    async forget(locations, at) {
      if (locations.length === 0) return;
      await store.apply({ observed: [], gone: locations.map((uri) => ({ uri, at })) });
    },
  };

  return {
    ...sink,

    /** Observations, gone and revived locations and a feed cursor, applied in one transaction. */
    async apply(
      observations: readonly Observation[],
      rest: Omit<InventoryChange, "observed"> = {},
    ): Promise<void> {
      await store.apply({ ...rest, observed: parseAll(observations) });
    },

    cursor: (name: string) => store.cursor(name),

    async list(query: InventoryQuery): Promise<InventoryPage> {
      const resolved = resolve(query);
      const { items, last } = await store.search(resolved);
      return {
        items,
        ...(last &&
          items.length === resolved.limit && {
            next: encodeCursor({ s: resolved.sort, k: last.key, i: last.id }),
          }),
      };
    },

    /** Certificates expiring on each of the next `days` UTC days, today first, zeros included. */
    async expiryTimeline(days: number): Promise<{ date: string; count: number }[]> {
      const today = Math.floor(clock.now().getTime() / DAY_MS);
      const counts = new Map(
        (await store.expiryByDay(today, today + days)).map((d) => [d.day, d.count] as const),
      );
      return Array.from({ length: days }, (_, i) => ({
        date: new Date((today + i) * DAY_MS).toISOString().slice(0, 10),
        count: counts.get(today + i) ?? 0,
      }));
    },

    async facets(query: InventoryQuery): Promise<Facets> {
      return store.facets(resolve({ ...query, cursor: undefined }), clock.now().getTime());
    },

    async show(fingerprint: string): Promise<InventoryRecord> {
      const found = await store.find(fingerprintOf(fingerprint));
      if (!found)
        throw new DomainError("NotFound", `No certificate with fingerprint ${fingerprint} in the inventory`);
      return found;
    },

    /** Sets the record's owner (kept over vault tags), or clears it when every field is empty. */
    async setOwner(fingerprint: string, owner: Omit<Owner, "origin">): Promise<InventoryRecord> {
      const fp = fingerprintOf(fingerprint);
      const clean = (v: string | undefined) => (v === undefined || v.trim() === "" ? undefined : v.trim());
      const next = {
        team: clean(owner.team),
        application: clean(owner.application),
        contact: clean(owner.contact),
      };
      const empty = !next.team && !next.application && !next.contact;
      if (!(await store.setOwner(fp, empty ? undefined : next)))
        throw new DomainError("NotFound", `No certificate with fingerprint ${fingerprint} in the inventory`);
      return (await store.find(fp)) as InventoryRecord;
    },
  };
}
