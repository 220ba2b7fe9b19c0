/**
 * The pkijs CRL builder the CA used before src/crypto/crl-builder.ts wrote the revoked entries
 * itself, kept as the reference that builder is held to byte for byte (the extensions, which did not
 * change, are the builder's own).
 */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { certificateParts } from "../../src/crypto/ca-certificate-builder.js";
import { crlExtensions } from "../../src/crypto/crl-builder.js";
import { signatureAlgorithm, signed } from "../../src/crypto/x509-signing.js";
import type { CrlSpec } from "../../src/domain/ca/model.js";
import { REVOCATION_REASONS } from "../../src/domain/ca/model.js";
import type { CaSigner } from "../../src/domain/ca/ports.js";

/** RFC 5280 §5.3.1 id-ce-cRLReasons. */
const CRL_REASON = "2.5.29.21";

/** RFC 5280 §5.1.2.4: UTCTime through 2049, GeneralizedTime from 2050. */
const time = (value: Date) => new pkijs.Time({ type: value.getUTCFullYear() < 2050 ? 0 : 1, value });

const extension = (extnID: string, critical: boolean, value: asn1js.BaseBlock) =>
  new pkijs.Extension({ extnID, critical, extnValue: value.toBER() });

/**
 * A signed CRL (RFC 5280 §5). pkijs encodes the TBSCertList and our signer signs its bytes; nothing
 * is parsed back. @peculiar/x509's generator re-read what it had made, and asn1js's decoder stops at
 * 10,000 nodes: a CA with ~1,600 revoked certificates could no longer publish its CRL.
 */
export async function legacyBuildCrl(spec: CrlSpec, signer: CaSigner): Promise<Buffer> {
  const { subject } = certificateParts(spec.issuer);
  const extensions = crlExtensions(spec);
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
              extension(CRL_REASON, false, new asn1js.Enumerated({ value: REVOCATION_REASONS[e.reason] })),
            ],
          }),
        }),
    );
  // toSchema(true) encodes the TBSCertList from the fields (encodeTBS is not public); the signature
  // around it is ours, made through the CA key's protector.
  const [tbs] = (list.toSchema(true) as asn1js.Sequence).valueBlock.value as [asn1js.BaseBlock];
  return signed(signer, Buffer.from(tbs.toBER()));
}
