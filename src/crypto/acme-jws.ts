import { createPublicKey, type KeyObject, verify as verifySignature } from "node:crypto";
import { calculateJwkThumbprint, flattenedVerify, importJWK, type JWK } from "jose";

/**
 * What each accepted algorithm needs of the key, and its digest: checked before verifying, so a
 * signature is never checked under an algorithm its key was not made for (RFC 8725 §3.1).
 */
const ALGORITHMS: Record<string, { type: string; curve?: string; digest: string | null }> = {
  ES256: { type: "ec", curve: "prime256v1", digest: "sha256" },
  ES384: { type: "ec", curve: "secp384r1", digest: "sha384" },
  ES512: { type: "ec", curve: "secp521r1", digest: "sha512" },
  RS256: { type: "rsa", digest: "sha256" },
  EdDSA: { type: "ed25519", digest: null },
};

import type { AcmeJws, KeyFacts, ParsedJws } from "../domain/acme-server/ports.js";
import { acmeError } from "../domain/acme-server/problems.js";
import type { CsrFacts } from "../domain/ca/model.js";
import { keyDetails } from "./key-details.js";

const B64U = /^[A-Za-z0-9_-]*$/;
/** Imported account keys, by their JWK's JSON: every request of an account verifies with the same key. */
const MAX_CACHED_KEYS = 10_000;

function publicKeyOf(jwk: Record<string, unknown>): KeyObject {
  if ("d" in jwk) throw acmeError("badPublicKey", "The jwk holds a private key; send only the public key");
  try {
    return createPublicKey({ key: jwk as JWK & { kty: string }, format: "jwk" });
  } catch (error) {
    throw acmeError("badPublicKey", `The jwk is not a usable public key: ${(error as Error).message}`);
  }
}

/** JWS of ACME requests (RFC 8555 §6.2) over jose, with account keys cached after their first use. */
export function createAcmeJws(): AcmeJws {
  const keys = new Map<string, KeyObject>();

  return {
    parse(body) {
      const jws = body as Record<string, unknown> | null;
      if (
        typeof jws !== "object" ||
        jws === null ||
        typeof jws.protected !== "string" ||
        typeof jws.payload !== "string" ||
        typeof jws.signature !== "string" ||
        ![jws.protected, jws.payload, jws.signature].every((part) => B64U.test(part as string))
      )
        throw acmeError(
          "malformed",
          "The body must be a flattened JWS: protected, payload and signature in base64url",
        );
      let header: unknown;
      try {
        header = JSON.parse(Buffer.from(jws.protected, "base64url").toString("utf8"));
      } catch {
        throw acmeError("malformed", "The JWS protected header is not JSON");
      }
      if (typeof header !== "object" || header === null || Array.isArray(header))
        throw acmeError("malformed", "The JWS protected header is not a JSON object");
      return {
        header: header as Record<string, unknown>,
        payload: Buffer.from(jws.payload, "base64url"),
        raw: { protected: jws.protected, payload: jws.payload, signature: jws.signature },
      };
    },

    async verify(jws: ParsedJws, jwk) {
      const cacheKey = JSON.stringify(jwk);
      let key = keys.get(cacheKey);
      if (!key) {
        key = publicKeyOf(jwk);
        if (keys.size >= MAX_CACHED_KEYS) keys.clear();
        keys.set(cacheKey, key);
      }
      const algorithm = ALGORITHMS[String(jws.header.alg)];
      if (
        !algorithm ||
        key.asymmetricKeyType !== algorithm.type ||
        (algorithm.curve && key.asymmetricKeyDetails?.namedCurve !== algorithm.curve)
      )
        return false;
      // RFC 7515 §5.2: the signing input is the encoded header and payload; ECDSA signatures are
      // R || S (RFC 7518 §3.4), not DER.
      const input = Buffer.from(`${jws.raw.protected}.${jws.raw.payload}`);
      const signature = Buffer.from(jws.raw.signature, "base64url");
      try {
        return verifySignature(
          algorithm.digest,
          input,
          algorithm.type === "ec" ? { key, dsaEncoding: "ieee-p1363" } : key,
          signature,
        );
      } catch {
        return false;
      }
    },

    async verifyMac(jws, hmacKey) {
      try {
        await flattenedVerify(
          jws.raw,
          await importJWK({ kty: "oct", k: hmacKey.toString("base64url") }, String(jws.header.alg)),
          {
            algorithms: ["HS256", "HS384", "HS512"],
          },
        );
        return true;
      } catch {
        return false;
      }
    },

    async thumbprint(jwk) {
      try {
        return await calculateJwkThumbprint(jwk as JWK, "sha256");
      } catch (error) {
        throw acmeError("badPublicKey", `The jwk is not a JSON Web Key: ${(error as Error).message}`);
      }
    },

    spki(jwk) {
      return publicKeyOf(jwk).export({ type: "spki", format: "der" });
    },
  };
}

/**
 * Key type and size of a CSR's key, in the rules' terms: from what reading the CSR found when it
 * checked the signature, else from its SPKI.
 */
export function csrKeyFacts(csr: Pick<CsrFacts, "publicKey" | "key">): KeyFacts {
  const details = csr.key ?? keyDetails(createPublicKey({ key: csr.publicKey, format: "der", type: "spki" }));
  if (details.type === "rsa") return { keyType: "RSA", keySize: details.modulusLength };
  if (details.type === "ec") {
    const curve = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" }[details.namedCurve ?? ""];
    return { keyType: "EC", keySize: { "P-256": 256, "P-384": 384, "P-521": 521 }[curve ?? ""], curve };
  }
  if (details.type === "ed25519") return { keyType: "Ed25519", keySize: 256 };
  return { keyType: details.type ?? "unknown" };
}
