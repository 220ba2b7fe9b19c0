import { createHash } from "node:crypto";
import { DomainError } from "../domain/errors.js";
import type { CertificateFacts, SubjectAltName } from "../domain/inventory/model.js";
import type { CertificateFactsReader } from "../domain/inventory/ports.js";

/**
 * Reads a certificate's inventory facts by walking its DER in place (RFC 5280 §4.1, X.690 §8).
 * bench/inventory measured the library paths at a million certificates: @peculiar/x509 builds a
 * full object model per certificate and asn1js's fromBER alone builds a block tree, each hundreds of
 * microseconds, minutes per million; walking tags and lengths without building anything is a few
 * microseconds. Nothing here signs or encodes; test/unit/certificate-facts-reader.test.ts holds the
 * facts to what @peculiar/x509 and node:crypto read from the same bytes.
 */
export function createCertificateFactsReader(): CertificateFactsReader {
  return { read: readCertificateFacts };
}

const SHORT_NAMES: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.4": "SN",
  "2.5.4.5": "serialNumber",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.9": "street",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.12": "T",
  "2.5.4.42": "G",
  "2.5.4.43": "I",
  "0.9.2342.19200300.100.1.25": "DC",
  "1.2.840.113549.1.9.1": "E",
};

const SIGNATURE_ALGORITHMS: Record<string, string> = {
  "1.2.840.113549.1.1.4": "md5WithRSAEncryption",
  "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
  "1.2.840.113549.1.1.10": "RSASSA-PSS",
  "1.2.840.113549.1.1.11": "sha256WithRSAEncryption",
  "1.2.840.113549.1.1.12": "sha384WithRSAEncryption",
  "1.2.840.113549.1.1.13": "sha512WithRSAEncryption",
  "1.2.840.10045.4.1": "ecdsa-with-SHA1",
  "1.2.840.10045.4.3.2": "ecdsa-with-SHA256",
  "1.2.840.10045.4.3.3": "ecdsa-with-SHA384",
  "1.2.840.10045.4.3.4": "ecdsa-with-SHA512",
  "1.2.840.10040.4.3": "dsa-with-SHA1",
  "1.3.101.112": "Ed25519",
  "1.3.101.113": "Ed448",
};

const CURVES: Record<string, { name: string; bits: number }> = {
  "1.2.840.10045.3.1.7": { name: "P-256", bits: 256 },
  "1.3.132.0.34": { name: "P-384", bits: 384 },
  "1.3.132.0.35": { name: "P-521", bits: 521 },
  "1.3.132.0.10": { name: "secp256k1", bits: 256 },
};

const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8: 0x0c,
  printable: 0x13,
  t61: 0x14,
  ia5: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  universal: 0x1c,
  bmp: 0x1e,
  sequence: 0x30,
  set: 0x31,
} as const;

const bad = (message: string) => new DomainError("BadParameter", `Not an X.509 certificate: ${message}`);

/** One DER element: its tag byte and where its contents start and end in the buffer. */
interface Element {
  tag: number;
  start: number;
  end: number;
}

/** X.690 §8.1: the element at `at`; definite lengths only, as DER requires. */
function element(b: Buffer, at: number, limit: number): Element {
  if (at + 2 > limit) throw bad("an element runs past its end");
  const tag = b[at] as number;
  if ((tag & 0x1f) === 0x1f) throw bad("a high tag number is not used in certificates");
  let length = b[at + 1] as number;
  let start = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4) throw bad("an indefinite or oversized length");
    if (start + bytes > limit) throw bad("a length runs past its end");
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + (b[start + i] as number);
    start += bytes;
  }
  const end = start + length;
  if (end > limit) throw bad("an element runs past its end");
  return { tag, start, end };
}

/** The elements inside a constructed element. */
function children(b: Buffer, parent: Element): Element[] {
  const out: Element[] = [];
  for (let at = parent.start; at < parent.end; ) {
    const child = element(b, at, parent.end);
    out.push(child);
    at = child.end;
  }
  return out;
}

function expect(e: Element | undefined, tag: number, what: string): Element {
  if (!e || e.tag !== tag) throw bad(`${what} is missing or of the wrong type`);
  return e;
}

/** X.690 §8.19: base-128 arcs, the first two packed as 40 * x + y. */
function oid(b: Buffer, e: Element | undefined): string {
  const { start, end } = expect(e, TAG.oid, "an object identifier");
  const arcs: number[] = [];
  let value = 0;
  for (let i = start; i < end; i++) {
    const byte = b[i] as number;
    value = value * 128 + (byte & 0x7f);
    if (byte & 0x80) continue;
    if (arcs.length === 0)
      arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
    else arcs.push(value);
    value = 0;
  }
  return arcs.join(".");
}

const hex = (b: Buffer, start: number, end: number) => b.toString("hex", start, end);

