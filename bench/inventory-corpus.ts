/**
 * The certificates bench/inventory ingests: real X.509 DER, each signed by one of a dozen CAs
 * (ECDSA P-256 and P-384, RSA-2048 with SHA-256, and a legacy RSA CA signing with SHA-1), with
 * subject keys drawn from a pool (EC, RSA 1024-4096, Ed25519), one to three DNS names under ten
 * thousand domains, and validity spread from a year ago to two years ahead. Made once per count and
 * kept in bench/.cache as length-prefixed DER, since signing a million takes minutes.
 */
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";
import { existsSync, fstatSync, mkdirSync, openSync, readSync, writeFileSync } from "node:fs";
import * as asn1js from "asn1js";
import { encode, explicit, extension, octetString, oid, sequence, set } from "../src/crypto/der.js";
import type { Observation } from "../src/domain/inventory/observation.js";

const CACHE = new URL("./.cache/", import.meta.url);
const DAY = 86_400_000;

export interface Corpus {
  /** The CA certificates, index = CA number. */
  cas: Uint8Array[];
  count: number;
  /** Certificate `i` and the index of the CA that signed it, read from the cache file. */
  cert(i: number): { der: Uint8Array; ca: number };
  /** The time the validity windows were spread around. */
  madeAt: number;
}

interface Generated {
  cas: Uint8Array[];
  certs: { der: Uint8Array; ca: number }[];
  madeAt: number;
}

interface Ca {
  name: string;
  key: KeyObject;
  hash: "sha256" | "sha384" | "sha1";
  algorithm: Buffer;
  nameDer: Buffer;
  ski: Buffer;
  der: Buffer;
  /** Share of the certificates it signs, in thousandths. */
  weight: number;
}

const NULL = Buffer.of(0x05, 0x00);
const ALGORITHMS = {
  "ecdsa-sha256": sequence([oid("1.2.840.10045.4.3.2")]),
  "ecdsa-sha384": sequence([oid("1.2.840.10045.4.3.3")]),
  "rsa-sha256": sequence([oid("1.2.840.113549.1.1.11"), NULL]),
  "rsa-sha1": sequence([oid("1.2.840.113549.1.1.5"), NULL]),
};

const integer = (bytes: Buffer) => encode(new asn1js.Integer({ valueHex: bytes }));
const utcTime = (ms: number) => encode(new asn1js.UTCTime({ valueDate: new Date(ms) }));
const utf8 = (text: string) => encode(new asn1js.Utf8String({ value: text }));
const printable = (text: string) => encode(new asn1js.PrintableString({ value: text }));
const rdn = (type: string, value: Buffer) => set([sequence([oid(type), value])]);
const name = (cn: string, org: string) =>
  sequence([rdn("2.5.4.6", printable("DE")), rdn("2.5.4.10", utf8(org)), rdn("2.5.4.3", utf8(cn))]);
const dnsNames = (names: string[]) =>
  sequence(names.map((n) => Buffer.concat([Buffer.of(0x82, n.length), Buffer.from(n, "latin1")])));

function spkiOf(key: KeyObject): Buffer {
  return key.export({ type: "spki", format: "der" });
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's value. */
function keyId(spki: Buffer): Buffer {
  const [, bits] = (asn1js.fromBER(spki).result as asn1js.Sequence).valueBlock.value;
  return createHash("sha1")
    .update((bits as asn1js.BitString).valueBlock.valueHexView)
    .digest();
}

function tbs(o: {
  serial: Buffer;
  algorithm: Buffer;
  issuer: Buffer;
  notBefore: number;
  notAfter: number;
  subject: Buffer;
  spki: Buffer;
  extensions: Buffer[];
}): Buffer {
  return sequence([
    explicit(0, [integer(Buffer.of(2))]),
    integer(o.serial),
    o.algorithm,
    o.issuer,
    sequence([utcTime(o.notBefore), utcTime(o.notAfter)]),
    o.subject,
    o.spki,
    explicit(3, [sequence(o.extensions)]),
  ]);
}

function signed(tbsDer: Buffer, algorithm: Buffer, hash: string, key: KeyObject): Buffer {
  const signature = sign(hash, tbsDer, key);
  const bitString = Buffer.concat([Buffer.of(0x03), length(signature.length + 1), Buffer.of(0), signature]);
  return sequence([tbsDer, algorithm, bitString]);
}

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n);
  return n < 0x100 ? Buffer.of(0x81, n) : Buffer.of(0x82, n >> 8, n & 0xff);
}

const basicConstraints = (ca: boolean) =>
  extension(oid("2.5.29.19"), true, sequence(ca ? [encode(new asn1js.Boolean({ value: true }))] : []));
