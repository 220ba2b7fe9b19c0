import { badParameter } from "../errors.js";
import type { ScanTarget, StartTlsProtocol, TlsScanSpec } from "./model.js";

/** One address (or host name) and port to connect to, with the server name to send, if any. */
export interface Endpoint {
  /** An IPv4 or IPv6 address, or a host name resolved at scan time. */
  host: string;
  port: number;
  sni?: string | undefined;
  starttls?: StartTlsProtocol | undefined;
  /** `tls://host:port?sni=name`: the inventory location of what this endpoint presents. */
  location: string;
}

/** A run of addresses of one family, both ends included. */
interface AddressRange {
  family: 4 | 6;
  first: bigint;
  last: bigint;
}

/** Where each STARTTLS protocol listens by default (RFC 3207 SMTP, RFC 2595 IMAP/POP3, RFC 4511 LDAP). */
export const STARTTLS_PORTS: Readonly<Record<number, StartTlsProtocol>> = {
  25: "smtp",
  587: "smtp",
  110: "pop3",
  143: "imap",
  389: "ldap",
};

const HOST_NAME =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

function parseIpv6(text: string): bigint | undefined {
  if (!/^[0-9a-f:.]+$/i.test(text) || text.split("::").length > 2) return undefined;
  let tail = text;
  let embedded: bigint | undefined;
  // A trailing dotted quad (::ffff:10.0.0.1) fills the last two groups.
  const quad = /:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad?.[1]) {
    embedded = parseIpv4(quad[1]);
    if (embedded === undefined) return undefined;
    tail = `${text.slice(0, -quad[1].length)}0:0`;
  }
  const [head, rest] = tail.includes("::") ? tail.split("::") : [tail, undefined];
  const groups = (s: string | undefined) => (s ? s.split(":") : []);
  const left = groups(head);
  const right = groups(rest);
  const missing = 8 - left.length - right.length;
  if (rest === undefined ? missing !== 0 : missing < 1) return undefined;
  const all = [...left, ...Array<string>(rest === undefined ? 0 : missing).fill("0"), ...right];
  let value = 0n;
  for (const group of all) {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) return undefined;
    value = (value << 16n) | BigInt(Number.parseInt(group, 16));
  }
  if (embedded !== undefined) value = (value & ~0xffffffffn) | embedded;
  return value;
}

function parseAddress(text: string): { family: 4 | 6; value: bigint } | undefined {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = parseIpv6(text);
  return v6 === undefined ? undefined : { family: 6, value: v6 };
}

function formatAddress(family: 4 | 6, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 255n)).join(".");
  const groups = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((value >> shift) & 0xffffn).toString(16));
  // RFC 5952 §4.2: the longest run of two or more zero groups becomes "::".
  let best = { at: -1, length: 1 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > best.length) best = { at: i, length: j - i };
    i = j;
  }
  if (best.at < 0) return groups.join(":");
  return `${groups.slice(0, best.at).join(":")}::${groups.slice(best.at + best.length).join(":")}`;
}

/**
 * `10.0.0.5`, `10.0.0.0/24`, `10.0.0.1-10.0.0.20`, `10.0.0.1-20` (last octet) and IPv6 forms of the
 * first three; a host name is not a range (undefined).
 */
function parseRange(text: string): AddressRange | undefined {
  const cidr = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (cidr?.[1] && cidr[2]) {
    const base = parseAddress(cidr[1]);
    if (!base) throw badParameter(`"${text}" is not a CIDR block: ${cidr[1]} is not an IP address`);
    const bits = base.family === 4 ? 32 : 128;
    const prefix = Number(cidr[2]);
    if (prefix > bits)
      throw badParameter(`"${text}" is not a CIDR block: /${prefix} is longer than ${bits} bits`);
    const size = 1n << BigInt(bits - prefix);
    const first = base.value & ~(size - 1n);
    return { family: base.family, first, last: first + size - 1n };
  }
  const dash = text.indexOf("-");
  if (dash > 0 && parseAddress(text.slice(0, dash))) {
    const start = parseAddress(text.slice(0, dash));
    const endText = text.slice(dash + 1);
    if (!start) throw badParameter(`"${text}" is not an address range`);
    let end = parseAddress(endText);
    if (!end && start.family === 4 && /^\d{1,3}$/.test(endText) && Number(endText) <= 255) {
      end = { family: 4, value: (start.value & ~255n) | BigInt(endText) };
    }
    if (!end || end.family !== start.family) {
      throw badParameter(
        `"${text}" is not an address range: "${endText}" is not an address of the same family`,
      );
    }
    if (end.value < start.value)
      throw badParameter(`"${text}" is not an address range: it ends before it starts`);
    return { family: start.family, first: start.value, last: end.value };
  }
  const single = parseAddress(text);
  return single ? { family: single.family, first: single.value, last: single.value } : undefined;
}

