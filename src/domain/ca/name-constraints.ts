import type { SubjectAlternativeNames } from "../certificates/model.js";
import { badParameter } from "../errors.js";
import type { NameConstraints, NameSubtrees } from "./model.js";

const EMPTY: NameSubtrees = { dns: [], ip: [], email: [], uri: [] };

/** RFC 5280 §4.2.1.10: "example.com" matches itself and every subdomain; ".example.com" only subdomains. */
function dnsWithin(name: string, base: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, "");
  const b = base.toLowerCase().replace(/\.$/, "");
  if (b.startsWith(".")) return n.endsWith(b);
  return n === b || n.endsWith(`.${b}`);
}

/** A mailbox, a host ("example.com": exactly that host) or a domain (".example.com": any host under it). */
function emailWithin(address: string, base: string): boolean {
  const a = address.toLowerCase();
  const b = base.toLowerCase();
  if (b.includes("@")) return a === b;
  const host = a.slice(a.lastIndexOf("@") + 1);
  return b.startsWith(".") ? host.endsWith(b) : host === b;
}

function uriWithin(uri: string, base: string): boolean {
  let host: string;
  try {
    host = new URL(uri).hostname;
  } catch {
    return false;
  }
  const b = base.toLowerCase();
  return b.startsWith(".") ? host.endsWith(b) : host === b;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const IPV6 = /^[0-9a-f:]+$/i;

function ipBytes(address: string): Buffer | undefined {
  if (IPV4.test(address)) return Buffer.from(address.split(".").map(Number));
  if (!IPV6.test(address) || !address.includes(":") || address.split("::").length > 2) return undefined;
  const [head = "", tail = ""] = address.split("::");
  const groups = (part: string) => (part ? part.split(":") : []);
  const left = groups(head);
  const right = address.includes("::") ? groups(tail) : [];
  const fill = address.includes("::") ? 8 - left.length - right.length : 0;
  const all = [...left, ...Array<string>(Math.max(fill, 0)).fill("0"), ...right];
  if (all.length !== 8 || all.some((g) => g.length === 0 || g.length > 4)) return undefined;
  return Buffer.from(all.flatMap((g) => [Number.parseInt(g, 16) >> 8, Number.parseInt(g, 16) & 0xff]));
}

/** Parses "10.0.0.0/8" or "2001:db8::/32" into address and mask bytes; BadParameter otherwise. */
export function parseCidr(cidr: string): { address: Buffer; mask: Buffer } {
  const [ip = "", bitsText] = cidr.split("/");
  const address = ipBytes(ip);
  const bits = Number(bitsText);
  if (!address || bitsText === undefined || !Number.isInteger(bits) || bits < 0 || bits > address.length * 8)
    throw badParameter(`"${cidr}" is not an IP range in CIDR form (10.0.0.0/8, 2001:db8::/32)`);
  const mask = Buffer.alloc(address.length);
  for (let i = 0; i < bits; i++) mask[i >> 3] = (mask[i >> 3] ?? 0) | (0x80 >> (i & 7));
  return { address, mask };
}

function ipWithin(ip: string, cidr: string): boolean {
  const bytes = ipBytes(ip);
  const { address, mask } = parseCidr(cidr);
  if (!bytes || bytes.length !== address.length) return false;
  return bytes.every((b, i) => (b & (mask[i] ?? 0)) === ((address[i] ?? 0) & (mask[i] ?? 0)));
}

/** Refuses malformed constraints before they are baked into a CA certificate. */
export function validateNameConstraints(c: NameConstraints | undefined): void {
  for (const subtrees of [c?.permitted, c?.excluded]) {
    for (const cidr of subtrees?.ip ?? []) parseCidr(cidr);
    for (const dns of subtrees?.dns ?? []) {
      if (!/^\.?[a-z0-9*-]+(\.[a-z0-9-]+)*$/i.test(dns))
        throw badParameter(`"${dns}" is not a DNS name constraint`);
    }
  }
}

const KINDS = [
  ["dns", dnsWithin],
  ["ip", ipWithin],
  ["email", emailWithin],
  ["uri", uriWithin],
] as const;

/** The names of a certificate, by constraint kind; a host-like common name counts as a DNS name. */
function namesOf(subject: string, sans: SubjectAlternativeNames): NameSubtrees {
  const cn = /(?:^|,)\s*CN=([^,]+)/i.exec(subject)?.[1]?.trim();
  const cnIsHost = cn !== undefined && /^[a-z0-9*-]+(\.[a-z0-9-]+)+$/i.test(cn);
  return {
    dns: [...sans.dnsNames, ...(cnIsHost && !IPV4.test(cn) ? [cn] : [])],
    ip: sans.ipAddresses,
    email: sans.emails,
    uri: sans.uris,
  };
}

/**
 * Refuses names outside a CA's permitted subtrees or inside its excluded ones (RFC 5280 §4.2.1.10),
 * for the CA and every CA above it: a relying party would reject the certificate anyway.
 */
export function enforceNameConstraints(
  constraints: { ca: string; constraints: NameConstraints | undefined }[],
  subject: string,
  sans: SubjectAlternativeNames,
): void {
  const names = namesOf(subject, sans);
  for (const { ca, constraints: c } of constraints) {
    if (!c) continue;
    const permitted = c.permitted ?? EMPTY;
    const excluded = c.excluded ?? EMPTY;
    for (const [kind, within] of KINDS) {
      for (const name of names[kind]) {
        const bad = excluded[kind].find((base) => within(name, base));
        if (bad)
          throw badParameter(`${kind} name "${name}" is excluded by CA ${ca}'s name constraint "${bad}"`);
        if (permitted[kind].length > 0 && !permitted[kind].some((base) => within(name, base)))
          throw badParameter(
            `${kind} name "${name}" is outside CA ${ca}'s permitted names (${permitted[kind].join(", ")})`,
          );
      }
    }
  }
}
