import { createRemoteJWKSet, type JWTVerifyGetKey, jwtVerify } from "jose";
import { DomainError } from "../domain/errors.js";
import type { OpenIdProvider } from "../domain/sign-in/ports.js";
import { fetchOpenIdConfiguration, type OpenIdConfiguration } from "./openid-discovery.js";

export interface OpenIdClientSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  /** Scopes asked for besides openid. */
  scopes: readonly string[];
  fetch?: typeof fetch;
  /** How long the discovery document and its keys are reused before they are read again. */
  discoveryCacheMs?: number;
}

const providerFailed = (message: string, cause?: unknown) =>
  new DomainError("Unauthorized", message, { reason: "SignOnFailed", cause });

/**
 * A relying party for one OpenID Connect provider: authorization code flow with PKCE S256, the
 * client secret sent by HTTP Basic (client_secret_basic, OpenID Connect Core §9), and the ID token
 * verified against the provider's JWKS with jose.
 */
export function createJoseOpenIdProvider(settings: OpenIdClientSettings): OpenIdProvider {
  const fetchImpl = settings.fetch ?? fetch;
  const cacheMs = settings.discoveryCacheMs ?? 600_000;
  let discovered: { config: OpenIdConfiguration; keys: JWTVerifyGetKey; until: number } | undefined;

  async function discover() {
    if (discovered && discovered.until > Date.now()) return discovered;
    let config: OpenIdConfiguration;
    try {
      config = await fetchOpenIdConfiguration(settings.issuer, fetchImpl);
    } catch (error) {
      throw new DomainError("Unavailable", `The identity provider ${settings.issuer} cannot be reached.`, {
        cause: error,
      });
    }
    if (!config.authorization_endpoint || !config.token_endpoint) {
      throw new DomainError(
        "Unavailable",
        `The identity provider ${settings.issuer} names no authorization or token endpoint.`,
      );
    }
    discovered = { config, keys: createRemoteJWKSet(new URL(config.jwks_uri)), until: Date.now() + cacheMs };
    return discovered;
  }

  /**
   * Claims such as preferred_username or email that many providers put only in the UserInfo
   * response, not in the ID token. OpenID Connect Core §5.3.2: its sub must be the ID token's, or
   * the answer is someone else's and is ignored.
   */
  async function userInfo(
    endpoint: string,
    accessToken: string,
    sub: unknown,
  ): Promise<Record<string, unknown>> {
    try {
      const response = await fetchImpl(endpoint, {
        headers: { authorization: `Bearer ${accessToken}`, accept: "application/json" },
        signal: AbortSignal.timeout(10_000),
      });
      if (!response.ok) return {};
      const claims = (await response.json()) as Record<string, unknown>;
      return claims.sub === sub ? claims : {};
    } catch {
      return {};
    }
  }

  return {
    async authorizationUrl({ state, nonce, codeChallenge }) {
      const { config } = await discover();
      const url = new URL(config.authorization_endpoint as string);
      url.search = new URLSearchParams({
        response_type: "code",
        client_id: settings.clientId,
        redirect_uri: settings.redirectUri,
        scope: ["openid", ...settings.scopes].join(" "),
        state,
        nonce,
        code_challenge: codeChallenge,
        code_challenge_method: "S256",
      }).toString();
      return url.toString();
    },

    async redeem({ code, codeVerifier, nonce }) {
      const { config, keys } = await discover();
      // RFC 6749 §2.3.1: the id and secret are form-encoded before they are joined for Basic.
      const basic = Buffer.from(
        `${encodeURIComponent(settings.clientId)}:${encodeURIComponent(settings.clientSecret)}`,
      ).toString("base64");
      let response: Response;
      try {
        response = await fetchImpl(config.token_endpoint as string, {
          method: "POST",
          headers: {
            authorization: `Basic ${basic}`,
            "content-type": "application/x-www-form-urlencoded",
            accept: "application/json",
          },
          body: new URLSearchParams({
            grant_type: "authorization_code",
            code,
            redirect_uri: settings.redirectUri,
            code_verifier: codeVerifier,
          }).toString(),
          signal: AbortSignal.timeout(10_000),
        });
      } catch (error) {
        throw new DomainError("Unavailable", `The identity provider ${settings.issuer} cannot be reached.`, {
          cause: error,
        });
      }
      const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
      if (!response.ok || typeof body.id_token !== "string") {
        const reason = typeof body.error === "string" ? body.error : `status ${response.status}`;
        throw providerFailed(`The identity provider refused the authorization code (${reason}).`);
      }
      let idClaims: Record<string, unknown>;
      try {
        // OpenID Connect Core §3.1.3.7: issuer, audience, expiry and signature; then the nonce.
        const { payload } = await jwtVerify(body.id_token, keys, {
          issuer: settings.issuer,
          audience: settings.clientId,
          requiredClaims: ["exp", "iat", "sub"],
          clockTolerance: 60,
        });
        if (payload.nonce !== nonce) throw new Error("the ID token's nonce is not this sign-in's");
        idClaims = payload as Record<string, unknown>;
      } catch (error) {
        throw providerFailed("The identity provider's ID token did not verify.", error);
      }
      const accessToken = typeof body.access_token === "string" ? body.access_token : undefined;
      if (!config.userinfo_endpoint || !accessToken) return idClaims;
      return { ...(await userInfo(config.userinfo_endpoint, accessToken, idClaims.sub)), ...idClaims };
    },
  };
}