function targetRange(text: string): AddressRange | { host: string } {
  const trimmed = text.trim().replace(/^\[(.*)\]$/, "$1");
  if (!trimmed) throw badParameter("A target must not be empty");
  const range = parseRange(trimmed);
  if (range) return range;
  if (/^[\d.]+$/.test(trimmed) || trimmed.includes("/") || trimmed.includes(":")) {
    throw badParameter(`"${text}" is not an IP address, CIDR block, range or host name`);
  }
  if (!HOST_NAME.test(trimmed))
    throw badParameter(`"${text}" is not an IP address, CIDR block, range or host name`);
  return { host: trimmed.toLowerCase() };
}

/** Ports as `443`, `8000-8010` and lists of those; each 1–65535. */
export function parsePorts(items: readonly (string | number)[]): number[] {
  const ports = new Set<number>();
  for (const item of items.flatMap((i) => String(i).split(","))) {
    const text = item.trim();
    const span = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
    if (!span?.[1]) throw badParameter(`"${text}" is not a port or port range such as 443 or 8000-8010`);
    const from = Number(span[1]);
    const to = span[2] === undefined ? from : Number(span[2]);
    if (from < 1 || to > 65535 || to < from)
      throw badParameter(`"${text}" is not a port range within 1-65535`);
    for (let p = from; p <= to; p++) ports.add(p);
  }
  return [...ports].sort((a, b) => a - b);
}

/** A server name as TLS SNI carries it (RFC 6066 §3: a DNS host name, never an address). */
export function checkServerName(name: string): string {
  const lower = name.trim().toLowerCase();
  if (!HOST_NAME.test(lower) || parseAddress(lower)) {
    throw badParameter(`"${name}" is not a DNS name that SNI can carry`);
  }
  return lower;
}

export function tlsLocation(host: string, port: number, sni: string | undefined): string {
  const shown = host.includes(":") ? `[${host}]` : host;
  return `tls://${shown}:${port}${sni ? `?sni=${sni}` : ""}`;
}

interface Prepared {
  ranges: { range: AddressRange | { host: string }; target: ScanTarget }[];
  exclusions: AddressRange[];
  ports: number[];
}

function prepare(spec: TlsScanSpec): Prepared {
  if (spec.targets.length === 0) throw badParameter("A scan needs at least one target");
  const ports = spec.ports.length > 0 ? spec.ports : [443];
  const exclusions = spec.exclude.map((text) => {
    const range = targetRange(text);
    if ("host" in range) throw badParameter(`Exclusion "${text}" must be an address, CIDR block or range`);
    return range;
  });
  return {
    ranges: spec.targets.map((target) => ({ range: targetRange(target.address), target })),
    exclusions,
    ports,
  };
}

/**
 * Checks a scan's targets and returns how many addresses they cover (exclusions not subtracted, so a
 * huge block cannot slip under the limit by excluding most of it). Refuses more than `maxAddresses`.
 */
export function countAddresses(spec: TlsScanSpec, maxAddresses: number): number {
  const { ranges } = prepare(spec);
  let total = 0n;
  for (const { range, target } of ranges) {
    total += "host" in range ? 1n : range.last - range.first + 1n;
    if (total > BigInt(maxAddresses)) {
      throw badParameter(
        `The targets cover more than the ${maxAddresses} addresses one scan may cover (at "${target.address}"); split the scan or raise discoveryMaxAddresses`,
        "TooManyAddresses",
      );
    }
  }
  return Number(total);
}

