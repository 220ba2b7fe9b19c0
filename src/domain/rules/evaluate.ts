import { createHash } from "node:crypto";
import type { CertificateRequestFacts, EntryPoint, RuleScope } from "./issuance-gate.js";
import type { Judgement, Rule, RuleKind, RuleValues } from "./model.js";

/** Entry points where a Key Vault policy (exportability, lifetime actions) is part of the request. */
const POLICY_ENTRIES: ReadonlySet<EntryPoint> = new Set([
  "acme-issuer",
  "keyvault-create",
  "keyvault-policy-update",
  "keyvault-import",
  "keyvault-merge",
]);

const EKU_NAMES: Readonly<Record<string, string>> = {
  serverauth: "1.3.6.1.5.5.7.3.1",
  clientauth: "1.3.6.1.5.5.7.3.2",
  codesigning: "1.3.6.1.5.5.7.3.3",
  emailprotection: "1.3.6.1.5.5.7.3.4",
  timestamping: "1.3.6.1.5.5.7.3.8",
  ocspsigning: "1.3.6.1.5.5.7.3.9",
};

/** A hash's strength in bits of output, for ordering; MD5 and SHA-1 sit below every allowed minimum. */
const HASH_BITS: Readonly<Record<string, number>> = {
  MD5: 128,
  "SHA-1": 160,
  "SHA-224": 224,
  "SHA-256": 256,
  "SHA-384": 384,
  "SHA-512": 512,
};

export const eku = (name: string): string => EKU_NAMES[name.toLowerCase()] ?? name;

const HASHES = new Map<string, string | undefined>();

/** `SHA-256` from `sha256WithRSAEncryption`, `ecdsa-with-SHA384`, `SHA-1`; undefined for EdDSA and unknowns. */
export function hashOf(algorithm: string): string | undefined {
  // An installation's certificates carry a handful of algorithms; grading asks for each record twice.
  if (HASHES.has(algorithm)) return HASHES.get(algorithm);
  const match = /(md5|sha-?(1|224|256|384|512))/i.exec(algorithm);
  const hash = !match ? undefined : match[1]?.toLowerCase() === "md5" ? "MD5" : `SHA-${match[2]}`;
  if (HASHES.size >= 1000) HASHES.clear();
  HASHES.set(algorithm, hash);
  return hash;
}

/** The attribute types of an RFC 4514-style name (`CN=a, O=b\, c` → CN, O). */
export function nameAttributes(name: string): string[] {
  return name
    .split(/(?<!\\),/)
    .map((part) => part.split("=")[0]?.trim().toUpperCase() ?? "")
    .filter((type) => type !== "");
}

const ATTRIBUTES = new Map<string, RegExp>();

/** The value of the first attribute of this type in an RFC 4514-style name. */
export function nameAttribute(name: string, type: string): string | undefined {
  // One compiled expression per type: grading asks this of every record, and splitting the name
  // into parts each time was most of judging a `dns-names` rule.
  let pattern = ATTRIBUTES.get(type);
  if (!pattern) {
    pattern = new RegExp(`(?:^|(?<!\\\\),)\\s*${type}\\s*=((?:\\\\,|[^,])*)`, "i");
    ATTRIBUTES.set(type, pattern);
  }
  return pattern.exec(name)?.[1]?.trim().replace(/\\,/g, ",");
}

/** A rule's DNS pattern, lower-cased and (for a glob) compiled once, however many names it judges. */
const DNS_PATTERNS = new Map<string, (name: string) => boolean>();

function dnsMatcher(pattern: string): (name: string) => boolean {
  let matcher = DNS_PATTERNS.get(pattern);
  if (!matcher) {
    const p = pattern.toLowerCase().replace(/\.$/, "");
    if (p.includes("*")) {
      const source = p.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
      const glob = new RegExp(`^${source.join("[^.]*")}$`);
      matcher = (n) => glob.test(n);
    } else {
      const under = `.${p}`;
      matcher = (n) => n === p || n.endsWith(under);
    }
    // Rules change over the years; the patterns ever set stay few, but are not kept without bound.
    if (DNS_PATTERNS.size >= 10_000) DNS_PATTERNS.clear();
    DNS_PATTERNS.set(pattern, matcher);
  }
  return matcher;
}

