import "reflect-metadata";
import {
  constants,
  createCipheriv,
  publicEncrypt,
  randomBytes,
  webcrypto,
  X509Certificate,
} from "node:crypto";
import * as x509 from "@peculiar/x509";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";

pkijs.setEngine("node", new pkijs.CryptoEngine({ name: "node", crypto: webcrypto as unknown as Crypto }));
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ab = (b: Uint8Array) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
const RSA = {
  name: "RSASSA-PKCS1-v1_5",
  hash: "SHA-256",
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
};
const SCEP = "2.16.840.1.113733.1.9.";

/** A SCEP client identity: an RSA key and a self-signed certificate, as RFC 8894 §2.3 has clients make. */
export async function scepClient(cn: string) {
  const keys = (await webcrypto.subtle.generateKey(RSA, true, ["sign", "verify"])) as CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${cn}`,
    keys,
    signingAlgorithm: RSA,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
  });
  /** A PKCS#10 for this key, with a challengePassword attribute and a DNS name when given. */
  async function csr(challenge?: string, dns?: string): Promise<Buffer> {
    const request = await x509.Pkcs10CertificateRequestGenerator.create({
      name: `CN=${cn}`,
      keys,
      signingAlgorithm: RSA,
      ...(challenge && { attributes: [new x509.ChallengePasswordAttribute(challenge)] }),
      ...(dns && { extensions: [new x509.SubjectAlternativeNameExtension([{ type: "dns", value: dns }])] }),
    });
    return Buffer.from(request.rawData);
  }
  /**
   * A pkiMessage (RFC 8894 §3.2): `content` enveloped for the RA (AES-128-CBC, RSA key transport),
   * signed by this client with the SCEP attributes.
   */
  async function message(
    type: "19" | "17" | "20",
    transactionId: string,
    content: Buffer,
    ra: Buffer,
    options: { corruptKey?: boolean } = {},
  ) {
    const key = randomBytes(16);
    const iv = randomBytes(16);
    const cipher = createCipheriv("aes-128-cbc", key, iv);
    const encrypted = Buffer.concat([cipher.update(content), cipher.final()]);
    const raCert = new pkijs.Certificate({ schema: asn1js.fromBER(ab(ra)).result });
    const wrapped = publicEncrypt(
      { key: new X509Certificate(ra).publicKey, padding: constants.RSA_PKCS1_PADDING },
      key,
    );
    // A flipped bit in the RSA-encrypted key: what a padding-oracle attacker sends.
    if (options.corruptKey) wrapped.writeUInt8(wrapped.readUInt8(7) ^ 0x01, 7);
    const enveloped = new pkijs.EnvelopedData({
      version: 0,
      recipientInfos: [
        new pkijs.RecipientInfo({
          variant: 1,
          value: new pkijs.KeyTransRecipientInfo({
            version: 0,
            rid: new pkijs.IssuerAndSerialNumber({
              issuer: raCert.issuer,
              serialNumber: raCert.serialNumber,
            }),
            keyEncryptionAlgorithm: new pkijs.AlgorithmIdentifier({
              algorithmId: "1.2.840.113549.1.1.1",
              algorithmParams: new asn1js.Null(),
            }),
            encryptedKey: new asn1js.OctetString({ valueHex: ab(wrapped) }),
          }),
        }),
      ],
      encryptedContentInfo: new pkijs.EncryptedContentInfo({
        contentType: "1.2.840.113549.1.7.1",
        contentEncryptionAlgorithm: new pkijs.AlgorithmIdentifier({
          algorithmId: "2.16.840.1.101.3.4.1.2",
          algorithmParams: new asn1js.OctetString({ valueHex: ab(iv) }),
        }),
        encryptedContent: new asn1js.OctetString({ valueHex: ab(encrypted) }),
      }),
    });
    const envelope = Buffer.from(
      new pkijs.ContentInfo({ contentType: "1.2.840.113549.1.7.3", content: enveloped.toSchema() })
        .toSchema()
        .toBER(),
    );
    const digest = Buffer.from(await webcrypto.subtle.digest("SHA-256", envelope));
    const own = new pkijs.Certificate({ schema: asn1js.fromBER(certificate.rawData).result });
    const attr = (id: string, value: asn1js.AsnType) => new pkijs.Attribute({ type: id, values: [value] });
    const signed = new pkijs.SignedData({
      version: 1,
      encapContentInfo: new pkijs.EncapsulatedContentInfo({
        eContentType: "1.2.840.113549.1.7.1",
        eContent: new asn1js.OctetString({ valueHex: ab(envelope) }),
      }),
      signerInfos: [
        new pkijs.SignerInfo({
          version: 1,
          sid: new pkijs.IssuerAndSerialNumber({ issuer: own.issuer, serialNumber: own.serialNumber }),
          signedAttrs: new pkijs.SignedAndUnsignedAttributes({
            type: 0,
            attributes: [
              attr("1.2.840.113549.1.9.3", new asn1js.ObjectIdentifier({ value: "1.2.840.113549.1.7.1" })),
              attr("1.2.840.113549.1.9.4", new asn1js.OctetString({ valueHex: ab(digest) })),
              attr(`${SCEP}2`, new asn1js.PrintableString({ value: type })),
              attr(`${SCEP}7`, new asn1js.PrintableString({ value: transactionId })),
              attr(`${SCEP}5`, new asn1js.OctetString({ valueHex: ab(randomBytes(16)) })),
            ],
          }),
        }),
      ],
      certificates: [own],
    });
    await signed.sign(keys.privateKey, 0, "SHA-256");
    return Buffer.from(
      new pkijs.ContentInfo({ contentType: "1.2.840.113549.1.7.2", content: signed.toSchema(true) })
        .toSchema()
        .toBER(),
    );
  }
  /** CertPoll's content (RFC 8894 §3.3.3): IssuerAndSubject of the request. */
  function issuerAndSubject(caCertificate: Buffer): Buffer {
    const ca = new pkijs.Certificate({ schema: asn1js.fromBER(ab(caCertificate)).result });
    const subject = asn1js.fromBER(ab(Buffer.from(certificate.subjectName.toArrayBuffer()))).result;
    return Buffer.from(new asn1js.Sequence({ value: [ca.subject.toSchema(), subject] }).toBER());
  }
  return { certificate: Buffer.from(certificate.rawData), csr, message, issuerAndSubject };
}

/** The SCEP attributes of a CertRep, read by pkijs, and whether its RA signature verifies. */
export async function readCertRep(der: Buffer) {
  const info = new pkijs.ContentInfo({ schema: asn1js.fromBER(ab(der)).result });
  const signed = new pkijs.SignedData({ schema: info.content });
  const attrs = signed.signerInfos[0]?.signedAttrs?.attributes ?? [];
  const text = (n: string) =>
    (attrs.find((a) => a.type === `${SCEP}${n}`)?.values[0] as asn1js.PrintableString | undefined)?.valueBlock
      .value;
  return {
    verified: (await signed.verify({ signer: 0, checkChain: false })) === true,
    messageType: text("2"),
    pkiStatus: text("3"),
    failInfo: text("4"),
    transactionId: text("7"),
  };
}
