import { createHash, createPrivateKey } from "node:crypto";
import { createRequire } from "node:module";
import * as asn1js from "asn1js";
import type { CertificateBundleCodec, KeyAndCertificates } from "../domain/certificates/ports.js";
import { badParameter, DomainError } from "../domain/errors.js";
import { randomPart } from "../domain/ids.js";
import type { CryptoPool } from "./crypto-pool.js";
import { encode, explicit, octetString, oid, sequence } from "./der.js";
import { nativePrimitives } from "./native-primitives.js";
import { pemBlocks, toPem } from "./pem.js";

// node-forge assigns module.exports whole, so ESM sees no named exports; require it.
const forge = createRequire(import.meta.url)("node-forge") as typeof import("node-forge");
type Asn1 = import("node-forge").asn1.Asn1;

/** An ASN.1 tree with every constructed (chunked) OCTET STRING joined into one primitive. */
function joinedOctetStrings(node: Asn1): Asn1 {
  if (!Array.isArray(node.value)) return node;
  const children = node.value.map(joinedOctetStrings);
  if (node.tagClass === forge.asn1.Class.UNIVERSAL && node.type === forge.asn1.Type.OCTETSTRING) {
    return forge.asn1.create(node.tagClass, node.type, false, children.map((c) => String(c.value)).join(""));
  }
  return { ...node, value: children };
}

// PKCS#12 is BER, which lets an OCTET STRING come in chunks, and pkijs writes a long one (the
// ciphertext of a PKCS#8 shrouded key bag) that way; node-forge's EncryptedPrivateKeyInfo validator
// takes only the primitive form and refused such files. Its PKCS#12 reader calls this function of
// the shared pki object for every shrouded key bag, so the chunks are joined there.
const decryptPrivateKeyInfo = forge.pki.decryptPrivateKeyInfo;
forge.pki.decryptPrivateKeyInfo = (info, password) =>
  decryptPrivateKeyInfo(joinedOctetStrings(info), password);

const KEY_BAG = oid("1.2.840.113549.1.12.10.1.1");
const CERT_BAG = oid("1.2.840.113549.1.12.10.1.3");
const X509_CERT = oid("1.2.840.113549.1.9.22.1");

const MAC_SALT_BYTES = 64;
// The MAC of a password-less PFX protects nothing (anyone can recompute it): one iteration, as
// `openssl pkcs12 -nomaciter` writes.
const MAC_ITERATIONS = 1;
const DATA = oid("1.2.840.113549.1.7.1");
const SHA_256 = sequence([oid("2.16.840.1.101.3.4.2.1")]);
const VERSION_3 = Buffer.of(0x02, 0x01, 0x03);

/** PKCS#7 data ContentInfo: the form every PKCS#12 layer wraps its content in. */
const dataContentInfo = (content: Buffer) => sequence([DATA, explicit(0, [octetString(content)])]);

const safeBag = (bagId: Buffer, value: Buffer) => sequence([bagId, explicit(0, [value])]);

/**
 * The MAC key of an empty password (RFC 7292 appendix B.2, SHA-256, ID 3). The password is the
 * BMPString terminator alone, two zero bytes, as OpenSSL and pkijs encode "". An HMAC-SHA256 key is
 * one hash long, so one block of the derivation is the whole key.
 */
function emptyPasswordMacKey(salt: Buffer, iterations: number): Buffer {
  const v = 64;
  const diversifier = Buffer.alloc(v, 3);
  const saltBlock = Buffer.alloc(v * Math.ceil(salt.length / v));
  for (let i = 0; i < saltBlock.length; i++) saltBlock[i] = salt[i % salt.length] as number;
  let block = Buffer.concat([diversifier, saltBlock, Buffer.alloc(v)]);
  for (let i = 0; i < iterations; i++) block = createHash("sha256").update(block).digest();
  return block;
}

/**
 * A PFX with the key (if any) and the certificates in unencrypted bags and an empty password, as
 * Key Vault hands out. Assembled from DER parts: pkijs's object model took a millisecond for it.
 */
export function assemblePfx(pkcs8: Buffer | undefined, certificates: Buffer[], salt: Buffer): Buffer {
  const certBags = certificates.map((der) =>
    safeBag(CERT_BAG, sequence([X509_CERT, explicit(0, [octetString(der)])])),
  );
  const keyContents = pkcs8 && sequence([safeBag(KEY_BAG, pkcs8)]);
  const authenticatedSafe = sequence([
    ...(keyContents ? [dataContentInfo(keyContents)] : []),
    dataContentInfo(sequence(certBags)),
  ]);
  const mac = nativePrimitives.hmacSha256(emptyPasswordMacKey(salt, MAC_ITERATIONS), authenticatedSafe);
  const pfx = sequence([
    VERSION_3,
    dataContentInfo(authenticatedSafe),
    sequence([
      sequence([SHA_256, octetString(mac)]),
      octetString(salt),
      encode(new asn1js.Integer({ value: MAC_ITERATIONS })),
    ]),
  ]);
  // The intermediate buffers hold the private key too.
  keyContents?.fill(0);
  authenticatedSafe.fill(0);
  return pfx;
}

