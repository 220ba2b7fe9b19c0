/**
 * The @peculiar/x509 and pkijs builders that the CA used before its DER templates
 * (src/crypto/ca-certificate-builder.ts, ocsp-response-builder.ts), kept as the reference the
 * templates are held to byte for byte: same inputs, same to-be-signed bytes.
 */
import "reflect-metadata";
import { createHash } from "node:crypto";
import * as x509 from "@peculiar/x509";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { protectorCrypto, USAGE_FLAGS } from "../../src/crypto/x509-factory.js";
import type {
  CertificateSpec,
  CsrFacts,
  NameSubtrees,
  OcspResponseSpec,
  OcspSingle,
} from "../../src/domain/ca/model.js";
import { REVOCATION_REASONS } from "../../src/domain/ca/model.js";
import { parseCidr } from "../../src/domain/ca/name-constraints.js";
import type { CaSigner } from "../../src/domain/ca/ports.js";

const OID = {
  nameConstraints: "2.5.29.30",
  ocspNoCheck: "1.3.6.1.5.5.7.48.1.5",
  ocspNonce: "1.3.6.1.5.5.7.48.1.2",
  ocspBasic: "1.3.6.1.5.5.7.48.1.1",
} as const;

const view = (b: Buffer | Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);
const sha1 = (b: Uint8Array) => createHash("sha1").update(b).digest();

function keyIdentifier(spki: Buffer): Buffer {
  const parsed = asn1js.fromBER(view(spki));
  const bits = parsed.result instanceof asn1js.Sequence ? parsed.result.valueBlock.value[1] : undefined;
  if (!(bits instanceof asn1js.BitString)) throw new Error("Not a SubjectPublicKeyInfo");
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

/** Signature algorithm and digest for a signer's key: ES256/ES384 by curve, RS256 for RSA, Ed25519. */
function algorithmOf(signer: CaSigner) {
  const curve = signer.publicKey.crv;
  // RFC 8410 §3: no parameters, and no digest either (PureEdDSA).
  if (curve === "Ed25519") return { kind: "ed25519", oid: "1.3.101.112" } as const;
  if (curve === "P-384")
    return { kind: "ec", jws: "ES384", hash: "sha384", oid: "1.2.840.10045.4.3.3" } as const;
  if (curve === "P-256")
    return { kind: "ec", jws: "ES256", hash: "sha256", oid: "1.2.840.10045.4.3.2" } as const;
  if (curve) throw new Error(`CA keys on curve ${curve} are not supported`);
  return { kind: "rsa", jws: "RS256", hash: "sha256", oid: "1.2.840.113549.1.1.11" } as const;
}

/** Signs DER-to-be-signed bytes through the protector; ECDSA's r||s becomes the DER X.509 wants. */
async function signTbs(signer: CaSigner, tbs: ArrayBuffer) {
  const alg = algorithmOf(signer);
  const raw =
    alg.kind === "ed25519"
      ? await signer.signMessage(Buffer.from(tbs))
      : await signer.sign(alg.jws, createHash(alg.hash).update(new Uint8Array(tbs)).digest());
  const signature =
    alg.kind === "ec"
      ? pkijs.createCMSECDSASignature(
          raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) as ArrayBuffer,
        )
      : raw;
  const algorithm = new pkijs.AlgorithmIdentifier({
    algorithmId: alg.oid,
    ...(alg.kind === "rsa" && { algorithmParams: new asn1js.Null() }),
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

export async function legacyCertificate(spec: CertificateSpec, signer: CaSigner): Promise<Buffer> {
  const { crypto, keys, signingAlgorithm } = protectorCrypto(signer);
  const issuerCert = spec.issuer ? new x509.X509Certificate(view(spec.issuer.certificate)) : undefined;
  const issuer = issuerCert && {
    subjectName: issuerCert.subjectName,
    keyId: keyIdentifier(Buffer.from(issuerCert.publicKey.rawData)),
  };
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
}

export async function legacyReadCsr(der: Buffer): Promise<Omit<CsrFacts, "subjectDer">> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(view(der));
  } catch (cause) {
    throw new Error(`Not a PKCS#10 certificate request: ${(cause as Error).message}`);
  }
  if (!(await csr.verify().catch(() => false)))
    throw new Error("The certificate request's signature does not verify");
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
}

export async function legacyOcspResponse(spec: OcspResponseSpec, signer: CaSigner): Promise<Buffer> {
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
}
