import "reflect-metadata";
import { createHash } from "node:crypto";
import * as x509 from "@peculiar/x509";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import type { CertificateSpec, NameSubtrees } from "../domain/ca/model.js";
import { parseCidr } from "../domain/ca/name-constraints.js";
import type { CaSigner } from "../domain/ca/ports.js";
import type { SubjectAlternativeNames } from "../domain/certificates/model.js";
import { badParameter } from "../domain/errors.js";
import {
  children,
  derTime,
  elementAt,
  encode,
  explicit,
  extension,
  octetString,
  oid,
  raw,
  sequence,
} from "./der.js";
import { USAGE_FLAGS } from "./x509-factory.js";
import { signatureAlgorithm, signed } from "./x509-signing.js";

const OID = {
  subjectAltName: oid("2.5.29.17"),
  subjectKeyIdentifier: oid("2.5.29.14"),
  nameConstraints: "2.5.29.30",
  ocspNoCheck: "1.3.6.1.5.5.7.48.1.5",
};
const NULL_DER = new Uint8Array([0x05, 0x00]);
const VERSION_3 = explicit(0, [encode(new asn1js.Integer({ value: 2 }))]);
const der = (e: x509.Extension) => Buffer.from(e.rawData);

/** A copy in a plain ArrayBuffer, which the ASN.1 libraries type their inputs as. */
const view = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);

/**
 * The subjectPublicKey BIT STRING's contents of a SubjectPublicKeyInfo. Read from the DER's headers
 * when it is the plain SEQUENCE { SEQUENCE, BIT STRING } every key gives (asn1js's parse of it cost a
 * campaign ~2.5% of its time, once per certificate), through asn1js otherwise.
 */
export function publicKeyBits(spki: Uint8Array): Uint8Array {
  const outer = elementAt(spki, 0);
  const algorithm = outer && elementAt(spki, outer.start);
  const key = algorithm && elementAt(spki, algorithm.end);
  if (
    outer?.tag === 0x30 &&
    outer.end === spki.length &&
    algorithm?.tag === 0x30 &&
    key?.tag === 0x03 &&
    key.end === outer.end &&
    spki[key.start] === 0
  )
    return spki.subarray(key.start + 1, key.end);
  const bits = children(asn1js.fromBER(view(spki)).result)?.[1];
  if (!(bits instanceof asn1js.BitString)) throw badParameter("Not a SubjectPublicKeyInfo");
  return bits.valueBlock.valueHexView;
}

/** The RFC 5280 §4.2.1.2 method 1 key identifier: SHA-1 of the subjectPublicKey bits. */
export const keyIdentifier = (spki: Uint8Array): Buffer =>
  createHash("sha1").update(publicKeyBits(spki)).digest();

/** Subject and SubjectPublicKeyInfo of a DER certificate, as the bytes it carries. */
export function certificateParts(der: Buffer): { subject: Buffer; spki: Buffer } {
  const tbs = children(children(asn1js.fromBER(view(der)).result)?.[0]);
  // TBSCertificate: [0] version, serial, signature, issuer, validity, subject, spki, …
  const at = tbs?.[0]?.idBlock.tagClass === 3 ? 1 : 0;
  const subject = tbs?.[at + 4];
  const spki = tbs?.[at + 5];
  if (!(subject instanceof asn1js.Sequence) || !(spki instanceof asn1js.Sequence))
    throw badParameter("Not an X.509 certificate");
  return { subject: raw(subject), spki: raw(spki) };
}

function generalSubtrees(subtrees: NameSubtrees): pkijs.GeneralSubtree[] {
  const tree = (base: pkijs.GeneralName) => new pkijs.GeneralSubtree({ base });
  const text = (type: 1 | 2 | 6, value: string) => tree(new pkijs.GeneralName({ type, value }));
  return [
    ...subtrees.dns.map((d) => text(2, d)),
    ...subtrees.email.map((e) => text(1, e)),
    ...subtrees.uri.map((u) => text(6, u)),
    ...subtrees.ip.map((cidr) => {
      const { address, mask } = parseCidr(cidr);
      // RFC 5280 §4.2.1.10: an IP subtree is the address followed by its mask.
      const value = new asn1js.OctetString({ valueHex: view(Buffer.concat([address, mask])) });
      return tree(new pkijs.GeneralName({ type: 7, value }));
    }),
  ];
}

function nameConstraintsExtension(c: NonNullable<NonNullable<CertificateSpec["ca"]>["nameConstraints"]>) {
  const permitted = generalSubtrees(c.permitted);
  const excluded = generalSubtrees(c.excluded);
  const value = new pkijs.NameConstraints({
    ...(permitted.length > 0 && { permittedSubtrees: permitted }),
    ...(excluded.length > 0 && { excludedSubtrees: excluded }),
  });
  // RFC 5280 §4.2.1.10: conforming CAs MUST mark this extension critical.
  return new x509.Extension(OID.nameConstraints, true, value.toSchema().toBER());
}

/** RFC 5280 §4.2.1.6 GeneralName tags of the IA5String kinds, written here without a schema walk. */
const IA5_TAGS = { emails: 1, dnsNames: 2, uris: 6 } as const;

function ia5Name(tag: number, value: string): Buffer {
  // IA5String is one byte a character, as asn1js (and so @peculiar/x509) writes it.
  return encode(
    new asn1js.Primitive({
      idBlock: { tagClass: 3, tagNumber: tag },
      valueHex: view(Buffer.from(value, "latin1")),
    }),
  );
}

