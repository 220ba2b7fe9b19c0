import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import type { CrlSpec } from "../domain/ca/model.js";
import { REVOCATION_REASONS } from "../domain/ca/model.js";
import type { CaSigner } from "../domain/ca/ports.js";
import { certificateParts, keyIdentifier } from "./ca-certificate-builder.js";
import { derTime, encodedLength, explicit, sequence } from "./der.js";
import { signatureAlgorithm, signed } from "./x509-signing.js";

const OID = {
  authorityKeyIdentifier: "2.5.29.35",
  crlNumber: "2.5.29.20",
  crlReason: "2.5.29.21",
  issuingDistributionPoint: "2.5.29.28",
} as const;

const extension = (extnID: string, critical: boolean, value: asn1js.BaseBlock) =>
  new pkijs.Extension({ extnID, critical, extnValue: value.toBER() });

const VERSION_2 = Buffer.from("020101", "hex");

/**
 * RFC 5280 §5.3.1 reasonCode entry extensions, one per reason, as the entry's whole
 * crlEntryExtensions: SEQUENCE { SEQUENCE { id-ce-cRLReasons, OCTET STRING { ENUMERATED } } }.
 */
const REASON_EXTENSIONS = new Map(
  Object.entries(REVOCATION_REASONS).map(([reason, code]) => [
    reason,
    Buffer.from(
      new pkijs.Extensions({
        extensions: [extension(OID.crlReason, false, new asn1js.Enumerated({ value: code }))],
      })
        .toSchema()
        .toBER(),
    ),
  ]),
);

/** A serial's bytes as a DER INTEGER, as given (ca-service keeps serials canonical and positive). */
const serialInteger = (serial: string) => {
  const bytes = Buffer.from(serial, "hex");
  return Buffer.concat([Buffer.of(0x02), encodedLength(bytes.length), bytes]);
};

/**
 * RFC 5280 §5.1 revokedCertificates: SEQUENCE OF SEQUENCE { userCertificate, revocationDate,
 * crlEntryExtensions }. A campaign revokes hundreds a second: each second's time is encoded once.
 */
function revokedCertificates(entries: CrlSpec["entries"]): Buffer {
  const times = new Map<number, Buffer>();
  const timeOf = (date: Date) => {
    const second = Math.floor(date.getTime() / 1000);
    let encoded = times.get(second);
    if (!encoded) {
      encoded = derTime(date);
      times.set(second, encoded);
    }
    return encoded;
  };
  return sequence(
    entries.map((e) =>
      sequence([serialInteger(e.serial), timeOf(e.revokedAt), REASON_EXTENSIONS.get(e.reason) as Buffer]),
    ),
  );
}

/**
 * A signed CRL (RFC 5280 §5). The TBSCertList is assembled from encoded parts: pkijs encodes its
 * extensions (a few, once per CRL), each revoked certificate's entry is written here (pkijs's
 * objects cost ~250 µs an entry: 25 s for a CRL of 100,000, which a campaign remakes every few
 * seconds), and our signer signs its bytes; nothing is parsed back. @peculiar/x509's generator
 * re-read what it had made, and asn1js's decoder stops at 10,000 nodes.
 */
/** The CRL's extensions (RFC 5280 §5.2): authority key identifier, CRL number, and a shard's IDP. */
export function crlExtensions(spec: CrlSpec): pkijs.Extension[] {
  const { spki } = certificateParts(spec.issuer);
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
  return extensions;
}

export async function buildCrl(spec: CrlSpec, signer: CaSigner): Promise<Buffer> {
  const { subject } = certificateParts(spec.issuer);
  const tbs = sequence([
    VERSION_2,
    signatureAlgorithm(signer),
    subject,
    derTime(spec.thisUpdate),
    derTime(spec.nextUpdate),
    ...(spec.entries.length > 0 ? [revokedCertificates(spec.entries)] : []),
    explicit(0, [Buffer.from(new pkijs.Extensions({ extensions: crlExtensions(spec) }).toSchema().toBER())]),
  ]);
  return signed(signer, tbs);
}
