import { createHash } from "node:crypto";
import * as asn1js from "asn1js";
import { DomainError } from "../domain/errors.js";
import type { CertificateFacts, SubjectAltName } from "../domain/inventory/model.js";
import type { CertificateFactsReader } from "../domain/inventory/ports.js";
import { children } from "./der.js";

/**
 * Reads a certificate's inventory facts from one asn1js parse of its DER, walking the blocks by
 * position (RFC 5280 §4.1). @peculiar/x509 builds a full object model per certificate (names,
 * every extension class, public key import), which bench/inventory measures at several times the
 * cost; at a million certificates per ingest that difference is minutes.
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

const EXT_SAN = "2.5.29.17";
const EXT_SKI = "2.5.29.14";
const EXT_AKI = "2.5.29.35";
const EXT_BASIC_CONSTRAINTS = "2.5.29.19";

const bad = (message: string) => new DomainError("BadParameter", `Not an X.509 certificate: ${message}`);

const hex = (bytes: ArrayBuffer | Uint8Array) => Buffer.from(bytes as Uint8Array).toString("hex");

function oidOf(block: asn1js.BaseBlock | undefined): string {
  if (!(block instanceof asn1js.ObjectIdentifier)) throw bad("expected an object identifier");
  return block.valueBlock.toString();
}

/** RFC 4514 escaping of the characters that would make the string ambiguous. */
const escapeValue = (value: string) => value.replace(/([,+"\\<>;])/g, "\\$1");

function stringValue(block: asn1js.BaseBlock): string {
  if (block instanceof asn1js.BaseStringBlock) return block.getValue();
  return `#${hex(block.toBER())}`;
}

/** Name ::= SEQUENCE OF RDN, RDN ::= SET OF AttributeTypeAndValue. */
function formatName(name: asn1js.BaseBlock | undefined): string {
  const rdns = children(name);
  if (!rdns) throw bad("a name is not a SEQUENCE");
  const parts: string[] = [];
  for (const rdn of rdns) {
    const attributes = (children(rdn) ?? []).map((atv) => {
      const [type, value] = children(atv) ?? [];
      if (!value) throw bad("an attribute has no value");
      const oid = oidOf(type);
      return `${SHORT_NAMES[oid] ?? oid}=${escapeValue(stringValue(value))}`;
    });
    parts.push(attributes.join("+"));
  }
  return parts.join(", ");
}

function time(block: asn1js.BaseBlock | undefined): Date {
  if (block instanceof asn1js.UTCTime || block instanceof asn1js.GeneralizedTime) return block.toDate();
  throw bad("validity is not a time");
}

function ipAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join(".");
  const groups: string[] = [];
  for (let i = 0; i + 1 < bytes.length; i += 2)
    groups.push(((bytes[i] ?? 0) * 256 + (bytes[i + 1] ?? 0)).toString(16));
  return groups.join(":");
}

/** RFC 5280 §4.2.1.6: dNSName [2], rfc822Name [1], uniformResourceIdentifier [6], iPAddress [7]. */
function subjectAltNames(value: Uint8Array): SubjectAltName[] {
  const parsed = asn1js.fromBER(value);
  const names: SubjectAltName[] = [];
  for (const general of children(parsed.result) ?? []) {
    const tag = general.idBlock.tagNumber;
    if (general.idBlock.tagClass !== 3) continue;
    const bytes = new Uint8Array((general as asn1js.Primitive).valueBlock.valueHexView ?? []);
    const text = () => Buffer.from(bytes).toString("latin1");
    if (tag === 2) names.push({ type: "dns", value: text() });
    else if (tag === 1) names.push({ type: "email", value: text() });
    else if (tag === 6) names.push({ type: "uri", value: text() });
    else if (tag === 7) names.push({ type: "ip", value: ipAddress(bytes) });
  }
  return names;
}

/** Bits of a big-endian unsigned integer's value bytes. */
function bitLength(bytes: Uint8Array): number {
  let start = 0;
  while (start < bytes.length && bytes[start] === 0) start++;
  if (start === bytes.length) return 0;
  return (bytes.length - start - 1) * 8 + Math.floor(Math.log2(bytes[start] ?? 1)) + 1;
}

/** RFC 5280 §4.1.2.7 SubjectPublicKeyInfo: the algorithm, and the size from the key or curve. */
function publicKey(
  spki: asn1js.BaseBlock | undefined,
): Pick<CertificateFacts, "keyType" | "keySize" | "curve"> {
  const [algorithm, key] = children(spki) ?? [];
  const [algorithmId, parameters] = children(algorithm) ?? [];
  const oid = oidOf(algorithmId);
  if (oid === "1.2.840.113549.1.1.1" || oid === "1.2.840.113549.1.1.10") {
    // RFC 8017 A.1.1 RSAPublicKey ::= SEQUENCE { modulus, publicExponent } in the BIT STRING.
    const bits = (key as asn1js.BitString).valueBlock.valueHexView;
    const [modulus] = children(asn1js.fromBER(bits).result) ?? [];
    const size = modulus instanceof asn1js.Integer ? bitLength(modulus.valueBlock.valueHexView) : undefined;
    return { keyType: "RSA", keySize: size };
  }
  if (oid === "1.2.840.10045.2.1") {
    const curveOid = parameters instanceof asn1js.ObjectIdentifier ? oidOf(parameters) : "explicit";
    const curve = CURVES[curveOid];
    return { keyType: "EC", keySize: curve?.bits, curve: curve?.name ?? curveOid };
  }
  if (oid === "1.3.101.112") return { keyType: "Ed25519", keySize: 256 };
  if (oid === "1.3.101.113") return { keyType: "Ed448", keySize: 456 };
  if (oid === "1.2.840.10040.4.1") {
    const [p] = children(parameters) ?? [];
    return {
      keyType: "DSA",
      keySize: p instanceof asn1js.Integer ? bitLength(p.valueBlock.valueHexView) : undefined,
    };
  }
  return { keyType: oid };
}

function octets(block: asn1js.BaseBlock | undefined): Uint8Array {
  if (!(block instanceof asn1js.OctetString)) throw bad("an extension value is not an OCTET STRING");
  return block.valueBlock.valueHexView;
}

interface ExtensionFacts {
  sans: SubjectAltName[];
  subjectKeyId?: string | undefined;
  authorityKeyId?: string | undefined;
  isCa: boolean;
}

function extensions(block: asn1js.BaseBlock | undefined): ExtensionFacts {
  const facts: ExtensionFacts = { sans: [], isCa: false };
  const [list] = children(block) ?? [];
  for (const extension of children(list) ?? []) {
    const parts = children(extension) ?? [];
    const id = oidOf(parts[0]);
    const value = octets(parts[parts.length - 1]);
    if (id === EXT_SAN) facts.sans = subjectAltNames(value);
    else if (id === EXT_SKI) {
      const ski = asn1js.fromBER(value).result;
      if (ski instanceof asn1js.OctetString) facts.subjectKeyId = hex(ski.valueBlock.valueHexView);
    } else if (id === EXT_AKI) {
      // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL, … }
      const keyId = (children(asn1js.fromBER(value).result) ?? []).find(
        (b) => b.idBlock.tagClass === 3 && b.idBlock.tagNumber === 0,
      ) as asn1js.Primitive | undefined;
      if (keyId) facts.authorityKeyId = hex(keyId.valueBlock.valueHexView);
    } else if (id === EXT_BASIC_CONSTRAINTS) {
      const [cA] = children(asn1js.fromBER(value).result) ?? [];
      facts.isCa = cA instanceof asn1js.Boolean && cA.valueBlock.value;
    }
  }
  return facts;
}

/** The facts of one certificate; BadParameter when the bytes are not a DER certificate. */
export function readCertificateFacts(der: Uint8Array): CertificateFacts {
  const parsed = asn1js.fromBER(der);
  if (parsed.offset === -1 || parsed.offset !== der.byteLength) throw bad("the bytes are not one DER value");
  const [tbs, signatureAlgorithm] = children(parsed.result) ?? [];
  const fields = children(tbs);
  if (!fields || !signatureAlgorithm) throw bad("it is not a SEQUENCE of TBSCertificate and signature");
  // RFC 5280 §4.1: version [0] EXPLICIT is absent for v1 certificates.
  const offset = fields[0]?.idBlock.tagClass === 3 ? 1 : 0;
  const at = (i: number) => fields[offset + i];
  const serial = at(0);
  if (!(serial instanceof asn1js.Integer)) throw bad("the serial number is not an INTEGER");
  const [notBefore, notAfter] = children(at(3)) ?? [];
  const subjectBlock = at(4);
  const issuerBlock = at(2);
  if (!subjectBlock || !issuerBlock) throw bad("the names are missing");
  const ext = extensions(fields.find((b) => b.idBlock.tagClass === 3 && b.idBlock.tagNumber === 3));
  const sameName = Buffer.from(subjectBlock.valueBeforeDecodeView).equals(
    Buffer.from(issuerBlock.valueBeforeDecodeView),
  );
  const sigOid = oidOf((children(signatureAlgorithm) ?? [])[0]);
  let serialBytes = serial.valueBlock.valueHexView;
  if (serialBytes.length > 1 && serialBytes[0] === 0) serialBytes = serialBytes.subarray(1);
  return {
    fingerprintSha256: createHash("sha256").update(der).digest("hex"),
    subject: formatName(subjectBlock),
    issuer: formatName(issuerBlock),
    serialNumber: hex(serialBytes),
    notBefore: time(notBefore),
    notAfter: time(notAfter),
    ...publicKey(at(5)),
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
