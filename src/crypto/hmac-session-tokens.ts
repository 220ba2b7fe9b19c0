import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { SessionTokens } from "../domain/sign-in/ports.js";

/**
 * Dashboard session ids as `{installationId}.{256 random bits}`, stored as an HMAC-SHA256 under the
 * installation's session key. A session id from another installation names that installation, so
 * it is refused before any lookup; and a copy of the sessions table, without the key, yields no
 * cookie. CSRF tokens, single-sign-on nonces and PKCE verifiers are HMACs of the session id or the
 * state, so no node needs to store them.
 */
export function createHmacSessionTokens(key: Buffer, installationId: string): SessionTokens {
  if (key.length < 32) throw new Error("the session key must be at least 32 bytes");
  const prefix = `${installationId}.`;
  const mac = (purpose: string, value: string) =>
    createHmac("sha256", key).update(purpose).update("\0").update(value).digest();
  const sameText = (a: string, b: string) => {
    const x = Buffer.from(a);
    const y = Buffer.from(b);
    return x.length === y.length && timingSafeEqual(x, y);
  };
  const stateMac = (body: string) => mac("state", body).subarray(0, 16).toString("base64url");

  return {
    issue: () => `${prefix}${randomBytes(32).toString("base64url")}`,
    digest(token) {
      if (!token.startsWith(prefix) || token.length > 200) return undefined;
      return mac("session", token).toString("hex");
    },
    csrf: (token) => mac("csrf", token).toString("base64url"),
    csrfMatches(token, presented) {
      return sameText(mac("csrf", token).toString("base64url"), presented);
    },
    issueState(now) {
      const body = `${now.getTime()}.${randomBytes(16).toString("base64url")}`;
      return `${body}.${stateMac(body)}`;
    },
    stateIssuedAt(state) {
      const cut = state.lastIndexOf(".");
      const body = state.slice(0, cut);
      if (cut < 0 || !sameText(stateMac(body), state.slice(cut + 1))) return undefined;
      const issuedAtMs = Number(body.split(".", 1)[0]);
      return Number.isSafeInteger(issuedAtMs) ? new Date(issuedAtMs) : undefined;
    },
    nonce: (state) => mac("nonce", state).toString("base64url"),
    pkce(state) {
      // RFC 7636 §4.1: 43 characters of base64url are 256 bits, the recommended length.
      const verifier = mac("pkce", state).toString("base64url");
      return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
    },
  };
}
