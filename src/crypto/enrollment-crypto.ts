import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  webcrypto,
} from "node:crypto";
import * as x509 from "@peculiar/x509";
import * as asn1js from "asn1js";
import type { EnrollmentKeyType } from "../domain/enrollment/model.js";
import type { EnrollmentCrypto, PublicKeyFacts } from "../domain/enrollment/ports.js";
import { readCertificateFacts } from "./certificate-facts-reader.js";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const CURVES: Record<string, { name: string; bits: number }> = {
  prime256v1: { name: "P-256", bits: 256 },
  secp384r1: { name: "P-384", bits: 384 },
  secp521r1: { name: "P-521", bits: 521 },
};

/** Each key type: how to make it, and the signature algorithm its requests carry (OID for csrattrs). */
const KEY_TYPES: Record<
  EnrollmentKeyType,
  {
    generate: () => { privateKey: KeyObject; publicKey: KeyObject };
    import: RsaHashedImportParams | EcKeyImportParams;
    sign: RsaHashedImportParams | EcdsaParams;
    /** The key's algorithm OID, with its parameter: the curve's OID or the RSA modulus size. */
    keyOid: string;
    parameter: { curve: string } | { bits: number };
    signatureOid: string;
  }
> = {
  "RSA-2048": rsa(2048),
  "RSA-3072": rsa(3072),
  "RSA-4096": rsa(4096),
  "EC-P256": ec("P-256", "prime256v1", "1.2.840.10045.3.1.7", "SHA-256", "1.2.840.10045.4.3.2"),
  "EC-P384": ec("P-384", "secp384r1", "1.3.132.0.34", "SHA-384", "1.2.840.10045.4.3.3"),
  "EC-P521": ec("P-521", "secp521r1", "1.3.132.0.35", "SHA-512", "1.2.840.10045.4.3.4"),
};

function rsa(bits: number) {
  const spec = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  return {
    generate: () => generateKeyPairSync("rsa", { modulusLength: bits }),
    import: spec,
    sign: spec,
    keyOid: "1.2.840.113549.1.1.1",
    parameter: { bits },
    signatureOid: "1.2.840.113549.1.1.11",
  };
}

function ec(curve: string, nodeCurve: string, curveOid: string, hash: string, signatureOid: string) {
  return {
    generate: () => generateKeyPairSync("ec", { namedCurve: nodeCurve }),
    import: { name: "ECDSA", namedCurve: curve },
    sign: { name: "ECDSA", hash },
    keyOid: "1.2.840.10045.2.1",
    parameter: { curve: curveOid },
    signatureOid,
  };
}

const EXTENSION_REQUEST = "1.2.840.113549.1.9.14";
const EXTENDED_KEY_USAGE = "2.5.29.37";

const attribute = (type: string, value: asn1js.AsnType) =>
  new asn1js.Sequence({
    value: [new asn1js.ObjectIdentifier({ value: type }), new asn1js.Set({ value: [value] })],
  });

/**
 * RFC 7030 §4.5.2 CsrAttrs. The key type is an Attribute of its algorithm OID with the curve (or,
 * for RSA, the modulus size as RFC 9908 §3.3 spells it), followed by the signature algorithm's bare
 * OID; the EKUs are an extensionRequest holding the extension a CSR should carry (RFC 9908 §3.2).
 */
function csrAttributes(keyType: EnrollmentKeyType | undefined, ekus: string[]): Buffer | undefined {
  const items: asn1js.AsnType[] = [];
  if (keyType) {
    const spec = KEY_TYPES[keyType];
    const parameter =
      "curve" in spec.parameter
        ? new asn1js.ObjectIdentifier({ value: spec.parameter.curve })
        : new asn1js.Integer({ value: spec.parameter.bits });
    items.push(attribute(spec.keyOid, parameter));
    items.push(new asn1js.ObjectIdentifier({ value: spec.signatureOid }));
  }
  if (ekus.length > 0) {
    const usages = new asn1js.Sequence({
      value: ekus.map((oid) => new asn1js.ObjectIdentifier({ value: oid })),
    });
    const extension = new asn1js.Sequence({
      value: [
        new asn1js.ObjectIdentifier({ value: EXTENDED_KEY_USAGE }),
        new asn1js.OctetString({ valueHex: usages.toBER() }),
      ],
    });
    items.push(attribute(EXTENSION_REQUEST, new asn1js.Sequence({ value: [extension] })));
  }
  if (items.length === 0) return undefined;
  return Buffer.from(new asn1js.Sequence({ value: items }).toBER());
}

function keyFacts(spki: Buffer): PublicKeyFacts {
  const key = createPublicKey({ key: spki, format: "der", type: "spki" });
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case "rsa":
      return { keyType: "RSA", keySize: details.modulusLength };
    case "ec": {
      const curve = CURVES[details.namedCurve ?? ""];
      return { keyType: "EC", keySize: curve?.bits, curve: curve?.name ?? details.namedCurve };
    }
    case "ed25519":
      return { keyType: "Ed25519", keySize: 256 };
    case "ed448":
      return { keyType: "Ed448", keySize: 456 };
    default:
      return { keyType: String(key.asymmetricKeyType) };
  }
}

/** Keys, requests and challenge passwords for the EST and SCEP front ends. */
export function createEnrollmentCrypto(): EnrollmentCrypto {
  return {
    keyFacts,

    csrAttributes,

    async newKeyWithCsr(algorithm, subject) {
      const spec = KEY_TYPES[algorithm];
      const pair = spec.generate();
      const pkcs8 = pair.privateKey.export({ format: "der", type: "pkcs8" });
      const spki = pair.publicKey.export({ format: "der", type: "spki" });
      const privateKey = await webcrypto.subtle.importKey("pkcs8", pkcs8, spec.import, false, ["sign"]);
      const publicKey = await webcrypto.subtle.importKey("spki", spki, spec.import, true, ["verify"]);
      const csr = await x509.Pkcs10CertificateRequestGenerator.create({
        name: subject,
        keys: { privateKey, publicKey } as unknown as CryptoKeyPair,
        signingAlgorithm: spec.sign,
      });
      return { pkcs8, csr: Buffer.from(csr.rawData) };
    },

    certificateNames: (der) => readCertificateFacts(der).sans,

    fingerprint: (der) => createHash("sha256").update(der).digest("hex"),

    hashChallenge: (password) => createHash("sha256").update(password, "utf8").digest("hex"),

    // 128 random bits; base64url keeps it typeable into device consoles and free of shell quoting.
    newChallenge: () => randomBytes(16).toString("base64url"),
  };
}