/**
 * Every endpoint of a scan, in a fixed order (so a resumed run skips what it already did): each
 * address not excluded, each port, first without SNI, then with each server name for it.
 * `knownNames` gives the DNS names already known for an address when the spec asks for them.
 */
export function* endpoints(
  spec: TlsScanSpec,
  knownNames: ReadonlyMap<string, readonly string[]> = new Map(),
): Generator<Endpoint> {
  const { ranges, exclusions, ports } = prepare(spec);
  // Overlapping targets (a block and one of its addresses with its own names) scan each place once.
  const seen = new Set<string>();
  for (const { range, target } of ranges) {
    const targetPorts = target.ports && target.ports.length > 0 ? target.ports : ports;
    const hosts: Iterable<string> =
      "host" in range
        ? [range.host]
        : (function* () {
            for (let v = range.first; v <= range.last; v++) {
              if (exclusions.some((x) => x.family === range.family && v >= x.first && v <= x.last)) continue;
              yield formatAddress(range.family, v);
            }
          })();
    for (const host of hosts) {
      const names = new Set([
        ...(target.sni ?? []),
        ...spec.sni,
        ...("host" in range ? [range.host] : []),
        ...(spec.knownNames ? (knownNames.get(host) ?? []) : []),
      ]);
      for (const port of targetPorts) {
        const starttls = spec.starttls[port] ?? STARTTLS_PORTS[port];
        for (const sni of [undefined, ...names]) {
          const location = tlsLocation(host, port, sni);
          if (seen.has(location)) continue;
          seen.add(location);
          yield { host, port, sni, starttls, location };
        }
      }
    }
  }
}

/** Normalises what a caller asked for into a spec, refusing anything malformed. */
export interface TargetInput {
  address: string;
  ports?: readonly (string | number)[] | undefined;
  sni?: readonly string[] | undefined;
}

export function tlsScanSpec(input: {
  targets: readonly (string | TargetInput)[];
  ports?: readonly (string | number)[] | undefined;
  exclude?: readonly string[] | undefined;
  sni?: readonly string[] | undefined;
  knownNames?: boolean | undefined;
  starttls?: Readonly<Record<string, string>> | undefined;
  concurrency?: number | undefined;
  timeoutMs?: number | undefined;
  ratePerSecond?: number | undefined;
}): TlsScanSpec {
  const targets = input.targets.map((t): ScanTarget => {
    if (typeof t !== "string") {
      if (typeof t.address !== "string") throw badParameter("Each target needs an address");
      return {
        address: t.address,
        ...(t.ports && { ports: parsePorts(t.ports) }),
        ...(t.sni && { sni: t.sni.map(checkServerName) }),
      };
    }
    // CLI form: address=name,name gives server names for that target only.
    const [address = "", names] = t.split("=", 2);
    return { address: address.trim(), ...(names && { sni: names.split(",").map(checkServerName) }) };
  });
  const starttls: Record<number, StartTlsProtocol> = {};
  for (const [port, protocol] of Object.entries(input.starttls ?? {})) {
    const [p] = parsePorts([port]);
    if (!["smtp", "imap", "pop3", "ldap"].includes(protocol)) {
      throw badParameter(`STARTTLS protocol "${protocol}" is not one of smtp, imap, pop3, ldap`);
    }
    starttls[p as number] = protocol as StartTlsProtocol;
  }
  const bounded = (value: number | undefined, name: string, min: number, max: number) => {
    if (value === undefined) return undefined;
    if (!Number.isInteger(value) || value < min || value > max) {
      throw badParameter(`${name} must be a whole number from ${min} to ${max}`);
    }
    return value;
  };
  return {
    kind: "tls",
    targets,
    ports: parsePorts(input.ports ?? []),
    exclude: [...(input.exclude ?? [])],
    sni: (input.sni ?? []).map(checkServerName),
    knownNames: input.knownNames ?? true,
    starttls,
    concurrency: bounded(input.concurrency, "concurrency", 1, 4096) ?? 64,
    timeoutMs: bounded(input.timeoutMs, "timeoutMs", 100, 120_000) ?? 5000,
    ratePerSecond: bounded(input.ratePerSecond, "ratePerSecond", 1, 100_000) ?? 500,
  };
}
