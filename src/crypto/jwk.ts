import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { badParameter } from "../domain/errors.js";
import type { CurveName, ImportJwk, PublicKeyParts } from "../domain/keys/model.js";

// JOSE curve names and Key Vault's P-256K against the names node:crypto and OpenSSL use.
const NODE_CURVE: Record<CurveName, string> = {
  "P-256": "P-256",
  "P-384": "P-384",
  "P-521": "P-521",
  "P-256K": "secp256k1",
};
export const OPENSSL_CURVE: Record<CurveName, string> = {
  "P-256": "prime256v1",
  "P-384": "secp384r1",
  "P-521": "secp521r1",
  "P-256K": "secp256k1",
};
export const CURVE_BITS: Record<CurveName, number> = {
  "P-256": 256,
  "P-384": 384,
  "P-521": 521,
  "P-256K": 256,
};

export function curveFromNode(crv: string): CurveName {
  if (crv === "secp256k1" || crv === "SECP256K1") return "P-256K";
  if (crv === "P-256" || crv === "P-384" || crv === "P-521") return crv;
  throw badParameter(`Unsupported curve ${crv}`);
}

/** The public members of a key as Key Vault shows them. */
export function publicParts(key: KeyObject): PublicKeyParts {
  const jwk = (key.type === "public" ? key : createPublicKey(key)).export({ format: "jwk" });
  if (jwk.kty === "RSA") return { n: jwk.n as string, e: jwk.e as string };
  if (jwk.kty === "EC")
    return { crv: curveFromNode(jwk.crv as string), x: jwk.x as string, y: jwk.y as string };
  throw badParameter(`Unsupported key type ${String(jwk.kty)}: Key Vault keys are RSA or EC`);
}

/** An Ed25519 key's public members (RFC 8037 §2: `x` is the key); kept apart, as only CA keys are Ed25519. */
export function ed25519Parts(key: KeyObject): PublicKeyParts {
  return { crv: "Ed25519", x: createPublicKey(key).export({ format: "jwk" }).x as string };
}

export function rsaBits(parts: PublicKeyParts): number | undefined {
  return parts.n === undefined ? undefined : Buffer.from(parts.n, "base64url").length * 8;
}

const PROBE = Buffer.from("strongroom pairwise consistency probe");

/**
 * Refuses keys Key Vault would not hold (RSA outside 2048-4096 bits) and keys whose private and
 * public members do not belong together: node:crypto parses such JWKs without complaint.
 */
function checkImported(key: KeyObject): KeyObject {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType === "rsa" && (bits === undefined || bits < 2048 || bits > 4096)) {
    throw badParameter(
      `RSA keys must have 2048 to 4096 bits; this one has ${bits ?? "an unknown number of"}`,
    );
  }
  let consistent = false;
  try {
    consistent = verify("sha256", PROBE, createPublicKey(key), sign("sha256", PROBE, key));
  } catch {
    consistent = false;
  }
  if (!consistent) throw badParameter("The JWK's private and public members do not form one key pair");
  return key;
}

/** Parses a private JWK (RSA or EC) into a KeyObject, with a message that says what is wrong. */
export function privateKeyFromJwk(jwk: ImportJwk): KeyObject {
  return checkImported(parsePrivateJwk(jwk));
}

function parsePrivateJwk(jwk: ImportJwk): KeyObject {
  const kty = jwk.kty.replace(/-HSM$/, "");
  try {
    if (kty === "RSA") {
      for (const member of ["n", "e", "d", "p", "q", "dp", "dq", "qi"] as const) {
        if (!jwk[member]) throw badParameter(`The RSA JWK lacks its "${member}" member`);
      }
      const { n, e, d, p, q, dp, dq, qi } = jwk;
      return createPrivateKey({ key: { kty: "RSA", n, e, d, p, q, dp, dq, qi } as never, format: "jwk" });
    }
    if (kty === "EC") {
      if (!jwk.crv || !(jwk.crv in NODE_CURVE)) throw badParameter(`Unsupported curve "${String(jwk.crv)}"`);
      if (!jwk.d || !jwk.x || !jwk.y) throw badParameter('The EC JWK needs "d", "x" and "y"');
      const crv = NODE_CURVE[jwk.crv as CurveName];
      return createPrivateKey({
        key: { kty: "EC", crv, d: jwk.d, x: jwk.x, y: jwk.y } as never,
        format: "jwk",
      });
    }
  } catch (error) {
    if (error instanceof Error && error.name === "DomainError") throw error;
    throw badParameter(`The JWK is not a valid ${kty} private key: ${(error as Error).message}`);
  }
  throw badParameter(`Cannot import a key of type "${jwk.kty}" here`);
}

/** A public KeyObject from Key Vault's public members, or a CA's Ed25519 ones. */
export function publicKeyFromParts(parts: PublicKeyParts): KeyObject {
  if (parts.n && parts.e)
    return createPublicKey({ key: { kty: "RSA", n: parts.n, e: parts.e }, format: "jwk" });
  if (parts.crv === "Ed25519")
    return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: parts.x ?? "" }, format: "jwk" });
  if (parts.crv && parts.x && parts.y) {
    return createPublicKey({
      key: { kty: "EC", crv: NODE_CURVE[parts.crv], x: parts.x, y: parts.y },
      format: "jwk",
    });
  }
  throw badParameter("The key has no public part");
}
