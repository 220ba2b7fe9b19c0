import type { Clock } from "../clock.js";
import { noPeers, type Peers } from "../peers.js";
import type { CaService } from "./ca-service.js";
import type { CrlService } from "./crl-service.js";
import type { CertificateAuthority, OcspCertId, OcspSingle } from "./model.js";
import type { CaStore, CaX509 } from "./ports.js";

export interface OcspResponderDeps {
  ca: Pick<CaService, "list" | "onChange">;
  crls: Pick<CrlService, "responderSigner">;
  store: Pick<CaStore, "getIssued">;
  x509: Pick<CaX509, "readOcspRequest" | "ocspResponse" | "issuerHashes" | "certId">;
  clock: Clock;
  /** thisUpdate to nextUpdate of each response. */
  validityMs?: number;
  /**
   * How long a cached answer is served before its status is read again from the database. Local
   * revocations re-sign at once; this bounds how late a revocation made on another node shows.
   */
  recheckMs?: number;
  cacheSize?: number;
  /** Other workers of this server, which drop their answers for a certificate whose status changed. */
  peers?: Peers;
}

/** RFC 6960 §4.2.1 responseStatus values other than successful. */
export type OcspFailure = "malformedRequest" | "internalError" | "unauthorized";

export type OcspAnswer =
  | { ok: true; der: Buffer; maxAgeSeconds: number }
  | { ok: false; status: OcspFailure };

interface Cached {
  der: Buffer;
  status: OcspSingle["status"];
  refreshAt: number;
  checkedAt: number;
  nextUpdate: number;
}

interface Issuer {
  ca: CertificateAuthority;
  nameHash: Buffer;
}

/** The answer echoes the request's CertID, so SHA-1 and SHA-256 CertIDs are cached apart. */
const cacheKey = (issuer: Issuer, certId: OcspCertId) =>
  `${issuer.ca.id}:${certId.serial}:${certId.hashAlgorithm}`;

const ISSUERS_RELOAD_MS = 60_000;
/**
 * Answers signed ahead at once, at the most. A change beyond them is left for its first request to
 * sign, which costs the same signature then: a campaign's batches issue and revoke hundreds of
 * certificates at a time, and signing every answer ahead took ~7% of its main thread for answers
 * few are asked for before the cache lets them go.
 */
const PRESIGN_AT_ONCE = 8;
/** Requests with a single CertID and no nonce are under 150 bytes; longer ones are not indexed. */
const MAX_INDEXED_REQUEST = 512;

/**
 * RFC 6960 responder with pre-signed answers: each (CA, serial) answer is signed once, when the
 * certificate is issued or changes status or when the answer nears nextUpdate, and served from
 * memory in between, so a hot request costs a hash lookup and no signature. Requests with a nonce
 * get a fresh signature echoing it (RFC 6960 §4.4.1); RFC 5019 clients send none and hit the cache.
 */
export type OcspResponder = ReturnType<typeof createOcspResponder>;