const ski = (id: Buffer) => extension(oid("2.5.29.14"), false, octetString(id));
const aki = (id: Buffer) =>
  extension(oid("2.5.29.35"), false, sequence([Buffer.concat([Buffer.of(0x80, id.length), id])]));

function makeCas(madeAt: number): Ca[] {
  const specs: { name: string; kind: "ec256" | "ec384" | "rsa" | "rsa-sha1"; weight: number }[] = [
    ...Array.from({ length: 6 }, (_, i) => ({
      name: `Bench EC Issuing CA ${i + 1}`,
      kind: "ec256" as const,
      weight: 130,
    })),
    { name: "Bench EC P-384 CA", kind: "ec384", weight: 60 },
    ...Array.from({ length: 4 }, (_, i) => ({
      name: `Bench RSA Issuing CA ${i + 1}`,
      kind: "rsa" as const,
      weight: 30,
    })),
    { name: "Bench Legacy SHA-1 CA", kind: "rsa-sha1", weight: 40 },
  ];
  return specs.map((s) => {
    const { privateKey, publicKey } =
      s.kind === "ec256"
        ? generateKeyPairSync("ec", { namedCurve: "P-256" })
        : s.kind === "ec384"
          ? generateKeyPairSync("ec", { namedCurve: "P-384" })
          : generateKeyPairSync("rsa", { modulusLength: 2048 });
    const algorithm =
      s.kind === "ec256"
        ? ALGORITHMS["ecdsa-sha256"]
        : s.kind === "ec384"
          ? ALGORITHMS["ecdsa-sha384"]
          : s.kind === "rsa"
            ? ALGORITHMS["rsa-sha256"]
            : ALGORITHMS["rsa-sha1"];
    const hash = s.kind === "ec384" ? "sha384" : s.kind === "rsa-sha1" ? "sha1" : "sha256";
    const nameDer = name(s.name, "Strongroom Bench");
    const spki = spkiOf(publicKey);
    const id = keyId(spki);
    const der = signed(
      tbs({
        serial: randomBytes(16).fill(1, 0, 1),
        algorithm,
        issuer: nameDer,
        notBefore: madeAt - 400 * DAY,
        notAfter: madeAt + 3650 * DAY,
        subject: nameDer,
        spki,
        extensions: [basicConstraints(true), ski(id)],
      }),
      algorithm,
      hash,
      privateKey,
    );
    return { name: s.name, key: privateKey, hash, algorithm, nameDer, ski: id, der, weight: s.weight };
  });
}

function subjectKeys(): Buffer[] {
  const keys: Buffer[] = [];
  const add = (count: number, make: () => KeyObject) => {
    for (let i = 0; i < count; i++) keys.push(spkiOf(make()));
  };
  add(60, () => generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey);
  add(12, () => generateKeyPairSync("ec", { namedCurve: "P-384" }).publicKey);
  add(16, () => generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey);
  add(6, () => generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey);
  add(2, () => generateKeyPairSync("rsa", { modulusLength: 4096 }).publicKey);
  add(4, () => generateKeyPairSync("ed25519").publicKey);
  return keys;
}

/** The domain certificate `i` is named under: ten thousand of them, `d{n}.bench.example`. */
export const domainOf = (i: number) => `d${(i * 7919) % 10_000}.bench.example`;
export const hostOf = (i: number) => `host${i}.${domainOf(i)}`;

function generate(count: number, madeAt: number, progress: (done: number) => void): Generated {
  const cas = makeCas(madeAt);
  const keys = subjectKeys();
  const pick: number[] = [];
  cas.forEach((ca, index) => {
    for (let w = 0; w < ca.weight; w++) pick.push(index);
  });
  const certs: Generated["certs"] = [];
  for (let i = 0; i < count; i++) {
    const caIndex = pick[(i * 104_729) % pick.length] as number;
    const ca = cas[caIndex] as Ca;
    const spki = keys[(i * 31) % keys.length] as Buffer;
    const notBefore = madeAt - 365 * DAY + ((i * 2_654_435_761) % (730 * DAY));
    const lifetime = [90, 365, 397, 730][i % 4] as number;
    const host = hostOf(i);
    const names = [
      host,
      ...(i % 3 === 0 ? [`www.${domainOf(i)}`] : []),
      ...(i % 5 === 0 ? [`*.${domainOf(i)}`] : []),
    ];
    const extensions = [
      basicConstraints(false),
      aki(ca.ski),
      extension(oid("2.5.29.17"), false, dnsNames(names)),
    ];
    const der = signed(
      tbs({
        serial: randomBytes(16).fill(1, 0, 1),
        algorithm: ca.algorithm,
        issuer: ca.nameDer,
        notBefore,
        notAfter: notBefore + lifetime * DAY,
        subject: name(host, `Org ${i % 500}`),
        spki,
        extensions,
      }),
      ca.algorithm,
      ca.hash,
      ca.key,
    );
    certs.push({ der, ca: caIndex });
    if (i % 10_000 === 0) progress(i);
  }
  return { cas: cas.map((c) => c.der), certs, madeAt };
}

