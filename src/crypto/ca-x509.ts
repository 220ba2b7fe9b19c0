import "reflect-metadata";
import { createHash, createPublicKey, verify } from "node:crypto";
import * as x509 from "@peculiar/x509";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { canonicalSerial } from "../domain/ca/ca-service.js";
import type { OcspCertId, PublicKeyDetails } from "../domain/ca/model.js";
import type { CaX509 } from "../domain/ca/ports.js";
import type { SubjectAlternativeNames } from "../domain/certificates/model.js";
import { badParameter } from "../domain/errors.js";
import { certificateParts, createCertificateBuilder, publicKeyBits } from "./ca-certificate-builder.js";
import { buildCrl } from "./crl-builder.js";
import { children, encode, octetString, oid, raw, sequence } from "./der.js";
import { ecSpki } from "./ec-spki.js";
import { publicKeyFromParts } from "./jwk.js";
import { keyDetails } from "./key-details.js";
import { createOcspResponseBuilder } from "./ocsp-response-builder.js";
import { protectorCrypto } from "./x509-factory.js";

const OID = {
  crlNumber: "2.5.29.20",
  issuingDistributionPoint: "2.5.29.28",
  ocspNonce: "1.3.6.1.5.5.7.48.1.2",
  sha1: "1.3.14.3.2.26",
  sha256: "2.16.840.1.101.3.4.2.1",
  extensionRequest: "1.2.840.113549.1.9.14",
  subjectAltName: "2.5.29.17",
} as const;

/** RFC 5019 §2.1.1: CertIDs use SHA-1, its AlgorithmIdentifier with NULL parameters. */
const SHA1_ALGORITHM = sequence([oid(OID.sha1), encode(new asn1js.Null())]);

const HASH_NAMES: Record<string, string> = { [OID.sha1]: "SHA-1", [OID.sha256]: "SHA-256" };

/** A copy in a plain ArrayBuffer, which the ASN.1 libraries type their inputs as. */
const view = (b: Buffer | Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);
const sha1 = (b: Uint8Array) => createHash("sha1").update(b).digest();
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest();

/** node:crypto's digest names by signature algorithm OID (RFC 5758, RFC 8017); null: Ed25519 (RFC 8410). */
const CSR_HASHES: Record<string, string | null> = {
  "1.2.840.10045.4.3.2": "sha256",
  "1.2.840.10045.4.3.3": "sha384",
  "1.2.840.10045.4.3.4": "sha512",
  "1.2.840.113549.1.1.11": "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
  "1.3.101.112": null,
};

/**
 * Checks a CSR's signature with OpenSSL (node:crypto), some fifty times faster than the WebCrypto
 * path of @peculiar/x509, and describes the key it checked with; undefined for algorithms it does
 * not know (PSS…), which that path then checks, and for a signature that does not verify.
 */
function verifyCsr(
  info: asn1js.BaseBlock,
  algorithm: asn1js.Sequence,
  signature: asn1js.BitString,
  spki: Buffer,
): PublicKeyDetails | undefined {
  try {
    const id = algorithm.valueBlock.value[0];
    const hash = id instanceof asn1js.ObjectIdentifier ? CSR_HASHES[id.valueBlock.toString()] : undefined;
    if (hash === undefined) return undefined;
    const key = createPublicKey({ key: spki, format: "der", type: "spki" });
    if (!verify(hash, info.valueBeforeDecodeView, key, signature.valueBlock.valueHexView)) return undefined;
    return keyDetails(key);
  } catch {
    return undefined;
  }
}

async function verifyElsewhere(der: Buffer): Promise<boolean> {
  try {
    return await new x509.Pkcs10CertificateRequest(view(der)).verify();
  } catch {
    return false;
  }
}

function nameText(der: Buffer): string {
  try {
    return new x509.Name(view(der)).toString();
  } catch (cause) {
    throw badParameter(`Not a PKCS#10 certificate request: ${(cause as Error).message}`);
  }
}

