import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  webcrypto,
  X509Certificate,
} from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import type {
  RaIdentity,
  ScepCodec,
  ScepFailInfo,
  ScepMessageType,
  ScepRequest,
} from "../domain/enrollment/ports.js";
import { badParameter } from "../domain/errors.js";
import { arrayBuffer, CMS_OID, certsOnly, parseDer, readPkijsCertificate } from "./pkcs7-certs.js";

const OID = {
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  signingTime: "1.2.840.113549.1.9.5",
  challengePassword: "1.2.840.113549.1.9.7",
  rsaEncryption: "1.2.840.113549.1.1.1",
  // RFC 8894 §3.2.1: the SCEP attributes under id-VeriSign pki attributes.
  messageType: "2.16.840.1.113733.1.9.2",
  pkiStatus: "2.16.840.1.113733.1.9.3",
  failInfo: "2.16.840.1.113733.1.9.4",
  senderNonce: "2.16.840.1.113733.1.9.5",
  recipientNonce: "2.16.840.1.113733.1.9.6",
  transactionId: "2.16.840.1.113733.1.9.7",
} as const;

/** RFC 8894 §3.2.1.2. */
const MESSAGE_TYPES: Record<string, ScepMessageType> = {
  "17": "RenewalReq",
  "19": "PKCSReq",
  "20": "CertPoll",
  "21": "GetCert",
  "22": "GetCRL",
};
const CERT_REP = "3";
const PKI_STATUS = { SUCCESS: "0", FAILURE: "2", PENDING: "3" } as const;
const FAIL_INFO: Record<ScepFailInfo, string> = {
  badAlg: "0",
  badMessageCheck: "1",
  badRequest: "2",
  badTime: "3",
  badCertId: "4",
};

/** Content-encryption algorithms clients use: AES (advertised in GetCACaps) and legacy 3DES. */
const CIPHERS: Record<string, { name: string; keyBytes: number; ivBytes: number }> = {
  "2.16.840.1.101.3.4.1.2": { name: "aes-128-cbc", keyBytes: 16, ivBytes: 16 },
  "2.16.840.1.101.3.4.1.22": { name: "aes-192-cbc", keyBytes: 24, ivBytes: 16 },
  "2.16.840.1.101.3.4.1.42": { name: "aes-256-cbc", keyBytes: 32, ivBytes: 16 },
  "1.2.840.113549.3.7": { name: "des-ede3-cbc", keyBytes: 24, ivBytes: 8 },
};
const AES_128 = "2.16.840.1.101.3.4.1.2";

const DIGESTS: Record<string, string> = {
  "1.3.14.3.2.26": "SHA-1",
  "2.16.840.1.101.3.4.2.1": "SHA-256",
  "2.16.840.1.101.3.4.2.2": "SHA-384",
  "2.16.840.1.101.3.4.2.3": "SHA-512",
};

/**
 * The bytes of an OCTET STRING in either BER form: OpenSSL sends encrypted content as a constructed
 * string of chunks, which pkijs keeps under an implicit tag rather than as an OctetString.
 */
function octets(value: asn1js.AsnType): Buffer {
  const { idBlock, valueBlock } = value as unknown as {
    idBlock: { isConstructed: boolean };
    valueBlock: { value?: unknown; valueHexView?: Uint8Array };
  };
  // A primitive string's `value` may hold what asn1js decoded inside it; only a constructed one's are chunks.
  if (idBlock.isConstructed && Array.isArray(valueBlock.value))
    return Buffer.concat(valueBlock.value.map((chunk) => octets(chunk as asn1js.AsnType)));
  return Buffer.from(valueBlock.valueHexView ?? new Uint8Array());
}

function attributeValue(attributes: pkijs.Attribute[], type: string): asn1js.AsnType | undefined {
  return attributes.find((a) => a.type === type)?.values[0];
}

function text(value: asn1js.AsnType | undefined): string | undefined {
  if (value instanceof asn1js.PrintableString || value instanceof asn1js.Utf8String)
    return value.valueBlock.value;
  if (value instanceof asn1js.BaseStringBlock) return value.valueBlock.value;
  return undefined;
}