function save(file: URL, corpus: Generated): void {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(12);
  header.writeUInt32BE(corpus.cas.length, 0);
  header.writeDoubleBE(corpus.madeAt, 4);
  parts.push(header);
  for (const ca of corpus.cas) parts.push(prefixed(ca, 255));
  for (const c of corpus.certs) parts.push(prefixed(c.der, c.ca));
  writeFileSync(file, Buffer.concat(parts));
}

function prefixed(der: Uint8Array, tag: number): Buffer {
  const head = Buffer.alloc(3);
  head.writeUInt8(tag, 0);
  head.writeUInt16BE(der.length, 1);
  return Buffer.concat([head, der]);
}

/**
 * The cache file opened for reading: only each certificate's offset is held in memory, so the
 * benchmark's RSS is the inventory's and not a copy of the corpus.
 */
function load(file: URL): Corpus {
  const fd = openSync(file, "r");
  const size = fstatSync(fd).size;
  const header = Buffer.alloc(12);
  readSync(fd, header, 0, 12, 0);
  const caCount = header.readUInt32BE(0);
  const madeAt = header.readDoubleBE(4);
  const cas: Uint8Array[] = [];
  const offsets: number[] = [];
  const chunk = Buffer.alloc(16 * 1024 * 1024);
  let base = 12;
  let filled = 0;
  let at = 0;
  while (base + at < size) {
    if (at + 3 > filled || at + 3 + chunk.readUInt16BE(at + 1) > filled) {
      base += at;
      filled = readSync(fd, chunk, 0, chunk.length, base);
      at = 0;
    }
    const length = chunk.readUInt16BE(at + 1);
    if (cas.length < caCount) cas.push(Buffer.from(chunk.subarray(at + 3, at + 3 + length)));
    else offsets.push(base + at);
    at += 3 + length;
  }
  const head = Buffer.alloc(3);
  return {
    cas,
    count: offsets.length,
    madeAt,
    cert(i) {
      const offset = offsets[i] as number;
      readSync(fd, head, 0, 3, offset);
      const der = Buffer.alloc(head.readUInt16BE(1));
      readSync(fd, der, 0, der.length, offset + 3);
      return { der, ca: head.readUInt8(0) };
    },
  };
}

/** The corpus of `count` certificates, from the cache when it was made before. */
export function corpus(count: number, log: (line: string) => void): Corpus {
  mkdirSync(CACHE, { recursive: true });
  const file = new URL(`inventory-${count}.bin`, CACHE);
  if (existsSync(file)) return load(file);
  const started = performance.now();
  const made = generate(count, Date.now(), (done) => {
    if (done > 0 && done % 100_000 === 0) log(`  generated ${done.toLocaleString("en")} certificates`);
  });
  save(file, made);
  made.certs.length = 0;
  log(
    `  generated ${count.toLocaleString("en")} certificates in ${((performance.now() - started) / 1000).toFixed(0)} s (cached in bench/.cache)`,
  );
  return load(file);
}

/** Three places per certificate: two TLS endpoints and one of file, vault (with an owner tag), AKV or CA. */
export function observations(
  c: Corpus,
  i: number,
  seenAt: Date,
): (Observation & { owner?: { team: string } })[] {
  const cert = c.cert(i);
  const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const host = hostOf(i);
  const chain = [c.cas[cert.ca] as Uint8Array];
  const third = i % 4;
  const place =
    third === 0
      ? { location: `file://agent-${i % 50}/etc/ssl/certs/${host}.pem`, source: "file" as const }
      : third === 1
        ? {
            location: `vault://vault${i % 20}/certificates/c${i}/v1`,
            source: "vault" as const,
            owner: { team: `team-${i % 40}` },
          }
        : third === 2
          ? { location: `akv://kv${i % 10}.vault.azure.net/certificates/c${i}/1`, source: "akv" as const }
          : { location: `ca://ca${cert.ca}/${i.toString(16)}`, source: "ca" as const };
  return [
    { der: cert.der, chain, location: `tls://${ip}:443?sni=${host}`, source: "tls", seenAt },
    { der: cert.der, location: `tls://${ip}:8443`, source: "tls", seenAt },
    { der: cert.der, seenAt, ...place },
  ];
}
