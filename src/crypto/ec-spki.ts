import type { PublicKeyParts } from "../domain/keys/model.js";

/**
 * RFC 5480 §2 SubjectPublicKeyInfo of a named-curve EC key, up to its uncompressed point: SEQUENCE {
 * SEQUENCE { id-ecPublicKey, namedCurve }, BIT STRING (no unused bits) 0x04 }. Everything but x and y
 * is fixed per curve, so the key is these bytes and its coordinates: node:crypto's way (a KeyObject
 * from the JWK, then its export) cost a campaign ~3% of its time, once per certificate signed.
 */
const PREFIXES = {
  "P-256": {
    bytes: 32,
    prefix: Buffer.from("3059301306072a8648ce3d020106082a8648ce3d03010703420004", "hex"),
  },
  "P-384": { bytes: 48, prefix: Buffer.from("3076301006072a8648ce3d020106052b8104002203620004", "hex") },
  "P-521": { bytes: 66, prefix: Buffer.from("30819b301006072a8648ce3d020106052b810400230381860004", "hex") },
} as const;

/**
 * The SPKI DER of an EC public key on P-256, P-384 or P-521 whose coordinates are their full width
 * (as JWKs made here are, RFC 7518 §6.2.1.2); undefined for anything else, which the caller then
 * encodes the general way.
 */
export function ecSpki(parts: PublicKeyParts): Buffer | undefined {
  const curve = parts.crv && parts.crv in PREFIXES ? PREFIXES[parts.crv as keyof typeof PREFIXES] : undefined;
  if (!curve || !parts.x || !parts.y) return undefined;
  const x = Buffer.from(parts.x, "base64url");
  const y = Buffer.from(parts.y, "base64url");
  if (x.length !== curve.bytes || y.length !== curve.bytes) return undefined;
  return Buffer.concat([curve.prefix, x, y]);
}