/**
 * RSAES-PKCS1-v1_5 decryption of the content key (RFC 8017 §7.2.2) with implicit rejection: Node
 * refuses PKCS#1 v1.5 private decryption (CVE-2023-46809, the Marvin attack), yet every SCEP client
 * encrypts with it. The raw RSA operation is done by OpenSSL; the padding is checked without
 * branching on secret bytes, and a bad padding yields a key derived from the ciphertext instead of
 * an error, so the reply cannot tell a padding failure from a wrong key.
 */
function unwrapContentKey(encryptedKey: Buffer, pkcs8: Buffer, keyBytes: number): Buffer {
  const em = privateDecrypt(
    {
      key: createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }),
      padding: constants.RSA_NO_PADDING,
    },
    encryptedKey,
  );
  let good = (em[0] === 0 ? 1 : 0) & (em[1] === 2 ? 1 : 0);
  let separator = 0;
  let found = 0;
  for (let i = 2; i < em.length; i++) {
    const isZero = em[i] === 0 ? 1 : 0;
    const first = isZero & (found ^ 1);
    separator = first ? i : separator;
    found |= isZero;
  }
  good &= found & (separator >= 10 ? 1 : 0) & (em.length - separator - 1 === keyBytes ? 1 : 0);
  const synthetic = createHmac("sha256", createHash("sha256").update(pkcs8).digest())
    .update(encryptedKey)
    .digest()
    .subarray(0, keyBytes);
  const candidate = Buffer.alloc(keyBytes);
  em.copy(candidate, 0, Math.max(0, em.length - keyBytes));
  return good ? candidate : Buffer.from(synthetic);
}

/** Opens the EnvelopedData of a pkiMessage (RFC 8894 §3.2.2) with the RA key. */
function openEnvelope(
  der: Buffer,
  ra: RaIdentity,
): { content?: Buffer; problem?: ScepFailInfo; cipher: string } {
  let enveloped: pkijs.EnvelopedData;
  try {
    const info = new pkijs.ContentInfo({ schema: parseDer(der, "The pkiMessage's envelope") });
    if (info.contentType !== CMS_OID.envelopedData) return { problem: "badMessageCheck", cipher: AES_128 };
    enveloped = new pkijs.EnvelopedData({ schema: info.content });
  } catch {
    return { problem: "badMessageCheck", cipher: AES_128 };
  }
  const cipherOid = enveloped.encryptedContentInfo.contentEncryptionAlgorithm.algorithmId;
  const cipher = CIPHERS[cipherOid];
  const raCertificate = readPkijsCertificate(ra.certificate);
  const forRa = enveloped.recipientInfos
    .map((r) => r.value)
    .filter((r): r is pkijs.KeyTransRecipientInfo => r instanceof pkijs.KeyTransRecipientInfo);
  if (!cipher || forRa.length === 0) return { problem: "badAlg", cipher: AES_128 };
  // Only a key encrypted to this RA's certificate can open; any other would decrypt to noise.
  const recipient = forRa.find(
    (r) =>
      r.rid instanceof pkijs.IssuerAndSerialNumber &&
      r.rid.serialNumber.isEqual(raCertificate.serialNumber) &&
      r.rid.issuer.isEqual(raCertificate.issuer),
  );
  if (!recipient) return { problem: "badMessageCheck", cipher: cipherOid };
  if (recipient.keyEncryptionAlgorithm.algorithmId !== OID.rsaEncryption)
    return { problem: "badAlg", cipher: cipherOid };
  const iv = enveloped.encryptedContentInfo.contentEncryptionAlgorithm.algorithmParams;
  const encrypted = enveloped.encryptedContentInfo.encryptedContent;
  if (!(iv instanceof asn1js.OctetString) || !encrypted)
    return { problem: "badMessageCheck", cipher: cipherOid };
  try {
    const key = unwrapContentKey(octets(recipient.encryptedKey), ra.pkcs8, cipher.keyBytes);
    const decipher = createDecipheriv(cipher.name, key, octets(iv));
    return {
      content: Buffer.concat([decipher.update(octets(encrypted)), decipher.final()]),
      cipher: cipherOid,
    };
  } catch {
    return { problem: "badMessageCheck", cipher: cipherOid };
  }
}

