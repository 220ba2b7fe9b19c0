import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, type JWK, jwtVerify, SignJWT } from "jose";
import type { AccessTokenClaims } from "../domain/access/model.js";
import type { TokenSigner } from "../domain/access/ports.js";

export interface JwtTokenSigner extends TokenSigner {
  /** The public half as a JWK Set, served at the OpenID `jwks_uri`. */
  jwks(): { keys: JWK[] };
}

/** A new ES256 signing key as PKCS#8 DER, to be stored sealed. */
export function generateTokenSigningKey(): Buffer {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return privateKey.export({ format: "der", type: "pkcs8" });
}

/** ES256 access tokens; `kid` is the key's RFC 7638 thumbprint. */
export async function createJwtTokenSigner(pkcs8: Buffer): Promise<JwtTokenSigner> {
  const privateKey: KeyObject = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
  const publicKey = createPublicKey(privateKey);
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const jwk: JWK = { ...publicJwk, kid, use: "sig", alg: "ES256" };

  return {
    jwks: () => ({ keys: [jwk] }),

    sign(claims: AccessTokenClaims) {
      return new SignJWT({ ...claims })
        .setProtectedHeader({ alg: "ES256", kid, typ: "JWT" })
        .sign(privateKey);
    },

    async verify(token, { issuer, audiences, now }) {
      try {
        const { payload } = await jwtVerify(token, publicKey, {
          issuer,
          audience: [...audiences],
          algorithms: ["ES256"],
          currentDate: now,
          requiredClaims: ["exp", "oid", "appid", "tid"],
        });
        return payload as unknown as AccessTokenClaims;
      } catch {
        return undefined;
      }
    },
  };
}
