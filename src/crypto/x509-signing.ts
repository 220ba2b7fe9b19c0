import { createHash } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import type { CaSigner } from "../domain/ca/ports.js";
import type { CertificateSigner } from "../domain/certificates/ports.js";
import { badParameter } from "../domain/errors.js";
import { encode, oid, sequence } from "./der.js";

const NULL = encode(new asn1js.Null());

/**
 * RFC 5758 §3.2 ECDSA identifiers have no parameters; RFC 8017 §A.2.4 RSA ones a NULL. Ed25519
 * (RFC 8410 §3) has no parameters either, and no digest: PureEdDSA signs the to-be-signed bytes.
 */
const ALGORITHMS = {
  "P-521": { jws: "ES512", hash: "sha512", ec: true, der: sequence([oid("1.2.840.10045.4.3.4")]) },
  "P-384": { jws: "ES384", hash: "sha384", ec: true, der: sequence([oid("1.2.840.10045.4.3.3")]) },
  "P-256": { jws: "ES256", hash: "sha256", ec: true, der: sequence([oid("1.2.840.10045.4.3.2")]) },
  RSA: { jws: "RS256", hash: "sha256", ec: false, der: sequence([oid("1.2.840.113549.1.1.11"), NULL]) },
  Ed25519: { jws: undefined, hash: undefined, ec: false, der: sequence([oid("1.3.101.112")]) },
} as const;

/** Signature algorithm and digest for a signer's key: ES256/384/512 by curve, RS256 for RSA, Ed25519. */
function algorithmOf(signer: CertificateSigner) {
  const curve = signer.publicKey.crv;
  if (curve === "P-521" || curve === "P-384" || curve === "P-256" || curve === "Ed25519")
    return ALGORITHMS[curve];
  if (curve) throw badParameter(`X.509 signatures with keys on curve ${curve} are not supported`);
  return ALGORITHMS.RSA;
}

/** The signer's AlgorithmIdentifier DER, for structures that name it inside what is signed. */
export const signatureAlgorithm = (signer: CertificateSigner): Buffer => algorithmOf(signer).der;

/** The message signing an Ed25519 key needs, which only CA signers have. */
export function messageSigner(signer: CertificateSigner | CaSigner): CaSigner {
  if (!("signMessage" in signer)) throw badParameter("Ed25519 keys sign only for private CAs");
  return signer;
}

/**
 * SEQUENCE { tbs, signatureAlgorithm, signature BIT STRING }: the shape of certificates (RFC 5280
 * §4.1), certificate requests (RFC 2986 §4.2) and BasicOCSPResponse (RFC 6960 §4.2.1), `extra`
 * following the signature. The key signs the digest through its protector, so software and HSM keys
 * alike; ECDSA's r||s becomes the DER X.509 wants. An Ed25519 key signs the TBS bytes themselves
 * and its 64-byte signature is the BIT STRING's content as it is (RFC 8410 §6).
 */
export async function signed(
  signer: CertificateSigner | CaSigner,
  tbs: Buffer,
  extra: Buffer[] = [],
): Promise<Buffer> {
  const alg = algorithmOf(signer);
  const raw =
    alg.hash === undefined
      ? await messageSigner(signer).signMessage(tbs)
      : await signer.sign(alg.jws, createHash(alg.hash).update(tbs).digest());
  const signature = alg.ec ? pkijs.createCMSECDSASignature(new Uint8Array(raw).buffer) : new Uint8Array(raw);
  return sequence([tbs, alg.der, encode(new asn1js.BitString({ valueHex: signature })), ...extra]);
}
