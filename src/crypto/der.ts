import * as asn1js from "asn1js";

/**
 * DER assembled from elements that are already encoded. The CA's certificate and OCSP builders keep
 * everything that is constant per CA as bytes, and a Key Vault CSR or PFX wraps a subject, a key,
 * extensions and certificates that exist as bytes already: only what changes per message is encoded.
 * asn1js, pkijs and @peculiar/x509 object trees cost milliseconds per certificate; writing a tag, a
 * length and the concatenated parts costs microseconds. Values with real encoding rules (object
 * identifiers, integers from numbers, times, strings) are still encoded by asn1js.
 */
function element(identifier: number, parts: readonly Uint8Array[]): Buffer {
  let length = 0;
  for (const part of parts) length += part.length;
  // One buffer written in place: a certificate and its OCSP answer are some hundred elements, and
  // a buffer each for the tag, the length and the concatenation was a visible share of signing.
  const header = 1 + lengthBytes(length);
  const out = Buffer.allocUnsafe(header + length);
  out[0] = identifier;
  writeLength(out, 1, length);
  let at = header;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** X.690 §8.1.3: how many bytes the length takes, short form below 128. */
const lengthBytes = (length: number): number =>
  length < 0x80 ? 1 : length < 0x100 ? 2 : length < 0x10000 ? 3 : length < 0x1000000 ? 4 : 5;

/** Writes `length` at `offset` as X.690 §8.1.3 has it: short form, or the count of bytes and the big-endian length. */
function writeLength(out: Buffer, offset: number, length: number): void {
  const count = lengthBytes(length) - 1;
  if (count === 0) {
    out[offset] = length;
    return;
  }
  out[offset] = 0x80 | count;
  for (let i = count, rest = length; i > 0; i--, rest = Math.floor(rest / 256)) out[offset + i] = rest % 256;
}

/** X.690 §8.1.3: short form below 128, else the count of length bytes and the big-endian length. */
export function encodedLength(length: number): Buffer {
  const out = Buffer.allocUnsafe(lengthBytes(length));
  writeLength(out, 0, length);
  return out;
}

export const encode = (block: asn1js.BaseBlock): Buffer => Buffer.from(block.toBER());

export const sequence = (parts: readonly Uint8Array[]): Buffer => element(0x30, parts);

export const set = (parts: readonly Uint8Array[]): Buffer => element(0x31, parts);

/** A context-specific [tag] EXPLICIT wrapper (or an IMPLICIT constructed one: the same bytes). */
export const explicit = (tag: number, parts: readonly Uint8Array[]): Buffer => {
  if (tag > 30) throw new RangeError(`context tag ${tag} needs the high-tag-number form`);
  return element(0xa0 | tag, parts);
};

export const oid = (value: string): Buffer => encode(new asn1js.ObjectIdentifier({ value }));

export const octetString = (bytes: Uint8Array): Buffer => element(0x04, [bytes]);

const CRITICAL = encode(new asn1js.Boolean({ value: true }));

/** RFC 5280 §4.1 Extension; `critical` is left out when false, as DER requires of a DEFAULT. */
export const extension = (id: Buffer, critical: boolean, value: Uint8Array): Buffer =>
  sequence(critical ? [id, CRITICAL, octetString(value)] : [id, octetString(value)]);

/** The elements of a DER SEQUENCE (or other constructed value) as asn1js blocks, or undefined. */
export function children(block: asn1js.AsnType | undefined): asn1js.BaseBlock[] | undefined {
  return block instanceof asn1js.Constructed ? block.valueBlock.value : undefined;
}

/** The bytes a parsed block was decoded from, copied out of the shared input. */
export const raw = (block: asn1js.BaseBlock): Buffer => Buffer.from(block.valueBeforeDecodeView);

/**
 * Where the contents of the DER element at `offset` start and end, and its tag (low-tag-number
 * form only); undefined when the element is not one this reads or runs past the end of `der`.
 */
export function elementAt(
  der: Uint8Array,
  offset: number,
): { tag: number; start: number; end: number } | undefined {
  const tag = der[offset];
  const first = der[offset + 1];
  if (tag === undefined || first === undefined || (tag & 0x1f) === 0x1f) return undefined;
  let length = first;
  let start = offset + 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4 || start + count > der.length) return undefined;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[start + i] as number);
    start += count;
  }
  const end = start + length;
  return end <= der.length ? { tag, start, end } : undefined;
}

const twoDigits = (n: number) => String(n).padStart(2, "0");

/**
 * RFC 5280 §4.1.2.5 and §5.1.2.4 Time: UTCTime (YYMMDDHHMMSSZ) through 2049, GeneralizedTime
 * (YYYYMMDDHHMMSSZ) from 2050, in whole seconds (the fraction dropped), as asn1js writes them. Written
 * here: a CRL holds one per revoked certificate, and asn1js's object per time cost ~20 µs each.
 */
export function derTime(date: Date): Buffer {
  const year = date.getUTCFullYear();
  const rest = [
    date.getUTCMonth() + 1,
    date.getUTCDate(),
    date.getUTCHours(),
    date.getUTCMinutes(),
    date.getUTCSeconds(),
  ]
    .map(twoDigits)
    .join("");
  return year < 2050
    ? element(0x17, [Buffer.from(`${twoDigits(year % 100)}${rest}Z`, "latin1")])
    : element(0x18, [Buffer.from(`${year}${rest}Z`, "latin1")]);
}
