import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import type { CrlSpec } from "../domain/ca/model.js";
import { REVOCATION_REASONS } from "../domain/ca/model.js";
import type { CaSigner } from "../domain/ca/ports.js";
import { certificateParts, keyIdentifier } from "./ca-certificate-builder.js";
import { signatureAlgorithm, signed } from "./x509-signing.js";

const OID = {
  authorityKeyIdentifier: "2.5.29.35",
  crlNumber: "2.5.29.20",
  crlReason: "2.5.29.21",
  issuingDistributionPoint: "2.5.29.28",
} as const;

/** RFC 5280 §5.1.2.4: UTCTime through 2049, GeneralizedTime from 2050. */
const time = (value: Date) => new pkijs.Time({ type: value.getUTCFullYear() < 2050 ? 0 : 1, value });

const extension = (extnID: string, critical: boolean, value: asn1js.BaseBlock) =>
  new pkijs.Extension({ extnID, critical, extnValue: value.toBER() });

/**
 * A signed CRL (RFC 5280 §5). pkijs encodes the TBSCertList and our signer signs its bytes; nothing
 * is parsed back. @peculiar/x509's generator re-read what it had made, and asn1js's decoder stops at
 * 10,000 nodes: a CA with ~1,600 revoked certificates could no longer publish its CRL.
 */
export async function buildCrl(spec: CrlSpec, signer: CaSigner): Promise<Buffer> {
  const { subject, spki } = certificateParts(spec.issuer);
  const extensions = [
    extension(
      OID.authorityKeyIdentifier,
      false,
      new pkijs.AuthorityKeyIdentifier({
        keyIdentifier: new asn1js.OctetString({ valueHex: new Uint8Array(keyIdentifier(spki)) }),
      }).toSchema(),
    ),
    extension(OID.crlNumber, false, new asn1js.Integer({ value: spec.number })),
  ];
  if (spec.distributionPoint)
    // RFC 5280 §5.2.5: critical, naming the URL this (partial) CRL is published at.
    extensions.push(
      extension(
        OID.issuingDistributionPoint,
        true,
        new pkijs.IssuingDistributionPoint({
          distributionPoint: [new pkijs.GeneralName({ type: 6, value: spec.distributionPoint })],
        }).toSchema(),
      ),
    );
  const algorithm = new pkijs.AlgorithmIdentifier({
    schema: asn1js.fromBER(new Uint8Array(signatureAlgorithm(signer))).result,
  });
  const list = new pkijs.CertificateRevocationList({
    version: 1,
    signature: algorithm,
    signatureAlgorithm: algorithm,
    issuer: new pkijs.RelativeDistinguishedNames({ schema: asn1js.fromBER(new Uint8Array(subject)).result }),
    thisUpdate: time(spec.thisUpdate),
    nextUpdate: time(spec.nextUpdate),
    crlExtensions: new pkijs.Extensions({ extensions }),
  });
  if (spec.entries.length > 0)
    list.revokedCertificates = spec.entries.map(
      (e) =>
        new pkijs.RevokedCertificate({
          userCertificate: new asn1js.Integer({ valueHex: new Uint8Array(Buffer.from(e.serial, "hex")) }),
          revocationDate: time(e.revokedAt),
          crlEntryExtensions: new pkijs.Extensions({
            extensions: [
              extension(OID.crlReason, false, new asn1js.Enumerated({ value: REVOCATION_REASONS[e.reason] })),
            ],
          }),
        }),
    );
  // toSchema(true) encodes the TBSCertList from the fields (encodeTBS is not public); the signature
  // around it is ours, made through the CA key's protector.
  const [tbs] = (list.toSchema(true) as asn1js.Sequence).valueBlock.value as [asn1js.BaseBlock];
  return signed(signer, Buffer.from(tbs.toBER()));
}