/** The subjectAltName GeneralNames of a CSR's extensionRequest attribute (RFC 2985 §5.4.2). */
function requestedNames(attributes: asn1js.BaseBlock | undefined): asn1js.BaseBlock[] {
  for (const attribute of children(attributes) ?? []) {
    const [type, values] = children(attribute) ?? [];
    if (!(type instanceof asn1js.ObjectIdentifier) || type.valueBlock.toString() !== OID.extensionRequest)
      continue;
    for (const ext of children(children(values)?.[0]) ?? []) {
      const parts = children(ext) ?? [];
      const id = parts[0];
      const value = parts.at(-1);
      if (!(id instanceof asn1js.ObjectIdentifier) || id.valueBlock.toString() !== OID.subjectAltName)
        continue;
      if (!(value instanceof asn1js.OctetString)) break;
      return children(asn1js.fromBER(view(value.valueBlock.valueHexView)).result) ?? [];
    }
  }
  return [];
}

/** DNS, e-mail and URI names are IA5Strings read here; IPs and UPNs go through @peculiar/x509's reader. */
function requestedSans(attributes: asn1js.BaseBlock | undefined): SubjectAlternativeNames {
  const sans: SubjectAlternativeNames = { dnsNames: [], emails: [], uris: [], ipAddresses: [], upns: [] };
  const text = { 1: sans.emails, 2: sans.dnsNames, 6: sans.uris } as Record<number, string[]>;
  for (const name of requestedNames(attributes)) {
    const tag = name.idBlock.tagClass === 3 ? name.idBlock.tagNumber : -1;
    const list = text[tag];
    if (list && name instanceof asn1js.Primitive) {
      list.push(Buffer.from(name.valueBlock.valueHexView).toString("latin1"));
    } else if (tag === 0 || tag === 7) {
      let parsed: x509.GeneralName;
      try {
        parsed = new x509.GeneralName(view(raw(name)));
      } catch (cause) {
        throw badParameter(`The certificate request's subjectAltName: ${(cause as Error).message}`);
      }
      if (parsed.type === "ip") sans.ipAddresses.push(parsed.value);
      if (parsed.type === "upn") sans.upns.push(parsed.value);
    }
  }
  return sans;
}

function parseCertificate(der: Buffer): x509.X509Certificate {
  try {
    return new x509.X509Certificate(view(der));
  } catch (cause) {
    throw badParameter(`Not an X.509 certificate: ${(cause as Error).message}`);
  }
}

/** Reads an OCSP request with asn1js alone: it is on the responder's hot path. */
function readOcspRequest(der: Buffer): ReturnType<CaX509["readOcspRequest"]> {
  const parsed = asn1js.fromBER(view(der));
  if (parsed.offset === -1 || !(parsed.result instanceof asn1js.Sequence)) return undefined;
  const tbs = parsed.result.valueBlock.value[0];
  if (!(tbs instanceof asn1js.Sequence)) return undefined;
  const certIds: OcspCertId[] = [];
  let nonce: Buffer | undefined;
  for (const part of tbs.valueBlock.value) {
    if (part instanceof asn1js.Sequence) {
      for (const request of part.valueBlock.value) {
        const certId = request instanceof asn1js.Sequence ? request.valueBlock.value[0] : undefined;
        if (!(certId instanceof asn1js.Sequence)) return undefined;
        const [algorithm, nameHash, keyHash, serial] = certId.valueBlock.value;
        const oid = algorithm instanceof asn1js.Sequence ? algorithm.valueBlock.value[0] : undefined;
        if (
          !(oid instanceof asn1js.ObjectIdentifier) ||
          !(nameHash instanceof asn1js.OctetString) ||
          !(keyHash instanceof asn1js.OctetString) ||
          !(serial instanceof asn1js.Integer)
        )
          return undefined;
        certIds.push({
          hashAlgorithm: HASH_NAMES[oid.valueBlock.toString()] ?? oid.valueBlock.toString(),
          issuerNameHash: Buffer.from(nameHash.valueBlock.valueHexView),
          issuerKeyHash: Buffer.from(keyHash.valueBlock.valueHexView),
          serial: canonicalSerial(Buffer.from(serial.valueBlock.valueHexView).toString("hex") || "00"),
          der: Buffer.from(certId.valueBeforeDecodeView),
        });
      }
    } else if (
      part.idBlock.tagClass === 3 &&
      part.idBlock.tagNumber === 2 &&
      part instanceof asn1js.Constructed
    ) {
      // requestExtensions [2] EXPLICIT Extensions: the nonce is echoed byte for byte (RFC 8954).
      const extensions = part.valueBlock.value[0];
      if (!(extensions instanceof asn1js.Sequence)) continue;
      for (const extension of extensions.valueBlock.value) {
        if (!(extension instanceof asn1js.Sequence)) continue;
        const [id, ...rest] = extension.valueBlock.value;
        const value = rest.at(-1);
        if (id instanceof asn1js.ObjectIdentifier && id.valueBlock.toString() === OID.ocspNonce)
          nonce =
            value instanceof asn1js.OctetString ? Buffer.from(value.valueBlock.valueHexView) : undefined;
      }
    }
  }
  return { certIds, nonce };
}

