import type { CertificateFacts } from "../inventory/model.js";
import { dnsName, hashOf } from "./evaluate.js";
import type { Judgement } from "./model.js";
import type { GradableRecord, GradedFacts } from "./ports.js";

/**
 * The installation's trust set: certificates a chain may end at. The private CA's certificates are
 * always in it; an installation adds public or other private roots with `trustBundleFile`.
 */
export interface TrustSet {
  fingerprints: ReadonlySet<string>;
  /** Subject key identifiers and subject names of the anchors, which an issued certificate names. */
  keyIds: ReadonlySet<string>;
  subjects: ReadonlySet<string>;
}

export function trustSet(anchors: readonly CertificateFacts[]): TrustSet {
  return {
    fingerprints: new Set(anchors.map((a) => a.fingerprintSha256)),
    keyIds: new Set(anchors.flatMap((a) => (a.subjectKeyId ? [a.subjectKeyId] : []))),
    subjects: new Set(anchors.map((a) => a.subject)),
  };
}

/** What grading knows beside the record: its issuers up the chain, the revoked, the time. */
export interface GradingContext {
  trust: TrustSet;
  /** Issuer records by id; a missing id is an issuer the inventory does not hold. */
  issuer: (id: number) => GradableRecord | undefined;
  revoked: ReadonlySet<string>;
  now: Date;
}

/** An IPv4 dotted quad or an IPv6 address (the only names with a colon). */
const isAddress = (host: string) => /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":");

/** Schemes of places a certificate is served from, rather than kept (vault, ca, akv). */
const SERVED = /^(tls|file):\/\//;
const MAX_DEPTH = 8;

const signedByAnchor = (f: GradedFacts, trust: TrustSet) =>
  f.authorityKeyId ? trust.keyIds.has(f.authorityKeyId) : trust.subjects.has(f.issuer);

function weakness(f: GradedFacts): string | undefined {
  if (f.keyType === "DSA") return "DSA key";
  if (f.keyType === "RSA" && f.keySize !== undefined && f.keySize < 2048) return `RSA ${f.keySize}-bit key`;
  if (f.keyType === "EC" && f.keySize !== undefined && f.keySize < 256) return `EC ${f.keySize}-bit key`;
  // A root's own signature is never checked by relying parties, so its hash does not weaken anything.
  const hash = hashOf(f.signatureAlgorithm);
  if (!f.selfSigned && (hash === "MD5" || hash === "SHA-1"))
    return `${hash} signature (${f.signatureAlgorithm})`;
  return undefined;
}

/** Whether the chain up from `record` reaches the trust set through the inventory's issuer links. */
function trusted(record: GradableRecord, ctx: GradingContext): boolean {
  let current: GradableRecord | undefined = record;
  for (let depth = 0; current && depth < MAX_DEPTH; depth++) {
    if (ctx.trust.fingerprints.has(current.facts.fingerprintSha256)) return true;
    if (signedByAnchor(current.facts, ctx.trust)) return true;
    if (current.facts.selfSigned || current.issuerId === undefined) return false;
    current = ctx.issuer(current.issuerId);
  }
  return false;
}

/** RFC 6125 §6.4: a wildcard stands for exactly one left-most label. */
function nameMatches(name: string, san: string): boolean {
  // The usual case, a name served as it was issued, without lower-cased copies of both.
  if (name === san) return true;
  const n = dnsName(name);
  const s = dnsName(san);
  if (s.startsWith("*.")) {
    const dot = n.indexOf(".");
    return dot > 0 && n.slice(dot + 1) === s.slice(2);
  }
  return n === s;
}

/** The name a TLS location was reached by: its SNI, else its host when that is a name and not an address. */
function reachedAs(uri: string): string | undefined {
  // Parsed by hand, without a URL object or a match array: grading asks this of every TLS location.
  for (let at = uri.indexOf("sni="); at >= 0; at = uri.indexOf("sni=", at + 4)) {
    const end = uri.indexOf("&", at);
    if (uri[at - 1] !== "?" && uri[at - 1] !== "&") continue;
    const sni = uri.slice(at + 4, end < 0 ? uri.length : end);
    if (sni !== "") return sni.includes("%") ? decodeURIComponent(sni) : sni;
  }
  const host = /^tls:\/\/(\[[^\]]+\]|[^:/?]+)/.exec(uri)?.[1]?.replace(/^\[|\]$/g, "");
  return host === undefined || isAddress(host) ? undefined : host;
}

/** Whether `fingerprint` is one of the comma-separated `list`, without splitting it. */
function listed(list: string, fingerprint: string): boolean {
  for (let at = list.indexOf(fingerprint); at >= 0; at = list.indexOf(fingerprint, at + 1)) {
    const end = at + fingerprint.length;
    if ((at === 0 || list[at - 1] === ",") && (end === list.length || list[end] === ",")) return true;
  }
  return false;
}

/**
 * Whether the chain a TLS location presented (its `presented` detail: issuers' fingerprints in the
 * order sent) links the certificate to a self-signed root or to an issuer in the trust set.
 */
function chainLinks(record: GradableRecord, presented: string, ctx: GradingContext): boolean {
  let current: GradableRecord | undefined = record;
  for (let depth = 0; current && depth < MAX_DEPTH; depth++) {
    if (current.facts.selfSigned || signedByAnchor(current.facts, ctx.trust)) return true;
    if (current.issuerId === undefined) return false;
    const issuer = ctx.issuer(current.issuerId);
    if (!issuer || !listed(presented, issuer.facts.fingerprintSha256)) return false;
    current = issuer;
  }
  return false;
}

/**
 * The built-in findings of one record: weak algorithms, no chain to the trust set, and at each
 * place it is still served: expired, revoked by the private CA, a name that does not match, a
 * chain that does not link. Pure: everything it reads is in its arguments.
 */
export function builtInFindings(record: GradableRecord, ctx: GradingContext): Judgement[] {
  const f = record.facts;
  const found: Judgement[] = [];
  const weak = weakness(f);
  if (weak) found.push({ kind: "weak-algorithm", reason: `${weak} is weak` });
  if (!trusted(record, ctx))
    found.push({ kind: "unknown-ca", reason: `no chain from issuer "${f.issuer}" to the trust set` });
  const expired = f.notAfter.getTime() < ctx.now.getTime();
  const revoked = ctx.revoked.has(f.fingerprintSha256);
  for (const location of record.locations) {
    if (location.gone || !SERVED.test(location.uri)) continue;
    const at = location.uri;
    if (expired)
      found.push({
        kind: "expired-in-use",
        locationUri: at,
        reason: `expired on ${f.notAfter.toISOString()} and still served`,
      });
    if (revoked)
      found.push({
        kind: "revoked-in-use",
        locationUri: at,
        reason: "revoked by the private CA and still served",
      });
    if (!at.startsWith("tls://")) continue;
    const name = reachedAs(at);
    if (name !== undefined) {
      const ip = isAddress(name);
      let ok = false;
      for (const s of f.sans)
        if (ip ? s.type === "ip" && s.value === name : s.type === "dns" && nameMatches(name, s.value)) {
          ok = true;
          break;
        }
      if (!ok)
        found.push({
          kind: "hostname-mismatch",
          locationUri: at,
          reason: `${name} is not among the certificate's names`,
        });
    }
    const presented = location.presented;
    if (presented !== undefined) {
      if (!chainLinks(record, presented, ctx))
        found.push({
          kind: "missing-intermediate",
          locationUri: at,
          reason: `the chain presented does not link "${f.subject}" to a root`,
        });
    }
  }
  return found;
}
