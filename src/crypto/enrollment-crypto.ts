import { createHash, createPublicKey, generateKeyPairSync, randomBytes, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import type { EnrollmentCrypto, PublicKeyFacts } from "../domain/enrollment/ports.js";
import { readCertificateFacts } from "./certificate-facts-reader.js";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const CURVES: Record<string, { name: string; bits: number }> = {
  prime256v1: { name: "P-256", bits: 256 },
  secp384r1: { name: "P-384", bits: 384 },
  secp521r1: { name: "P-521", bits: 521 },
};

const ALGORITHMS = {
  "RSA-2048": {
    import: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    sign: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  },
  "EC-P256": {
    import: { name: "ECDSA", namedCurve: "P-256" },
    sign: { name: "ECDSA", hash: "SHA-256" },
  },
} as const;

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

    async newKeyWithCsr(algorithm, subject) {
      const pair =
        algorithm === "RSA-2048"
          ? generateKeyPairSync("rsa", { modulusLength: 2048 })
          : generateKeyPairSync("ec", { namedCurve: "prime256v1" });
      const pkcs8 = pair.privateKey.export({ format: "der", type: "pkcs8" });
      const spki = pair.publicKey.export({ format: "der", type: "spki" });
      const spec = ALGORITHMS[algorithm];
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