export function createOcspResponder(deps: OcspResponderDeps) {
  const { ca, crls, store, x509, clock } = deps;
  const peers = deps.peers ?? noPeers;
  const validityMs = deps.validityMs ?? 86_400_000;
  const recheckMs = deps.recheckMs ?? 10_000;
  const cacheSize = deps.cacheSize ?? 200_000;
  const cache = new Map<string, Cached>();
  /**
   * RFC 5019 clients send the same bytes for the same certificate every time: the request's bytes
   * lead straight to its cache key, so a hot request is not even parsed (asn1js takes ~50 µs).
   */
  const requests = new Map<string, string>();
  /** By the hex of the issuer key hash, SHA-1 and SHA-256 CertIDs alike. */
  let issuers = new Map<string, Issuer>();
  let loadedAt = Number.NEGATIVE_INFINITY;
  let loading: Promise<void> | undefined;

  async function reload(): Promise<void> {
    const next = new Map<string, Issuer>();
    for (const authority of await ca.list()) {
      if (!authority.certificate || !authority.responder) continue;
      const h = x509.issuerHashes(authority.certificate);
      next.set(h.keyHash.toString("hex"), { ca: authority, nameHash: h.nameHash });
      next.set(h.keyHash256.toString("hex"), { ca: authority, nameHash: h.nameHash256 });
    }
    issuers = next;
    loadedAt = clock.now().getTime();
  }

  /** Reloads when stale, or when a CA is unknown and the last load is over a second old; shared. */
  async function loaded(known: () => boolean): Promise<void> {
    const sinceLoad = clock.now().getTime() - loadedAt;
    if (sinceLoad > ISSUERS_RELOAD_MS || (!known() && sinceLoad > 1000)) {
      loading ??= reload().finally(() => {
        loading = undefined;
      });
      await loading;
    }
  }

  async function issuerOf(certId: OcspCertId): Promise<Issuer | undefined> {
    const key = certId.issuerKeyHash.toString("hex");
    // A CA created (or a responder renewed) since the last load is found by reloading.
    await loaded(() => issuers.has(key));
    const issuer = issuers.get(key);
    return issuer?.nameHash.equals(certId.issuerNameHash) ? issuer : undefined;
  }

  const issuerById = (caId: string) => [...issuers.values()].find((i) => i.ca.id === caId);

  /** Signs the SHA-1 CertID answer (what RFC 5019 clients send) before anyone asks. */
  async function presign(caId: string, serial: string): Promise<void> {
    await loaded(() => issuerById(caId) !== undefined);
    const issuer = issuerById(caId);
    if (!issuer?.ca.certificate) return;
    const certId = x509.certId(issuer.ca.certificate, serial);
    await fresh(issuer, certId, cacheKey(issuer, certId));
  }

  async function single(issuer: Issuer, certId: OcspCertId): Promise<OcspSingle> {
    const issued = await store.getIssued(issuer.ca.id, certId.serial);
    if (!issued) return { certId, status: "unknown" };
    return { certId, status: issued.status, revokedAt: issued.revokedAt, reason: issued.reason };
  }

  async function sign(issuer: Issuer, responses: OcspSingle[], nonce?: Buffer) {
    const now = clock.now();
    const nextUpdate = new Date(now.getTime() + validityMs);
    const responder = issuer.ca.responder;
    if (!responder) throw new Error(`CA ${issuer.ca.name} has no OCSP responder`);
    const der = await x509.ocspResponse(
      {
        responderCertificate: responder.certificate,
        producedAt: now,
        thisUpdate: now,
        nextUpdate,
        responses,
        nonce,
      },
      crls.responderSigner(issuer.ca),
    );
    return { der, nextUpdate: nextUpdate.getTime() };
  }

  function remember<V>(map: Map<string, V>, key: string, value: V) {
    map.delete(key);
    if (map.size >= cacheSize) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
    map.set(key, value);
  }

  /** The cached answer while it needs neither re-signing nor a fresh look at the status. */
  function current(entry: Cached | undefined, now: number): Cached | undefined {
    return entry && now < entry.refreshAt && now - entry.checkedAt < recheckMs ? entry : undefined;
  }

  async function fresh(issuer: Issuer, certId: OcspCertId, key: string): Promise<Cached> {
    const answer = await single(issuer, certId);
    const { der, nextUpdate } = await sign(issuer, [answer]);
    const now = clock.now().getTime();
    // Re-signed once 90% of the validity has passed: clients never get an answer about to lapse.
    const entry = {
      der,
      status: answer.status,
      refreshAt: now + validityMs * 0.9,
      checkedAt: now,
      nextUpdate,
    };
    remember(cache, key, entry);
    return entry;
  }

  const maxAge = (nextUpdate: number) => Math.max(0, Math.floor((nextUpdate - clock.now().getTime()) / 1000));

  async function cached(issuer: Issuer, certId: OcspCertId): Promise<Cached> {
    const key = cacheKey(issuer, certId);
    const entry = cache.get(key);
    const now = clock.now().getTime();
    if (entry && now < entry.refreshAt) {
      if (now - entry.checkedAt < recheckMs) return entry;
      const issued = await store.getIssued(issuer.ca.id, certId.serial);
      if ((issued?.status ?? "unknown") === entry.status) {
        entry.checkedAt = now;
        return entry;
      }
    }
    return fresh(issuer, certId, key);
  }

  // Answers are signed ahead of the first request, for certificates issued or changed here, even
  // before this node has answered any request; a failure here only means the request signs.
  const forget = (caId: string, serial: string) => {
    for (const algorithm of ["SHA-1", "SHA-256"]) cache.delete(`${caId}:${serial}:${algorithm}`);
  };
  let presigning = 0;
  ca.onChange((caId, serial, change) => {
    forget(caId, serial);
    if (presigning < PRESIGN_AT_ONCE) {
      presigning += 1;
      presign(caId, serial)
        .catch(() => undefined)
        .finally(() => {
          presigning -= 1;
        });
    }
    // Another worker has no answer for a certificate issued here, and signs one when first asked.
    if (change === "status") return peers.announce({ kind: "certificate-status", caId, serial });
  });
  peers.onChange((change) => {
    if (change.kind === "certificate-status") forget(change.caId, change.serial);
  });

  return {
    /** Answers a DER OCSP request (RFC 6960 §4.1), from the cache when it has no nonce. */
    async respond(request: Buffer): Promise<OcspAnswer> {
      const requestKey = request.length <= MAX_INDEXED_REQUEST ? request.toString("latin1") : undefined;
      const known = requestKey === undefined ? undefined : requests.get(requestKey);
      const hot = known === undefined ? undefined : current(cache.get(known), clock.now().getTime());
      if (hot) return { ok: true, der: hot.der, maxAgeSeconds: maxAge(hot.nextUpdate) };
      const parsed = x509.readOcspRequest(request);
      if (!parsed || parsed.certIds.length === 0) return { ok: false, status: "malformedRequest" };
      const first = parsed.certIds[0] as OcspCertId;
      const issuer = await issuerOf(first);
      if (!issuer) return { ok: false, status: "unauthorized" };
      if (parsed.certIds.length === 1 && !parsed.nonce) {
        const entry = await cached(issuer, first);
        if (requestKey !== undefined) remember(requests, requestKey, cacheKey(issuer, first));
        return { ok: true, der: entry.der, maxAgeSeconds: maxAge(entry.nextUpdate) };
      }
      const responses: OcspSingle[] = [];
      for (const certId of parsed.certIds) {
        const other = await issuerOf(certId);
        if (other?.ca.id !== issuer.ca.id) return { ok: false, status: "unauthorized" };
        responses.push(await single(issuer, certId));
      }
      const { der } = await sign(issuer, responses, parsed.nonce);
      // A nonce makes the answer unique to this request: nothing may cache it.
      return { ok: true, der, maxAgeSeconds: parsed.nonce ? 0 : maxAge(clock.now().getTime() + validityMs) };
    },
  };
}