/** The challengePassword attribute of a PKCS#10 request (RFC 2985 §5.4.1), if any. */
function challengeOf(csr: Buffer): string | undefined {
  try {
    const request = new pkijs.CertificationRequest({ schema: parseDer(csr, "The certificate request") });
    return text(attributeValue(request.attributes ?? [], OID.challengePassword));
  } catch {
    return undefined;
  }
}

async function raSigningKey(ra: RaIdentity, hash: string): Promise<CryptoKey> {
  return (await webcrypto.subtle.importKey("pkcs8", ra.pkcs8, { name: "RSASSA-PKCS1-v1_5", hash }, false, [
    "sign",
  ])) as unknown as CryptoKey;
}

/** EnvelopedData of `content` for the holder of `recipient` (RSA key transport, PKCS#1 v1.5). */
function envelope(content: Buffer, recipient: Buffer, cipherOid: string): Buffer {
  const cipher = CIPHERS[cipherOid] ?? (CIPHERS[AES_128] as NonNullable<(typeof CIPHERS)[string]>);
  const oid = CIPHERS[cipherOid] ? cipherOid : AES_128;
  const key = randomBytes(cipher.keyBytes);
  const iv = randomBytes(cipher.ivBytes);
  const c = createCipheriv(cipher.name, key, iv);
  const encrypted = Buffer.concat([c.update(content), c.final()]);
  const publicKey = new X509Certificate(recipient).publicKey;
  const encryptedKey = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, key);
  const cert = readPkijsCertificate(recipient);
  const enveloped = new pkijs.EnvelopedData({
    version: 0,
    recipientInfos: [
      new pkijs.RecipientInfo({
        variant: 1,
        value: new pkijs.KeyTransRecipientInfo({
          version: 0,
          rid: new pkijs.IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: cert.serialNumber }),
          keyEncryptionAlgorithm: new pkijs.AlgorithmIdentifier({
            algorithmId: OID.rsaEncryption,
            algorithmParams: new asn1js.Null(),
          }),
          encryptedKey: new asn1js.OctetString({ valueHex: arrayBuffer(encryptedKey) }),
        }),
      }),
    ],
    encryptedContentInfo: new pkijs.EncryptedContentInfo({
      contentType: CMS_OID.data,
      contentEncryptionAlgorithm: new pkijs.AlgorithmIdentifier({
        algorithmId: oid,
        algorithmParams: new asn1js.OctetString({ valueHex: arrayBuffer(iv) }),
      }),
      encryptedContent: new asn1js.OctetString({ valueHex: arrayBuffer(encrypted) }),
    }),
  });
  const info = new pkijs.ContentInfo({ contentType: CMS_OID.envelopedData, content: enveloped.toSchema() });
  return Buffer.from(info.toSchema().toBER(false));
}

const DIGEST_OIDS = Object.fromEntries(Object.entries(DIGESTS).map(([oid, name]) => [name, oid]));
const nodeHash = (name: string) => name.replace("-", "").toLowerCase();

