import { X509Certificate } from "node:crypto";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
  jwtVerify,
} from "jose";
import type { AssertionVerifier } from "../domain/access/ports.js";
import { fetchOpenIdConfiguration } from "./openid-discovery.js";

const ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"];

// Clients stamp nbf/iat from their own clock (MSAL rounds to the nearest second, so nbf may lie half a
// second ahead); Entra ID allows five minutes of skew, and so do we.
const CLOCK_TOLERANCE_S = 300;

/** What both kinds of assertion must claim: RFC 7523 §3's iss, sub, aud and exp. */
const claimRules = (expected: Parameters<AssertionVerifier["verifyFederated"]>[1]) => ({
  issuer: expected.issuer,
  subject: expected.subject,
  audience: [...expected.audiences],
  algorithms: ASYMMETRIC,
  currentDate: expected.now,
  clockTolerance: CLOCK_TOLERANCE_S,
  requiredClaims: ["exp"],
});

export interface JoseAssertionVerifierOptions {
  /** How long an issuer's discovery document is trusted before it is read again. */
  discoveryCacheMs?: number;
  fetch?: typeof fetch;
}

/**
 * Client assertions (RFC 7523 §2.2): JWTs signed by a principal's registered certificate, or by an
 * external OpenID Connect issuer whose keys come from its discovery document's `jwks_uri` (OpenID
 * Connect Discovery 1.0 §4) or from a pinned JWK Set.
 */
export function createJoseAssertionVerifier(options: JoseAssertionVerifierOptions = {}): AssertionVerifier {
  const discoveryCacheMs = options.discoveryCacheMs ?? 600_000;
  const fetchImpl = options.fetch ?? fetch;
  const remote = new Map<string, { keys: JWTVerifyGetKey; until: number }>();

  async function issuerKeys(issuer: string, now: number): Promise<JWTVerifyGetKey> {
    const hit = remote.get(issuer);
    if (hit && hit.until > now) return hit.keys;
    const document = await fetchOpenIdConfiguration(issuer, fetchImpl);
    const keys = createRemoteJWKSet(new URL(document.jwks_uri));
    remote.set(issuer, { keys, until: now + discoveryCacheMs });
    return keys;
  }

  return {
    peek(assertion) {
      try {
        return { header: decodeProtectedHeader(assertion), claims: decodeJwt(assertion) } as ReturnType<
          AssertionVerifier["peek"]
        >;
      } catch {
        return undefined;
      }
    },

    async verifyWithCertificate(assertion, der, expected) {
      try {
        const key = new X509Certificate(der).publicKey;
        await jwtVerify(assertion, key, claimRules(expected));
        return true;
      } catch {
        return false;
      }
    },

    async verifyFederated(assertion, expected) {
      try {
        const keys = expected.jwks
          ? createLocalJWKSet(expected.jwks as JSONWebKeySet)
          : await issuerKeys(expected.issuer, expected.now.getTime());
        await jwtVerify(assertion, keys, claimRules(expected));
        return true;
      } catch {
        return false;
      }
    },
  };
}