/** The SAN extension, in the order the @peculiar/x509 builder wrote: DNS, e-mail, URI, IP, UPN. */
function sanExtension(sans: SubjectAlternativeNames, critical: boolean): Buffer | undefined {
  const names = [
    ...sans.dnsNames.map((v) => ia5Name(IA5_TAGS.dnsNames, v)),
    ...sans.emails.map((v) => ia5Name(IA5_TAGS.emails, v)),
    ...sans.uris.map((v) => ia5Name(IA5_TAGS.uris, v)),
    // Rare kinds with text conversions (IPv6 forms, otherName wrapping) keep the library's encoder.
    ...sans.ipAddresses.map((v) => Buffer.from(new x509.GeneralName("ip", v).rawData)),
    ...sans.upns.map((v) => Buffer.from(new x509.GeneralName("upn", v).rawData)),
  ];
  return names.length > 0 ? extension(OID.subjectAltName, critical, sequence(names)) : undefined;
}

/** RFC 5280 §4.1.2.2: a positive INTEGER, without leading zero bytes beyond the sign's. */
function serialNumber(hex: string): Buffer {
  let bytes = Buffer.from(hex, "hex");
  let first = 0;
  while (first < bytes.length - 1 && bytes[first] === 0) first++;
  bytes = bytes.subarray(first);
  if (bytes.length === 0 || bytes.every((b) => b === 0))
    throw badParameter("A serial number must not be zero");
  if ((bytes[0] as number) > 0x7f) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return encode(new asn1js.Integer({ valueHex: view(bytes) }));
}

/** What a CA (or a self-signed root) puts in every certificate of one profile, encoded once. */
interface Template {
  algorithm: Buffer;
  /** The issuer's subject bytes; undefined for a self-signed certificate, whose issuer is its subject. */
  issuer: Buffer | undefined;
  /** Extensions before the SAN and SKI, and after them (AKI first, unless self-signed). */
  before: Buffer[];
  after: Buffer[];
}

const TEMPLATES = 1000;

/**
 * Certificates from per-CA templates: everything but serial, validity, subject, key, SAN and key
 * identifiers is encoded once per CA and profile. The extensions and their order are those the
 * @peculiar/x509 builder this replaces produced (the CA's tests compare them byte for byte).
 */
export function createCertificateBuilder() {
  const issuers = new Map<string, { subject: Buffer; keyId: Buffer }>();
  const templates = new Map<string, Template>();

  function remember<V>(map: Map<string, V>, key: string, value: V): V {
    if (map.size >= TEMPLATES) map.clear();
    map.set(key, value);
    return value;
  }

  function issuerOf(certificate: Buffer) {
    const key = certificate.toString("base64");
    const hit = issuers.get(key);
    if (hit) return hit;
    const { subject, spki } = certificateParts(certificate);
    return remember(issuers, key, { subject, keyId: keyIdentifier(spki) });
  }

  function template(spec: CertificateSpec, signer: CaSigner): Template {
    const issuer = spec.issuer && issuerOf(spec.issuer.certificate);
    const algorithm = signatureAlgorithm(signer);
    const key = JSON.stringify([
      issuer?.keyId.toString("hex"),
      algorithm.toString("hex"),
      spec.ca,
      spec.keyUsage,
      spec.ekus,
      spec.policies,
      spec.urls,
      spec.ocspNoCheck,
    ]);
    const hit = templates.get(key);
    if (hit) return hit;
    const before = [
      der(new x509.BasicConstraintsExtension(spec.ca !== undefined, spec.ca?.pathLength, true)),
    ];
    if (spec.keyUsage.length > 0) {
      const flags = spec.keyUsage.reduce<number>((all, u) => all | USAGE_FLAGS[u], 0);
      before.push(der(new x509.KeyUsagesExtension(flags as x509.KeyUsageFlags, true)));
    }
    if (spec.ekus.length > 0) before.push(der(new x509.ExtendedKeyUsageExtension(spec.ekus, false)));
    const after: Buffer[] = [];
    if (issuer) after.push(der(new x509.AuthorityKeyIdentifierExtension(issuer.keyId.toString("hex"))));
    if (spec.ca?.nameConstraints) after.push(der(nameConstraintsExtension(spec.ca.nameConstraints)));
    if (spec.policies.length > 0) after.push(der(new x509.CertificatePolicyExtension(spec.policies)));
    if (spec.urls) {
      after.push(
        der(
          new x509.AuthorityInfoAccessExtension({ ocsp: [spec.urls.ocsp], caIssuers: [spec.urls.caIssuers] }),
        ),
        der(new x509.CRLDistributionPointsExtension([spec.urls.crl])),
      );
    }
    if (spec.ocspNoCheck) after.push(der(new x509.Extension(OID.ocspNoCheck, false, NULL_DER)));
    return remember(templates, key, { algorithm, issuer: issuer?.subject, before, after });
  }

  return async function certificate(spec: CertificateSpec, signer: CaSigner): Promise<Buffer> {
    const t = template(spec, signer);
    const subject = spec.subjectDer ?? Buffer.from(new x509.Name(spec.subject).toArrayBuffer());
    const keyId = keyIdentifier(spec.publicKey);
    const ski = extension(OID.subjectKeyIdentifier, false, octetString(keyId));
    const san = sanExtension(spec.sans, spec.subject.trim() === "");
    const extensions = [...t.before, ...(san ? [san] : []), ski];
    // A self-signed certificate's AKI names its own key, so it cannot be part of the template.
    if (!t.issuer) extensions.push(der(new x509.AuthorityKeyIdentifierExtension(keyId.toString("hex"))));
    extensions.push(...t.after);
    const tbs = sequence([
      VERSION_3,
      serialNumber(spec.serial),
      t.algorithm,
      t.issuer ?? subject,
      sequence([derTime(spec.notBefore), derTime(spec.notAfter)]),
      subject,
      spec.publicKey,
      explicit(3, [sequence(extensions)]),
    ]);
    return signed(signer, tbs);
  };
}