export function createScepCodec(): ScepCodec {
  return {
    async readRequest(der, ra) {
      let signed: pkijs.SignedData;
      try {
        const info = new pkijs.ContentInfo({ schema: parseDer(der, "The pkiMessage") });
        if (info.contentType !== CMS_OID.signedData)
          throw badParameter("The pkiMessage is not a CMS SignedData (RFC 8894 §3.2)");
        signed = new pkijs.SignedData({ schema: info.content });
      } catch (error) {
        if (error instanceof Error && error.name === "DomainError") throw error;
        throw badParameter(`The pkiMessage is not a CMS SignedData: ${(error as Error).message}`);
      }
      const signer = signed.signerInfos[0];
      const attributes = signer?.signedAttrs?.attributes ?? [];
      const transactionId = text(attributeValue(attributes, OID.transactionId));
      const messageType = text(attributeValue(attributes, OID.messageType));
      const nonce = attributeValue(attributes, OID.senderNonce);
      const signerCert = signed.certificates?.find(
        (c): c is pkijs.Certificate => c instanceof pkijs.Certificate,
      );
      if (!signer || !transactionId || !messageType || !(nonce instanceof asn1js.OctetString) || !signerCert)
        throw badParameter(
          "The pkiMessage lacks a signer, its certificate, or the messageType, transactionID and senderNonce attributes",
        );
      const digest = DIGESTS[signer.digestAlgorithm.algorithmId] ?? "SHA-256";
      const request: ScepRequest = {
        messageType: MESSAGE_TYPES[messageType] ?? messageType,
        transactionId,
        senderNonce: octets(nonce),
        signerCertificate: Buffer.from(signerCert.toSchema().toBER(false)),
        digest,
        cipher: AES_128,
      };
      let verified = false;
      try {
        verified = (await signed.verify({ signer: 0, checkChain: false })) === true;
      } catch {
        verified = false;
      }
      if (!verified) return { ...request, problem: "badMessageCheck" };
      const content = signed.encapContentInfo.eContent;
      if (!content) return { ...request, problem: "badMessageCheck" };
      const opened = openEnvelope(octets(content), ra);
      if (!opened.content) return { ...request, cipher: opened.cipher, problem: opened.problem };
      const withCipher = { ...request, cipher: opened.cipher };
      if (request.messageType !== "PKCSReq" && request.messageType !== "RenewalReq") return withCipher;
      return { ...withCipher, csr: opened.content, challengePassword: challengeOf(opened.content) };
    },

    async reply(request, reply, ra) {
      const hash = DIGEST_OIDS[request.digest] ? request.digest : "SHA-256";
      const content =
        reply.status === "SUCCESS"
          ? envelope(certsOnly(reply.certificates), request.signerCertificate, request.cipher)
          : undefined;
      const printable = (value: string) => new asn1js.PrintableString({ value });
      const attribute = (type: string, value: asn1js.AsnType) =>
        new pkijs.Attribute({ type, values: [value] });
      const digest = createHash(nodeHash(hash))
        .update(content ?? Buffer.alloc(0))
        .digest();
      const attributes = [
        attribute(OID.contentType, new asn1js.ObjectIdentifier({ value: CMS_OID.data })),
        attribute(OID.signingTime, new asn1js.UTCTime({ valueDate: new Date() })),
        attribute(OID.messageDigest, new asn1js.OctetString({ valueHex: arrayBuffer(digest) })),
        attribute(OID.messageType, printable(CERT_REP)),
        attribute(OID.pkiStatus, printable(PKI_STATUS[reply.status])),
        ...(reply.status === "FAILURE"
          ? [attribute(OID.failInfo, printable(FAIL_INFO[reply.failInfo]))]
          : []),
        attribute(OID.transactionId, printable(request.transactionId)),
        attribute(OID.recipientNonce, new asn1js.OctetString({ valueHex: arrayBuffer(request.senderNonce) })),
        attribute(OID.senderNonce, new asn1js.OctetString({ valueHex: arrayBuffer(randomBytes(16)) })),
      ];
      const raCert = readPkijsCertificate(ra.certificate);
      const signed = new pkijs.SignedData({
        version: 1,
        // A FAILURE or PENDING carries empty content rather than none: OpenSSL's PKCS7_verify, which
        // certmonger and sscep use, refuses a SignedData without content as detached.
        encapContentInfo: new pkijs.EncapsulatedContentInfo({
          eContentType: CMS_OID.data,
          eContent: new asn1js.OctetString({ valueHex: arrayBuffer(content ?? Buffer.alloc(0)) }),
        }),
        signerInfos: [
          new pkijs.SignerInfo({
            version: 1,
            sid: new pkijs.IssuerAndSerialNumber({
              issuer: raCert.issuer,
              serialNumber: raCert.serialNumber,
            }),
            signedAttrs: new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes }),
          }),
        ],
        certificates: [raCert],
      });
      await signed.sign(await raSigningKey(ra, hash), 0, hash);
      const info = new pkijs.ContentInfo({ contentType: CMS_OID.signedData, content: signed.toSchema(true) });
      return Buffer.from(info.toSchema().toBER(false));
    },
  };
}
