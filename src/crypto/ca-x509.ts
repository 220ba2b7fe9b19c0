import "reflect-metadata";
import { createHash, createPublicKey, verify } from "node:crypto";
import * as x509 from "@peculiar/x509";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { canonicalSerial } from "../domain/ca/ca-service.js";
import type { CertificateSpec, NameSubtrees, OcspCertId, OcspSingle } from "../domain/ca/model.js";
import { REVOCATION_REASONS } from "../domain/ca/model.js";
import { parseCidr } from "../domain/ca/name-constraints.js";
import type { CaX509 } from "../domain/ca/ports.js";
import type { CertificateSigner } from "../domain/certificates/ports.js";
import { badParameter } from "../domain/errors.js";
import { publicKeyFromParts } from "./jwk.js";
import { protectorCrypto, USAGE_FLAGS } from "./x509-factory.js";

const OID = {
  nameConstraints: "2.5.29.30",
  crlNumber: "2.5.29.20",
  issuingDistributionPoint: "2.5.29.28",
  ocspNoCheck: "1.3.6.1.5.5.7.48.1.5",
  ocspNonce: "1.3.6.1.5.5.7.48.1.2",
  ocspBasic: "1.3.6.1.5.5.7.48.1.1",
  sha1: "1.3.14.3.2.26",
  sha256: "2.16.840.1.101.3.4.2.1",
} as const;

const HASH_NAMES: Record<string, string> = { [OID.sha1]: "SHA-1", [OID.sha256]: "SHA-256" };

/** A copy in a plain ArrayBuffer, which the ASN.1 libraries type their inputs as. */
const view = (b: Buffer | Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);
const sha1 = (b: Uint8Array) => createHash("sha1").update(b).digest();

/** The RFC 5280 §4.2.1.2 method 1 key identifier: SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(spki: Buffer): Buffer {
  // asn1js alone: pkijs' schema matching costs a millisecond per key on this path.
  const parsed = asn1js.fromBER(view(spki));
  const bits = parsed.result instanceof asn1js.Sequence ? parsed.result.valueBlock.value[1] : undefined;
  if (!(bits instanceof asn1js.BitString)) throw badParameter("Not a SubjectPublicKeyInfo");
  return sha1(bits.valueBlock.valueHexView);
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

const NULL_DER = new Uint8Array([0x05, 0x00]);

/** Signature algorithm and digest for a signer's key: ES256/ES384 by curve, RS256 for RSA. */
function algorithmOf(signer: CertificateSigner) {
  const curve = signer.publicKey.crv;
  if (curve === "P-384")
    return { jws: "ES384" as const, hash: "sha384", oid: "1.2.840.10045.4.3.3", ec: true };
  if (curve === "P-256")
    return { jws: "ES256" as const, hash: "sha256", oid: "1.2.840.10045.4.3.2", ec: true };
  if (curve) throw badParameter(`CA keys on curve ${curve} are not supported`);
  return { jws: "RS256" as const, hash: "sha256", oid: "1.2.840.113549.1.1.11", ec: false };
}

/** Signs DER-to-be-signed bytes through the protector; ECDSA's r||s becomes the DER X.509 wants. */
async function signTbs(signer: CertificateSigner, tbs: ArrayBuffer) {
  const alg = algorithmOf(signer);
  const digest = createHash(alg.hash).update(new Uint8Array(tbs)).digest();
  const raw = await signer.sign(alg.jws, digest);
  const signature = alg.ec
    ? pkijs.createCMSECDSASignature(
        raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) as ArrayBuffer,
      )
    : raw;
  const algorithm = new pkijs.AlgorithmIdentifier({
    algorithmId: alg.oid,
    ...(!alg.ec && { algorithmParams: new asn1js.Null() }),
  });
  return { algorithm, signature: new asn1js.BitString({ valueHex: signature }) };
}

function certStatus(single: OcspSingle): asn1js.BaseBlock {
  // RFC 6960 §4.2.1 CertStatus: good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo, unknown [2].
  if (single.status === "good" || single.status === "unknown") {
    return new asn1js.Primitive({
      idBlock: { tagClass: 3, tagNumber: single.status === "good" ? 0 : 2 },
    });
  }
  const reason = single.status === "hold" ? "certificateHold" : (single.reason ?? "unspecified");
  return new asn1js.Constructed({
    idBlock: { tagClass: 3, tagNumber: 1 },
    value: [
      new asn1js.GeneralizedTime({ valueDate: single.revokedAt ?? new Date(0) }),
      new asn1js.Constructed({
        idBlock: { tagClass: 3, tagNumber: 0 },
        value: [new asn1js.Enumerated({ value: REVOCATION_REASONS[reason] })],
      }),
    ],
  });
}

/** node:crypto's digest names by signature algorithm OID (RFC 5758, RFC 8017). */
const CSR_HASHES: Record<string, string> = {
  "1.2.840.10045.4.3.2": "sha256",
  "1.2.840.10045.4.3.3": "sha384",
  "1.2.840.10045.4.3.4": "sha512",
  "1.2.840.113549.1.1.11": "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
};

