import * as asn1js from "asn1js";

/**
 * DER assembled from elements that are already encoded. The CA's certificate and OCSP builders
 * keep everything that is constant per CA as bytes and encode only what changes per message:
 * asn1js, pkijs and @peculiar/x509 object trees cost milliseconds per certificate, these microseconds.
 */
function constructed(tagClass: number, tagNumber: number, parts: readonly Uint8Array[]): Buffer {
  // asn1js writes the tag and length; a Primitive flagged constructed carries the children's bytes.
  const block = new asn1js.Primitive({ idBlock: { tagClass, tagNumber }, valueHex: Buffer.concat(parts) });
  block.idBlock.isConstructed = true;
  return Buffer.from(block.toBER());
}

export const encode = (block: asn1js.BaseBlock): Buffer => Buffer.from(block.toBER());

export const sequence = (parts: readonly Uint8Array[]): Buffer => constructed(1, 16, parts);

/** A context-specific [tag] EXPLICIT wrapper. */
export const explicit = (tag: number, parts: readonly Uint8Array[]): Buffer => constructed(3, tag, parts);

export const oid = (value: string): Buffer => encode(new asn1js.ObjectIdentifier({ value }));

export const octetString = (bytes: Uint8Array): Buffer =>
  encode(new asn1js.OctetString({ valueHex: new Uint8Array(bytes) }));

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