const wrongPassword = (cause: unknown, what: string) =>
  new DomainError("BadParameter", `The ${what} password is wrong`, { cause, reason: "WrongPassword" });

/**
 * Any private key node:crypto reads (PKCS#8, PKCS#1, SEC 1; encrypted PKCS#8 or traditional
 * Proc-Type encryption) as PKCS#8 DER. OpenSSL says "bad decrypt" for a wrong password and asks for
 * one when none was given: both are the caller's password, not the key, being wrong.
 */
function pkcs8FromPem(pem: string, password: string | undefined): Buffer {
  try {
    return createPrivateKey({
      key: pem,
      format: "pem",
      ...(password !== undefined && password !== "" && { passphrase: password }),
    }).export({ format: "der", type: "pkcs8" });
  } catch (cause) {
    const message = (cause as Error).message ?? "";
    // A wrong password passes the CBC padding check of traditional PEM encryption about once in 256
    // tries, and OpenSSL then fails on the garbage it decrypted: any failure of an encrypted key read
    // with a password is the password's.
    const encrypted = /^Proc-Type:\s*4,ENCRYPTED|-----BEGIN ENCRYPTED PRIVATE KEY-----/m.test(pem);
    if (
      (encrypted && password !== undefined && password !== "") ||
      /bad decrypt|passphrase|password|interrupted or cancelled/i.test(message)
    ) {
      if (password === undefined || password === "")
        throw new DomainError("BadParameter", "The PEM private key is encrypted: give its password in pwd", {
          cause,
          reason: "WrongPassword",
        });
      throw wrongPassword(cause, "private key's");
    }
    throw new DomainError("BadParameter", `The PEM private key could not be read: ${message}`, { cause });
  }
}

/**
 * PKCS#12 and PEM. Reading uses node-forge, which knows every PBE that PKCS#12 files in the wild use
 * (PBES2 with AES, and the legacy 3DES and RC2 that `openssl pkcs12 -legacy` and older Windows
 * write). Writing assembles the PFX from DER (assemblePfx), on the crypto pool's threads when given.
 */
export function createCertificateBundleCodec(pool?: Pick<CryptoPool, "pfx">): CertificateBundleCodec {
  return {
    parsePfx(bytes, password) {
      let p12: import("node-forge").pkcs12.Pkcs12Pfx;
      try {
        const asn1 = forge.asn1.fromDer(forge.util.createBuffer(bytes.toString("binary")));
        p12 = forge.pkcs12.pkcs12FromAsn1(asn1, false, password ?? "");
      } catch (cause) {
        const message = (cause as Error).message ?? "";
        if (/MAC could not be verified|Invalid password|decrypt/i.test(message))
          throw wrongPassword(cause, "PFX");
        throw new DomainError("BadParameter", `The value is not a readable PKCS#12 file: ${message}`, {
          cause,
        });
      }
      const result: KeyAndCertificates = { certificates: [] };
      for (const safe of p12.safeContents) {
        for (const bag of safe.safeBags) {
          if (bag.type === forge.pki.oids.certBag) {
            const asn1 = bag.cert ? forge.pki.certificateToAsn1(bag.cert) : bag.asn1;
            if (asn1) result.certificates.push(Buffer.from(forge.asn1.toDer(asn1).getBytes(), "binary"));
          } else if (bag.type === forge.pki.oids.pkcs8ShroudedKeyBag || bag.type === forge.pki.oids.keyBag) {
            if (result.pkcs8) throw badParameter("The PFX holds more than one private key");
            // forge parses RSA keys itself and hands other types (EC) back as PrivateKeyInfo.
            const info = bag.key
              ? forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(bag.key))
              : bag.asn1;
            if (!info) throw badParameter("The PFX key bag could not be read");
            result.pkcs8 = Buffer.from(forge.asn1.toDer(info).getBytes(), "binary");
          }
        }
      }
      return result;
    },

    parsePem(text, password) {
      const blocks = pemBlocks(text);
      const keys = blocks.filter((b) => b.label.endsWith("PRIVATE KEY"));
      if (keys.length > 1) throw badParameter("The PEM holds more than one private key");
      return {
        certificates: blocks.filter((b) => b.label === "CERTIFICATE").map((b) => b.der),
        pkcs8: keys[0] ? pkcs8FromPem(keys[0].text, password) : undefined,
      };
    },

    async buildPfx(pkcs8, certificates) {
      // The MAC salt is public once the PFX is made.
      const salt = randomPart(MAC_SALT_BYTES);
      return pool ? pool.pfx(pkcs8, certificates, salt) : assemblePfx(pkcs8, certificates, salt);
    },

    pkcs8ToJwk(pkcs8) {
      const jwk = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }).export({ format: "jwk" });
      const crv = jwk.crv === "secp256k1" ? "P-256K" : jwk.crv;
      return { ...(jwk as Record<string, string>), kty: String(jwk.kty), ...(crv !== undefined && { crv }) };
    },

    buildPem(pkcs8, certificates) {
      return (
        (pkcs8 ? toPem("PRIVATE KEY", pkcs8) : "") + certificates.map((c) => toPem("CERTIFICATE", c)).join("")
      );
    },
  };
}
