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
  return Buffer.concat([Buffer.of(identifier), encodedLength(length), ...parts]);
}

/** X.690 §8.1.3: short form below 128, else the count of length bytes and the big-endian length. */
function encodedLength(length: number): Buffer {
  if (length < 0x80) return Buffer.of(length);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
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
