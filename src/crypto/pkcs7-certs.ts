import { webcrypto } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { badParameter } from "../domain/errors.js";

pkijs.setEngine("node", new pkijs.CryptoEngine({ name: "node", crypto: webcrypto as unknown as Crypto }));

export const CMS_OID = {
  data: "1.2.840.113549.1.7.1",
  signedData: "1.2.840.113549.1.7.2",
  envelopedData: "1.2.840.113549.1.7.3",
} as const;

/** The bytes of a Buffer as the ArrayBuffer asn1js reads. */
export const arrayBuffer = (b: Uint8Array): ArrayBuffer =>
  b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

/** Parses DER with asn1js; BadParameter naming `what` when it is not DER. */
export function parseDer(der: Uint8Array, what: string): asn1js.AsnType {
  const parsed = asn1js.fromBER(arrayBuffer(der));
  if (parsed.offset === -1) throw badParameter(`${what} is not DER: ${parsed.result.error}`);
  return parsed.result;
}

export const readPkijsCertificate = (der: Uint8Array): pkijs.Certificate =>
  new pkijs.Certificate({ schema: parseDer(der, "The certificate") });

/**
 * A degenerate certs-only SignedData (RFC 5652 §5.2, RFC 8894 §3.4, RFC 7030 §4.1.3): certificates
 * and no signer, how SCEP and EST hand out CA and issued certificates.
 */
export function certsOnly(certificates: Buffer[]): Buffer {
  const signed = new pkijs.SignedData({
    version: 1,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: CMS_OID.data }),
    certificates: certificates.map(readPkijsCertificate),
    signerInfos: [],
  });
  const info = new pkijs.ContentInfo({ contentType: CMS_OID.signedData, content: signed.toSchema(true) });
  return Buffer.from(info.toSchema().toBER(false));
}