/** A DNS name as names are compared: lower case, no trailing dot; the name itself when it is so already. */
export const dnsName = (name: string): string =>
  /[^a-z0-9.*_-]|\.$/.test(name) ? name.toLowerCase().replace(/\.$/, "") : name;

/** Whether a DNS name matches one of a rule's entries: a suffix (the name or under it) or a glob with `*`. */
function dnsAllowed(name: string, patterns: readonly string[]): boolean {
  const n = dnsName(name);
  for (const p of patterns) if (dnsMatcher(p)(n)) return true;
  return false;
}

/** A rule's list of names upper-cased once, however many records it judges. */
const UPPER = new WeakMap<readonly string[], ReadonlySet<string>>();
function upperSet(values: readonly string[]): ReadonlySet<string> {
  let set = UPPER.get(values);
  if (!set) {
    set = new Set(values.map((v) => v.toUpperCase()));
    UPPER.set(values, set);
  }
  return set;
}

const fingerprint = (der: Buffer) => createHash("sha256").update(der).digest("hex");

type Check<K extends RuleKind> = (
  value: RuleValues[K],
  facts: CertificateRequestFacts,
  entry: EntryPoint | undefined,
) => string | undefined;

const list = (values: readonly string[]) => values.join(", ");

/** Each kind's judgement: a reason naming the offending value, or undefined when it holds or cannot be judged. */
const CHECKS: { [K in RuleKind]: Check<K> } = {
  "key-types": (allowed, f) =>
    upperSet(allowed).has(f.keyType.toUpperCase())
      ? undefined
      : `key type ${f.keyType} is not one of ${list(allowed)}`,
  "min-rsa-key-size": (min, f) =>
    f.keyType.toUpperCase() === "RSA" && f.keySize !== undefined && f.keySize < min
      ? `RSA key size ${f.keySize} is below ${min}`
      : undefined,
  curves: (allowed, f) =>
    f.keyType.toUpperCase() === "EC" && f.curve !== undefined && !allowed.includes(f.curve)
      ? `curve ${f.curve} is not one of ${list(allowed)}`
      : undefined,
  "min-signature-hash": (min, f) => {
    const hash = f.signatureHash && hashOf(f.signatureHash);
    if (!hash) return undefined;
    return (HASH_BITS[hash] ?? 0) < (HASH_BITS[min] ?? 0)
      ? `signature hash ${hash} is weaker than ${min}`
      : undefined;
  },
  "max-validity-days": (max, f) =>
    f.validityDays !== undefined && f.validityDays > max
      ? `validity of ${f.validityDays} days exceeds ${max}`
      : undefined,
  // Loops rather than find/some with closures: these run for every record a grading reads.
  "dns-names": (patterns, f) => {
    let name: string | undefined;
    for (const s of f.sans)
      if (s.type === "dns" && !dnsAllowed(s.value, patterns)) {
        name = s.value;
        break;
      }
    if (name === undefined) {
      const cn = nameAttribute(f.subject, "CN");
      if (cn?.includes(".") && !dnsAllowed(cn, patterns)) name = cn;
    }
    return name === undefined ? undefined : `DNS name ${name} is not under ${list(patterns)}`;
  },
  wildcards: (allowed, f) => {
    if (allowed) return undefined;
    for (const s of f.sans)
      if (s.type === "dns" && s.value.includes("*")) return `wildcard DNS name ${s.value} is not allowed`;
    return undefined;
  },
  "ip-sans": (allowed, f) => {
    if (allowed) return undefined;
    for (const s of f.sans) if (s.type === "ip") return `IP address SAN ${s.value} is not allowed`;
    return undefined;
  },
  "subject-attributes": (required, f) => {
    const present = new Set(nameAttributes(f.subject));
    const missing = required.filter((a) => !present.has(a.toUpperCase()));
    return missing.length ? `subject "${f.subject}" lacks ${list(missing)}` : undefined;
  },
  ekus: (allowed, f) => {
    if (!f.ekus) return undefined;
    const oids = new Set(allowed.map(eku));
    const bad = f.ekus.find((e) => !oids.has(e));
    return bad === undefined ? undefined : `EKU ${bad} is not one of ${list(allowed)}`;
  },
  "required-ekus": (required, f) => {
    if (!f.ekus) return undefined;
    const missing = required.filter((e) => !f.ekus?.includes(eku(e)));
    return missing.length ? `EKUs lack ${list(missing)}` : undefined;
  },
  "exportable-keys": (allowed, f) =>
    !allowed && f.exportable === true ? "exportable key is not allowed" : undefined,
  "auto-renew": (minDays, f, entry) => {
    if (!entry || !POLICY_ENTRIES.has(entry)) return undefined;
    if (f.autoRenewDaysBeforeExpiry === undefined) return "no AutoRenew lifetime action";
    return f.autoRenewDaysBeforeExpiry < minDays
      ? `AutoRenew ${f.autoRenewDaysBeforeExpiry} days before expiry is less than ${minDays}`
      : undefined;
  },
  issuers: (allowed, f) =>
    f.issuerName !== undefined && !allowed.some((a) => a.toLowerCase() === f.issuerName?.toLowerCase())
      ? `issuer ${f.issuerName} is not one of ${list(allowed)}`
      : undefined,
  "import-roots": (roots, f, entry) => {
    if (entry !== "keyvault-import" || !f.chain) return undefined;
    const last = f.chain.at(-1);
    const root = last && fingerprint(last);
    return root && roots.map((r) => r.toLowerCase().replace(/:/g, "")).includes(root)
      ? undefined
      : `the chain ends at ${root ?? "nothing"}, which is not an allowed root`;
  },
  // Says when people are told, not what a certificate may be: it never refuses.
  "expiry-alert-days": () => undefined,
  approval: () => undefined,
};