export function createCaX509(): CaX509 {
  const hashes = new Map<string, ReturnType<CaX509["issuerHashes"]>>();
  /** The OCSP responder asks for these on every pre-signed answer; CA certificates are few. */
  function issuerHashes(certificate: Buffer) {
    const key = certificate.toString("base64");
    let hit = hashes.get(key);
    if (!hit) {
      const { subject, spki } = certificateParts(certificate);
      const bits = publicKeyBits(spki);
      hit = {
        nameHash: sha1(subject),
        keyHash: sha1(bits),
        nameHash256: sha256(subject),
        keyHash256: sha256(bits),
      };
      if (hashes.size >= 1000) hashes.clear();
      hashes.set(key, hit);
    }
    return hit;
  }

  return {
    certificate: createCertificateBuilder(),

    async caCsr(subject, signer) {
      const { crypto, keys, signingAlgorithm } = protectorCrypto(signer);
      const csr = await x509.Pkcs10CertificateRequestGenerator.create(
        {
          name: subject,
          keys: keys as CryptoKeyPair,
          signingAlgorithm,
          extensions: [
            new x509.BasicConstraintsExtension(true, undefined, true),
            new x509.KeyUsagesExtension(
              x509.KeyUsageFlags.keyCertSign |
                x509.KeyUsageFlags.cRLSign |
                x509.KeyUsageFlags.digitalSignature,
              true,
            ),
          ],
        },
        crypto,
      );
      return Buffer.from(csr.rawData);
    },

    async readCsr(der) {
      // CertificationRequest ::= SEQUENCE { info, signatureAlgorithm, signature BIT STRING } (RFC 2986).
      const [info, algorithm, signature] = children(asn1js.fromBER(view(der)).result) ?? [];
      const [, subject, spki, attributes] = children(info) ?? [];
      if (
        !info ||
        !(subject instanceof asn1js.Sequence) ||
        !(spki instanceof asn1js.Sequence) ||
        !(algorithm instanceof asn1js.Sequence) ||
        !(signature instanceof asn1js.BitString)
      )
        throw badParameter("Not a PKCS#10 certificate request: it is not a DER CertificationRequest");
      const subjectDer = raw(subject);
      const publicKey = raw(spki);
      const key = verifyCsr(info, algorithm, signature, publicKey);
      if (!key && !(await verifyElsewhere(der)))
        throw badParameter("The certificate request's signature does not verify");
      return { subject: nameText(subjectDer), subjectDer, publicKey, sans: requestedSans(attributes), key };
    },

    readCertificate(der) {
      const cert = parseCertificate(der);
      return {
        subject: cert.subject,
        issuer: cert.issuer,
        serial: canonicalSerial(cert.serialNumber),
        notBefore: cert.notBefore,
        notAfter: cert.notAfter,
        publicKey: Buffer.from(cert.publicKey.rawData),
      };
    },

    spki(publicKey) {
      return ecSpki(publicKey) ?? publicKeyFromParts(publicKey).export({ format: "der", type: "spki" });
    },

    crl: buildCrl,

    readOcspRequest,

    ocspResponse: createOcspResponseBuilder(),

    issuerHashes,

    certId(issuer, serial) {
      const { nameHash, keyHash } = issuerHashes(issuer);
      const der = sequence([
        SHA1_ALGORITHM,
        octetString(nameHash),
        octetString(keyHash),
        encode(new asn1js.Integer({ valueHex: view(Buffer.from(serial, "hex")) })),
      ]);
      return { hashAlgorithm: "SHA-1", issuerNameHash: nameHash, issuerKeyHash: keyHash, serial, der };
    },
  };
}

/** RFC 6960 §4.2.1: a response that is only a status (malformedRequest 1, internalError 2, unauthorized 6). */
export function ocspStatusOnly(status: "malformedRequest" | "internalError" | "unauthorized"): Buffer {
  const value = { malformedRequest: 1, internalError: 2, unauthorized: 6 }[status];
  return Buffer.from(
    new pkijs.OCSPResponse({ responseStatus: new asn1js.Enumerated({ value }) }).toSchema().toBER(),
  );
}
