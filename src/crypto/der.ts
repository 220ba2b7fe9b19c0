import * as asn1js from "asn1js";

/**
 * DER assembled from parts that are already encoded (a subject name, a public key, extensions):
 * tag, length, contents. asn1js builds and writes every element as an object tree, which for a
 * certificate request costs half a millisecond where concatenation costs microseconds; what needs
 * real encoding rules (object identifiers, times) is still encoded by asn1js, once.
 */
export function derElement(tag: number, ...contents: Uint8Array[]): Buffer {
  let length = 0;
  for (const part of contents) length += part.length;
  return Buffer.concat([Buffer.of(tag), derLength(length), ...contents]);
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.of(length);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export const derSequence = (...contents: Uint8Array[]): Buffer => derElement(0x30, ...contents);

/** An unsigned big-endian number as a DER INTEGER: no redundant leading zero, one before a set top bit. */
export function derUnsignedInteger(bytes: Uint8Array): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  return (trimmed[0] ?? 0) & 0x80 ? derElement(0x02, Buffer.of(0), trimmed) : derElement(0x02, trimmed);
}

/** A BIT STRING of whole bytes. */
export const derBitString = (bytes: Uint8Array): Buffer => derElement(0x03, Buffer.of(0), bytes);

/** An OBJECT IDENTIFIER, encoded by asn1js (base-128 arcs). */
export const derOid = (oid: string): Buffer =>
  Buffer.from(new asn1js.ObjectIdentifier({ value: oid }).toBER());