/**
 * The rules that apply at a scope. Per kind, a rule at the vault, CA, profile or owner replaces the
 * installation's, unless the installation's is locked: then both apply, so a lower level can only
 * add to a locked rule, never loosen it.
 */
export function applicableRules(rules: readonly Rule[], scope: RuleScope): Rule[] {
  const profile = scope.profile && `${scope.profile.kind}:${scope.profile.name}`;
  const inScope = (r: Rule) =>
    (r.level === "vault" && r.target === scope.vaultId) ||
    (r.level === "ca" && r.target === scope.caId) ||
    (r.level === "profile" && r.target === profile) ||
    (r.level === "owner" && scope.owners?.includes(r.target) === true);
  const result: Rule[] = [];
  const lower = rules.filter(inScope);
  for (const top of rules.filter((r) => r.level === "installation")) {
    const below = lower.filter((r) => r.kind === top.kind);
    if (top.locked || below.length === 0) result.push(top);
  }
  result.push(...lower);
  return result;
}

/**
 * Judges facts against rules; pure, so a request at an entry point and a certificate being graded
 * (entry undefined) are held to the same code. Rules limited to other entry points are skipped.
 */
export function evaluate(
  rules: readonly Rule[],
  facts: CertificateRequestFacts,
  entry?: EntryPoint | undefined,
): Judgement[] {
  const found: Judgement[] = [];
  for (const rule of rules) {
    if (rule.entries && (entry === undefined || !rule.entries.includes(entry))) continue;
    const check = CHECKS[rule.kind] as Check<RuleKind>;
    const reason = check(rule.value, facts, entry);
    if (reason !== undefined) found.push({ kind: "violation", ruleId: rule.id, ruleKind: rule.kind, reason });
  }
  return found;
}