/**
 * Checks a CSR's signature with OpenSSL (node:crypto), some fifty times faster than the WebCrypto
 * path of @peculiar/x509; false for algorithms it does not know (PSS…), which that path then checks.
 */
function verifyCsr(der: Buffer, spki: Buffer): boolean {
  try {
    // CertificationRequest ::= SEQUENCE { info, signatureAlgorithm, signature BIT STRING } (RFC 2986).
    const parsed = asn1js.fromBER(view(der));
    const [info, algorithm, signature] =
      parsed.result instanceof asn1js.Sequence ? parsed.result.valueBlock.value : [];
    const oid = algorithm instanceof asn1js.Sequence ? algorithm.valueBlock.value[0] : undefined;
    if (!info || !(oid instanceof asn1js.ObjectIdentifier) || !(signature instanceof asn1js.BitString))
      return false;
    const hash = CSR_HASHES[oid.valueBlock.toString()];
    if (!hash) return false;
    const key = createPublicKey({ key: spki, format: "der", type: "spki" });
    return verify(hash, info.valueBeforeDecodeView, key, signature.valueBlock.valueHexView);
  } catch {
    return false;
  }
}

/** A CA certificate as the signing path needs it, parsed once per certificate (they are few). */
interface ParsedIssuer {
  subjectName: x509.Name;
  keyId: Buffer;
}
const issuers = new Map<string, ParsedIssuer>();

