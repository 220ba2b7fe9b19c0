import { randomBytes } from "node:crypto";
import type { Clock } from "../clock.js";
import { badParameter, DomainError } from "../errors.js";
import { newId } from "../ids.js";
import type { Caller, IssuedToken, Principal } from "./model.js";
import type { PrincipalStore, SecretHasher, TokenSigner } from "./ports.js";

export interface IdentityServiceDeps {
  store: PrincipalStore;
  hasher: SecretHasher;
  signer: TokenSigner;
  clock: Clock;
  tenantId: string;
  /** `iss` of the tokens: `{authorityHost}/{tenantId}/v2.0`. */
  issuer: string;
  /** Resources a token may be minted for, e.g. "https://vault.azure.net" and "https://<dns-suffix>". */
  audiences: readonly string[];
  tokenLifetimeSeconds?: number;
  /** How many verified tokens to remember, so hot requests skip the signature check. */
  verifiedTokenCacheSize?: number;
}

export type IdentityService = ReturnType<typeof createIdentityService>;

const invalidClient = () =>
  new DomainError("Unauthorized", "The client id or client secret is wrong, expired or disabled", {
    reason: "invalid_client",
  });

export function createIdentityService(deps: IdentityServiceDeps) {
  const { store, hasher, signer, clock, tenantId, issuer, audiences } = deps;
  const lifetime = deps.tokenLifetimeSeconds ?? 3600;
  const cacheSize = deps.verifiedTokenCacheSize ?? 10_000;
  const verified = new Map<string, { caller: Caller; expMs: number }>();

  /** The caller of a token verified earlier and not yet expired, without waiting on anything. */
  function cachedCaller(token: string): Caller | undefined {
    const hit = verified.get(token);
    if (!hit) return undefined;
    if (hit.expMs > clock.now().getTime()) return hit.caller;
    verified.delete(token);
    return undefined;
  }

  function audienceFor(scope: string): string {
    const resource = scope.split(" ").find((s) => s.endsWith("/.default"));
    if (!resource) {
      throw new DomainError(
        "BadParameter",
        `scope must name a resource ending in /.default, got "${scope}"`,
        {
          reason: "invalid_scope",
        },
      );
    }
    const audience = resource.slice(0, -"/.default".length);
    if (!audiences.includes(audience)) {
      throw new DomainError(
        "BadParameter",
        `This installation issues tokens for ${audiences.join(", ")}, not for ${audience}`,
        { reason: "invalid_scope" },
      );
    }
    return audience;
  }

  return {
    tenantId,
    issuer,

    /** Creates a service principal with one client secret, which is returned once and kept only hashed. */
    async createServicePrincipal(displayName: string, secretExpiresAt?: Date) {
      if (!displayName.trim()) throw badParameter("displayName must not be empty");
      const now = clock.now();
      const principal: Principal = {
        id: newId(),
        clientId: newId(),
        displayName,
        kind: "servicePrincipal",
        enabled: true,
        createdAt: now,
      };
      const clientSecret = randomBytes(30).toString("base64url");
      await store.insert(principal, {
        id: newId(),
        principalId: principal.id,
        hash: await hasher.hash(clientSecret),
        hint: clientSecret.slice(0, 3),
        expiresAt: secretExpiresAt,
        createdAt: now,
      });
      return { principal, clientSecret };
    },

    listPrincipals: () => store.list(),

    /** OAuth 2.0 client credentials grant (RFC 6749 §4.4) with a client secret. */
    async issueToken(clientId: string, clientSecret: string, scope: string): Promise<IssuedToken> {
      const audience = audienceFor(scope);
      const found = await store.findByClientId(clientId);
      if (!found?.principal.enabled) throw invalidClient();
      const now = clock.now();
      let match = false;
      for (const secret of found.secrets) {
        if (secret.expiresAt && secret.expiresAt.getTime() <= now.getTime()) continue;
        if (await hasher.verify(clientSecret, secret.hash)) {
          match = true;
          break;
        }
      }
      if (!match) throw invalidClient();
      const iat = Math.floor(now.getTime() / 1000);
      const { principal } = found;
      const accessToken = await signer.sign({
        iss: issuer,
        aud: audience,
        sub: principal.id,
        oid: principal.id,
        appid: principal.clientId,
        tid: tenantId,
        iat,
        nbf: iat,
        exp: iat + lifetime,
      });
      return { accessToken, expiresInSeconds: lifetime };
    },

    cachedCaller,

    /** The caller a bearer token proves; Unauthorized when it is malformed, expired or not ours. */
    async authenticate(token: string): Promise<Caller> {
      const cached = cachedCaller(token);
      if (cached) return cached;
      const nowMs = clock.now().getTime();
      const claims = await signer.verify(token, { issuer, audiences, now: new Date(nowMs) });
      if (!claims || claims.tid !== tenantId || claims.exp * 1000 <= nowMs) {
        throw new DomainError(
          "Unauthorized",
          "The bearer token is invalid, expired or was not issued here.",
          {
            reason: "InvalidToken",
          },
        );
      }
      const caller: Caller = { principalId: claims.oid, clientId: claims.appid, tenantId: claims.tid };
      if (verified.size >= cacheSize) {
        const oldest = verified.keys().next().value;
        if (oldest !== undefined) verified.delete(oldest);
      }
      verified.set(token, { caller, expMs: claims.exp * 1000 });
      return caller;
    },
  };
}