function text(b: Buffer, e: Element): string {
  switch (e.tag) {
    case TAG.utf8:
      return b.toString("utf8", e.start, e.end);
    case TAG.printable:
    case TAG.ia5:
    case TAG.t61:
      return b.toString("latin1", e.start, e.end);
    case TAG.bmp:
      return Buffer.from(b.subarray(e.start, e.end)).swap16().toString("utf16le");
    case TAG.universal: {
      let out = "";
      for (let i = e.start; i + 3 < e.end; i += 4) out += String.fromCodePoint(b.readUInt32BE(i));
      return out;
    }
    default:
      // RFC 4514 §2.4: a value of another type is written as # and the hex of its encoding.
      return `#${hex(b, e.start - headerLength(e), e.end)}`;
  }
}

const headerLength = (e: Element) => {
  const length = e.end - e.start;
  return length < 0x80 ? 2 : length < 0x100 ? 3 : length < 0x10000 ? 4 : 5;
};

/** RFC 4514 escaping of the characters that would make the string ambiguous. */
const escapeValue = (value: string) => value.replace(/([,+"\\<>;])/g, "\\$1");

/** Name ::= SEQUENCE OF RDN, RDN ::= SET OF AttributeTypeAndValue; written in the order held. */
function formatName(b: Buffer, name: Element): string {
  const parts: string[] = [];
  for (const rdn of children(b, expect(name, TAG.sequence, "a name"))) {
    const attributes = children(b, expect(rdn, TAG.set, "a relative distinguished name")).map((atv) => {
      const [type, value] = children(b, expect(atv, TAG.sequence, "an attribute"));
      if (!value) throw bad("an attribute has no value");
      const id = oid(b, type);
      return `${SHORT_NAMES[id] ?? id}=${escapeValue(text(b, value))}`;
    });
    parts.push(attributes.join("+"));
  }
  return parts.join(", ");
}

const digits = (b: Buffer, at: number, count: number) => Number(b.toString("latin1", at, at + count));

/** RFC 5280 §4.1.2.5: UTCTime YYMMDDHHMMSSZ (years 50-99 are 19xx) or GeneralizedTime. */
function time(b: Buffer, e: Element | undefined): Date {
  if (!e || (e.tag !== TAG.utcTime && e.tag !== TAG.generalizedTime)) throw bad("validity is not a time");
  let at = e.start;
  let year: number;
  if (e.tag === TAG.utcTime) {
    year = digits(b, at, 2);
    year += year < 50 ? 2000 : 1900;
    at += 2;
  } else {
    year = digits(b, at, 4);
    at += 4;
  }
  const ms = Date.UTC(
    year,
    digits(b, at, 2) - 1,
    digits(b, at + 2, 2),
    digits(b, at + 4, 2),
    digits(b, at + 6, 2),
    digits(b, at + 8, 2),
  );
  if (Number.isNaN(ms)) throw bad("a time is not well formed");
  return new Date(ms);
}

/** Bits of an INTEGER's unsigned value. */
function bitLength(b: Buffer, e: Element): number {
  let start = e.start;
  while (start < e.end && b[start] === 0) start++;
  if (start === e.end) return 0;
  return (e.end - start - 1) * 8 + (32 - Math.clz32(b[start] as number));
}

/** RFC 5280 §4.1.2.7 SubjectPublicKeyInfo: the algorithm, and the size from the key or curve. */
function publicKey(b: Buffer, spki: Element): Pick<CertificateFacts, "keyType" | "keySize" | "curve"> {
  const [algorithm, key] = children(b, expect(spki, TAG.sequence, "the public key info"));
  const [algorithmId, parameters] = children(b, expect(algorithm, TAG.sequence, "the key algorithm"));
  const id = oid(b, algorithmId);
  if (id === "1.2.840.113549.1.1.1" || id === "1.2.840.113549.1.1.10") {
    // RFC 8017 A.1.1 RSAPublicKey ::= SEQUENCE { modulus, publicExponent }, after the unused-bits byte.
    const bits = expect(key, TAG.bitString, "the public key");
    const rsa = element(b, bits.start + 1, bits.end);
    const [modulus] = children(b, expect(rsa, TAG.sequence, "the RSA key"));
    return { keyType: "RSA", keySize: bitLength(b, expect(modulus, TAG.integer, "the modulus")) };
  }
  if (id === "1.2.840.10045.2.1") {
    const curveOid = parameters?.tag === TAG.oid ? oid(b, parameters) : "explicit";
    const curve = CURVES[curveOid];
    return { keyType: "EC", keySize: curve?.bits, curve: curve?.name ?? curveOid };
  }
  if (id === "1.3.101.112") return { keyType: "Ed25519", keySize: 256 };
  if (id === "1.3.101.113") return { keyType: "Ed448", keySize: 456 };
  if (id === "1.2.840.10040.4.1") {
    const [p] = parameters?.tag === TAG.sequence ? children(b, parameters) : [];
    return { keyType: "DSA", keySize: p?.tag === TAG.integer ? bitLength(b, p) : undefined };
  }
  return { keyType: id };
}

function ipAddress(b: Buffer, e: Element): string {
  if (e.end - e.start === 4) return `${b[e.start]}.${b[e.start + 1]}.${b[e.start + 2]}.${b[e.start + 3]}`;
  const groups: string[] = [];
  for (let i = e.start; i + 1 < e.end; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return groups.join(":");
}

/** RFC 5280 §4.2.1.6: rfc822Name [1], dNSName [2], uniformResourceIdentifier [6], iPAddress [7]. */
function subjectAltNames(b: Buffer, value: Element): SubjectAltName[] {
  const names: SubjectAltName[] = [];
  for (const general of children(b, element(b, value.start, value.end))) {
    const latin1 = () => b.toString("latin1", general.start, general.end);
    if (general.tag === 0x82) names.push({ type: "dns", value: latin1() });
    else if (general.tag === 0x81) names.push({ type: "email", value: latin1() });
    else if (general.tag === 0x86) names.push({ type: "uri", value: latin1() });
    else if (general.tag === 0x87) names.push({ type: "ip", value: ipAddress(b, general) });
  }
  return names;
}

interface ExtensionFacts {
  sans: SubjectAltName[];
  subjectKeyId?: string | undefined;
  authorityKeyId?: string | undefined;
  isCa: boolean;
}

function extensions(b: Buffer, wrapper: Element | undefined): ExtensionFacts {
  const facts: ExtensionFacts = { sans: [], isCa: false };
  if (!wrapper) return facts;
  const [list] = children(b, wrapper);
  for (const ext of children(b, expect(list, TAG.sequence, "the extensions"))) {
    const parts = children(b, expect(ext, TAG.sequence, "an extension"));
    const id = oid(b, parts[0]);
    const value = expect(parts[parts.length - 1], TAG.octetString, "an extension value");
    if (id === "2.5.29.17") facts.sans = subjectAltNames(b, value);
    else if (id === "2.5.29.14") {
      const ski = element(b, value.start, value.end);
      if (ski.tag === TAG.octetString) facts.subjectKeyId = hex(b, ski.start, ski.end);
    } else if (id === "2.5.29.35") {
      // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL, … }
      const keyId = children(b, element(b, value.start, value.end)).find((e) => e.tag === 0x80);
      if (keyId) facts.authorityKeyId = hex(b, keyId.start, keyId.end);
    } else if (id === "2.5.29.19") {
      const [cA] = children(b, element(b, value.start, value.end));
      facts.isCa = cA?.tag === TAG.boolean && b[cA.start] !== 0;
    }
  }
  return facts;
}

/** The facts of one certificate; BadParameter when the bytes are not a DER certificate. */
export function readCertificateFacts(der: Uint8Array): CertificateFacts {
  const b = Buffer.isBuffer(der) ? der : Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  let certificate: Element;
  try {
    certificate = expect(element(b, 0, b.length), TAG.sequence, "the certificate");
  } catch (error) {
    if (error instanceof DomainError) throw error;
    throw bad("the bytes are not DER");
  }
  if (certificate.end !== b.length) throw bad("there are bytes after the certificate");
  const [tbs, signatureAlgorithm] = children(b, certificate);
  const fields = children(b, expect(tbs, TAG.sequence, "the TBSCertificate"));
  // RFC 5280 §4.1: version [0] EXPLICIT is absent for v1 certificates.
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0;
  const at = (i: number) => fields[offset + i];
  const serial = expect(at(0), TAG.integer, "the serial number");
  const [notBefore, notAfter] = children(b, expect(at(3), TAG.sequence, "the validity"));
  const issuer = expect(at(2), TAG.sequence, "the issuer");
  const subject = expect(at(4), TAG.sequence, "the subject");
  const ext = extensions(
    b,
    fields.find((e) => e.tag === 0xa3),
  );
  const sameName = b.compare(b, subject.start, subject.end, issuer.start, issuer.end) === 0;
  const [sigId] = children(b, expect(signatureAlgorithm, TAG.sequence, "the signature algorithm"));
  const sigOid = oid(b, sigId);
  const serialStart =
    serial.end - serial.start > 1 && b[serial.start] === 0 ? serial.start + 1 : serial.start;
  return {
    fingerprintSha256: createHash("sha256").update(b).digest("hex"),
    subject: formatName(b, subject),
    issuer: formatName(b, issuer),
    serialNumber: hex(b, serialStart, serial.end),
    notBefore: time(b, notBefore),
    notAfter: time(b, notAfter),
    ...publicKey(b, expect(at(5), TAG.sequence, "the public key info")),
    signatureAlgorithm: SIGNATURE_ALGORITHMS[sigOid] ?? sigOid,
    sans: ext.sans,
    selfSigned:
      sameName &&
      (ext.authorityKeyId === undefined ||
        ext.subjectKeyId === undefined ||
        ext.authorityKeyId === ext.subjectKeyId),
    isCa: ext.isCa,
    subjectKeyId: ext.subjectKeyId,
    authorityKeyId: ext.authorityKeyId,
  };
}