function parsedIssuer(der: Buffer): ParsedIssuer {
  const key = der.toString("base64");
  let hit = issuers.get(key);
  if (!hit) {
    const cert = parseCertificate(der);
    hit = { subjectName: cert.subjectName, keyId: keyIdentifier(Buffer.from(cert.publicKey.rawData)) };
    if (issuers.size >= 1000) issuers.clear();
    issuers.set(key, hit);
  }
  return hit;
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
  function issuerHashes(certificate: Buffer) {
    const cert = pkijs.Certificate.fromBER(view(certificate));
    const name = new Uint8Array(cert.subject.toSchema().toBER());
    const key = cert.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView;
    const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest();
    return { nameHash: sha1(name), keyHash: sha1(key), nameHash256: sha256(name), keyHash256: sha256(key) };
  }

  return {
    async certificate(spec, signer) {
      const { crypto, keys, signingAlgorithm } = protectorCrypto(signer);
      const issuer = spec.issuer ? parsedIssuer(spec.issuer.certificate) : undefined;
      const extensions: x509.Extension[] = [
        new x509.BasicConstraintsExtension(spec.ca !== undefined, spec.ca?.pathLength, true),
      ];
      if (spec.keyUsage.length > 0) {
        const flags = spec.keyUsage.reduce<number>((all, u) => all | USAGE_FLAGS[u], 0);
        extensions.push(new x509.KeyUsagesExtension(flags as x509.KeyUsageFlags, true));
      }
      if (spec.ekus.length > 0) extensions.push(new x509.ExtendedKeyUsageExtension(spec.ekus, false));
      const names: x509.JsonGeneralName[] = [
        ...spec.sans.dnsNames.map((value) => ({ type: "dns" as const, value })),
        ...spec.sans.emails.map((value) => ({ type: "email" as const, value })),
        ...spec.sans.uris.map((value) => ({ type: "url" as const, value })),
        ...spec.sans.ipAddresses.map((value) => ({ type: "ip" as const, value })),
        ...spec.sans.upns.map((value) => ({ type: "upn" as const, value })),
      ];
      if (names.length > 0)
        extensions.push(new x509.SubjectAlternativeNameExtension(names, spec.subject.trim() === ""));
      const subjectKeyId = keyIdentifier(spec.publicKey);
      extensions.push(new x509.SubjectKeyIdentifierExtension(subjectKeyId.toString("hex")));
      const authorityKeyId = issuer ? issuer.keyId : subjectKeyId;
      extensions.push(new x509.AuthorityKeyIdentifierExtension(authorityKeyId.toString("hex")));
      if (spec.ca?.nameConstraints) extensions.push(nameConstraintsExtension(spec.ca.nameConstraints));
      if (spec.policies.length > 0) extensions.push(new x509.CertificatePolicyExtension(spec.policies));
      if (spec.urls) {
        extensions.push(
          new x509.AuthorityInfoAccessExtension({ ocsp: [spec.urls.ocsp], caIssuers: [spec.urls.caIssuers] }),
          new x509.CRLDistributionPointsExtension([spec.urls.crl]),
        );
      }
      if (spec.ocspNoCheck) extensions.push(new x509.Extension(OID.ocspNoCheck, false, NULL_DER));
      const cert = await x509.X509CertificateGenerator.create(
        {
          serialNumber: spec.serial,
          subject: spec.subject,
          issuer: issuer ? issuer.subjectName : spec.subject,
          notBefore: spec.notBefore,
          notAfter: spec.notAfter,
          publicKey: new x509.PublicKey(view(spec.publicKey)),
          signingKey: keys.privateKey,
          signingAlgorithm,
          extensions,
        },
        crypto,
      );
      return Buffer.from(cert.rawData);
    },

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
      let csr: x509.Pkcs10CertificateRequest;
      try {
        csr = new x509.Pkcs10CertificateRequest(view(der));
      } catch (cause) {
        throw badParameter(`Not a PKCS#10 certificate request: ${(cause as Error).message}`);
      }
      if (!verifyCsr(der, Buffer.from(csr.publicKey.rawData)) && !(await csr.verify().catch(() => false)))
        throw badParameter("The certificate request's signature does not verify");
      const san = csr.getExtension("2.5.29.17") as x509.SubjectAlternativeNameExtension | null;
      const items = san?.names.items ?? [];
      const of = (type: string) => items.filter((n: x509.GeneralName) => n.type === type).map((n) => n.value);
      return {
        subject: csr.subject,
        publicKey: Buffer.from(csr.publicKey.rawData),
        sans: {
          dnsNames: of("dns"),
          emails: of("email"),
          uris: of("url"),
          ipAddresses: of("ip"),
          upns: of("upn"),
        },
      };
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
      return publicKeyFromParts(publicKey).export({ format: "der", type: "spki" });
    },

    async crl(spec, signer) {
      const { crypto, keys, signingAlgorithm } = protectorCrypto(signer);
      const issuer = parsedIssuer(spec.issuer);
      const extensions: x509.Extension[] = [
        new x509.AuthorityKeyIdentifierExtension(issuer.keyId.toString("hex")),
        new x509.Extension(OID.crlNumber, false, new asn1js.Integer({ value: spec.number }).toBER()),
      ];
      if (spec.distributionPoint) {
        // RFC 5280 §5.2.5: critical, naming the URL this (partial) CRL is published at.
        const idp = new pkijs.IssuingDistributionPoint({
          distributionPoint: [new pkijs.GeneralName({ type: 6, value: spec.distributionPoint })],
        });
        extensions.push(new x509.Extension(OID.issuingDistributionPoint, true, idp.toSchema().toBER()));
      }
      const crl = await x509.X509CrlGenerator.create(
        {
          issuer: issuer.subjectName,
          thisUpdate: spec.thisUpdate,
          nextUpdate: spec.nextUpdate,
          entries: spec.entries.map((e) => ({
            serialNumber: e.serial,
            revocationDate: e.revokedAt,
            reason: REVOCATION_REASONS[e.reason] as x509.X509CrlReason,
          })),
          extensions,
          signingKey: keys.privateKey,
          signingAlgorithm,
        },
        crypto,
      );
      return Buffer.from(crl.rawData);
    },

    readOcspRequest,

    async ocspResponse(spec, signer) {
      const responder = pkijs.Certificate.fromBER(view(spec.responderCertificate));
      const basic = new pkijs.BasicOCSPResponse();
      basic.tbsResponseData.responderID = responder.subject;
      basic.tbsResponseData.producedAt = spec.producedAt;
      for (const single of spec.responses) {
        const response = new pkijs.SingleResponse({
          certID: pkijs.CertID.fromBER(view(single.certId.der)),
          certStatus: certStatus(single),
          thisUpdate: spec.thisUpdate,
          nextUpdate: spec.nextUpdate,
        });
        basic.tbsResponseData.responses.push(response);
      }
      if (spec.nonce) {
        basic.tbsResponseData.responseExtensions = [
          new pkijs.Extension({ extnID: OID.ocspNonce, extnValue: view(spec.nonce).slice().buffer }),
        ];
      }
      const tbs = basic.tbsResponseData.toSchema(true).toBER();
      basic.tbsResponseData.tbsView = new Uint8Array(tbs);
      const { algorithm, signature } = await signTbs(signer, tbs);
      basic.signatureAlgorithm = algorithm;
      basic.signature = signature;
      basic.certs = [responder];
      const response = new pkijs.OCSPResponse({
        responseStatus: new asn1js.Enumerated({ value: 0 }),
        responseBytes: new pkijs.ResponseBytes({
          responseType: OID.ocspBasic,
          response: new asn1js.OctetString({ valueHex: basic.toSchema().toBER() }),
        }),
      });
      return Buffer.from(response.toSchema().toBER());
    },

    issuerHashes,

    certId(issuer, serial) {
      const { nameHash, keyHash } = issuerHashes(issuer);
      const certId = new pkijs.CertID({
        hashAlgorithm: new pkijs.AlgorithmIdentifier({
          algorithmId: OID.sha1,
          algorithmParams: new asn1js.Null(),
        }),
        issuerNameHash: new asn1js.OctetString({ valueHex: view(nameHash) }),
        issuerKeyHash: new asn1js.OctetString({ valueHex: view(keyHash) }),
        serialNumber: new asn1js.Integer({ valueHex: view(Buffer.from(serial, "hex")) }),
      });
      return {
        hashAlgorithm: "SHA-1",
        issuerNameHash: nameHash,
        issuerKeyHash: keyHash,
        serial,
        der: Buffer.from(certId.toSchema().toBER()),
      };
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
