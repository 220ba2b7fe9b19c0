import type { CertificateFacts, Owner } from "./model.js";
import type { ObservationSource } from "./observation.js";

/**
 * The words a filter matches, as rows of one index: `s:` subject words, `i:` issuer words, `n:` SAN
 * names (DNS names also under each parent domain of two labels or more, so `example.com` finds
 * `www.example.com` and `*.example.com`), `k:` key type, `a:` signature algorithm, `o:` owner
 * values, `src:` the sources that still see the certificate. Everything is lower case.
 */
export const term = {
  subject: (word: string) => `s:${word}`,
  issuer: (word: string) => `i:${word}`,
  san: (name: string) => `n:${name.toLowerCase()}`,
  keyType: (keyType: string) => `k:${keyType.toLowerCase()}`,
  signatureAlgorithm: (algorithm: string) => `a:${algorithm.toLowerCase()}`,
  owner: (value: string) => `o:${value.toLowerCase()}`,
  source: (source: ObservationSource) => `src:${source}`,
};

/** Attribute names (`CN=`, `O=`, `2.5.4.97=`) are not words of a name; its values are. */
const ATTRIBUTE_NAME = /(^|, |\+)([A-Za-z][A-Za-z0-9-]*|[0-9.]+)=/g;

/** The distinct lower-case words of a name's values, or of free text. */
export function words(text: string, isName = true): string[] {
  const values = isName ? text.replace(ATTRIBUTE_NAME, " ") : text;
  return [
    ...new Set(
      values
        .toLowerCase()
        .split(/[^\p{L}\p{N}]+/u)
        .filter((w) => w.length > 0),
    ),
  ];
}

/** A DNS name and its parent domains of two labels or more: a.b.example.com → …, example.com. */
function dnsSuffixes(name: string): string[] {
  const labels = name.toLowerCase().split(".");
  const out = [labels.join(".")];
  for (let i = 1; i < labels.length - 1; i++) out.push(labels.slice(i).join("."));
  return out;
}

/** Every term of a certificate's own facts (owner and source terms come and go separately). */
export function factTerms(facts: CertificateFacts): string[] {
  const terms = new Set<string>();
  for (const w of words(facts.subject)) terms.add(term.subject(w));
  for (const w of words(facts.issuer)) terms.add(term.issuer(w));
  for (const san of facts.sans) {
    if (san.type === "dns") for (const name of dnsSuffixes(san.value)) terms.add(term.san(name));
    else terms.add(term.san(san.value));
  }
  terms.add(term.keyType(facts.keyType));
  terms.add(term.signatureAlgorithm(facts.signatureAlgorithm));
  return [...terms];
}

export function ownerTerms(owner: Omit<Owner, "origin"> | undefined): string[] {
  if (!owner) return [];
  const values = [owner.team, owner.application, owner.contact].filter((v): v is string => !!v);
  return [...new Set(values.map(term.owner))];
}

/** The key type facet's value: `RSA 2048`, `EC P-256`, `Ed25519`. */
export function keyTypeLabel(facts: Pick<CertificateFacts, "keyType" | "keySize" | "curve">): string {
  if (facts.curve) return `${facts.keyType} ${facts.curve}`;
  if (facts.keySize && facts.keyType !== "Ed25519" && facts.keyType !== "Ed448")
    return `${facts.keyType} ${facts.keySize}`;
  return facts.keyType;
}

/**
 * The owner a vault certificate's tags name: `team` (or `owner`, unless it is an e-mail address),
 * `application` (or `app`), `contact` (or an `owner` that is an e-mail address). Tag names are
 * matched without regard to case, as Azure's portal shows them.
 */
export function ownerFromTags(tags: Readonly<Record<string, string>>): Omit<Owner, "origin"> | undefined {
  const lower = new Map(Object.entries(tags).map(([k, v]) => [k.toLowerCase(), v.trim()]));
  const get = (name: string) => (lower.get(name) ? lower.get(name) : undefined);
  const owner = get("owner");
  const ownerIsMail = owner?.includes("@") ?? false;
  const result = {
    team: get("team") ?? (ownerIsMail ? undefined : owner),
    application: get("application") ?? get("app"),
    contact: get("contact") ?? (ownerIsMail ? owner : undefined),
  };
  return result.team || result.application || result.contact ? result : undefined;
}
