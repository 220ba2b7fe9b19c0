import type { Clock } from "../clock.js";
import { DomainError } from "../errors.js";
import type { Caller, IssuedToken, Principal } from "./model.js";
import type {
  AssertionVerifier,
  PrincipalCredentials,
  PrincipalStore,
  SecretHasher,
  TokenSigner,
} from "./ports.js";

export interface IdentityServiceDeps {
  store: PrincipalStore;
  hasher: SecretHasher;
  signer: TokenSigner;
  verifier: AssertionVerifier;
  clock: Clock;
  tenantId: string;
  /** `iss` of the tokens: `{authorityHost}/{tenantId}/v2.0`. */
  issuer: string;
  /** Resources a token may be minted for, e.g. "https://vault.azure.net" and "https://<dns-suffix>". */
  audiences: readonly string[];
  /** `aud` that client assertions signed with a certificate must carry: this token endpoint. */
  tokenEndpoint: string;
  tokenLifetimeSeconds?: number;
  /** How many verified tokens to remember, so hot requests skip the signature check. */
  verifiedTokenCacheSize?: number;
}

export type IdentityService = ReturnType<typeof createIdentityService>;

/** Groups and disabled principals never sign in; a narrowing guard for the flows below. */
function canSignIn(found: PrincipalCredentials | undefined): found is PrincipalCredentials {
  return found?.principal.enabled === true && found.principal.kind !== "group";
}

const invalidAssertion = (message: string) =>
  new DomainError("Unauthorized", message, { reason: "invalid_client" });

const invalidClient = () =>
  new DomainError("Unauthorized", "The client id or client secret is wrong, expired or disabled", {
    reason: "invalid_client",
  });

export function createIdentityService(deps: IdentityServiceDeps) {
  const { store, hasher, signer, verifier, clock, tenantId, issuer, audiences } = deps;
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

  /** The enabled principal holding this unexpired secret; invalid_client otherwise. */
  async function secretHolder(clientId: string, clientSecret: string): Promise<Principal> {
    const found = await store.findByClientId(clientId);
    if (!canSignIn(found)) throw invalidClient();
    const now = clock.now();
    for (const secret of found.secrets) {
      if (secret.expiresAt && secret.expiresAt.getTime() <= now.getTime()) continue;
      if (await hasher.verify(clientSecret, secret.hash)) return found.principal;
    }
    throw invalidClient();
  }

  return {
    tenantId,
    issuer,

    /** OAuth 2.0 client credentials grant (RFC 6749 §4.4) with a client secret. */
    async issueToken(clientId: string, clientSecret: string, scope: string): Promise<IssuedToken> {
      const audience = audienceFor(scope);
      const principal = await secretHolder(clientId, clientSecret);
      return mint(principal, audience, clock.now());
    },

    /**
     * The caller whose client id and secret these are, for surfaces that take credentials directly
     * (EST's HTTP Basic, RFC 7030 §3.2.3) rather than a token.
     */
    async authenticateSecret(clientId: string, clientSecret: string): Promise<Caller> {
      const principal = await secretHolder(clientId, clientSecret);
      return { principalId: principal.id, clientId: principal.clientId, tenantId };
    },

    /**
     * Client credentials with a client assertion (RFC 7523 §2.2). Like Entra ID, an assertion may be
     * presented again until it expires: MSAL reuses one for several token requests. It is a JWT
     * signed by one of the
     * principal's registered certificates (named by `x5t` or `x5t#S256`, issued by the client id
     * for this token endpoint), or a token from a trusted external issuer (workload identity).
     */
    async issueTokenWithAssertion(
      clientId: string | undefined,
      assertion: string,
      scope: string,
    ): Promise<IssuedToken> {
      const audience = audienceFor(scope);
      const peek = verifier.peek(assertion);
      if (!peek) throw invalidAssertion("client_assertion is not a JWT");
      const id = clientId ?? peek.claims.sub;
      const found = id ? await store.findByClientId(id) : undefined;
      if (!canSignIn(found)) throw invalidClient();
      const now = clock.now();
      const ok =
        peek.claims.iss === found.principal.clientId
          ? await certificateAssertion(found, assertion, peek, now)
          : await federatedAssertion(found, assertion, peek, now);
      if (!ok)
        throw invalidAssertion(
          "client_assertion was not signed by a credential of this client, or has expired",
        );
      return mint(found.principal, audience, now);
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

  async function certificateAssertion(
    found: PrincipalCredentials,
    assertion: string,
    peek: NonNullable<ReturnType<AssertionVerifier["peek"]>>,
    now: Date,
  ): Promise<boolean> {
    const s256 = peek.header["x5t#S256"];
    const s1 = peek.header.x5t;
    const hex = (b64url: string) => Buffer.from(b64url, "base64url").toString("hex");
    const certificate = found.certificates.find(
      (c) =>
        c.expiresAt.getTime() > now.getTime() &&
        ((s256 !== undefined && hex(s256) === c.thumbprintSha256) ||
          (s1 !== undefined && hex(s1) === c.thumbprintSha1)),
    );
    if (!certificate) return false;
    const clientId = found.principal.clientId;
    return verifier.verifyWithCertificate(assertion, certificate.der, {
      issuer: clientId,
      subject: clientId,
      audiences: [deps.tokenEndpoint, issuer.replace(/\/v2\.0$/, "")],
      now,
    });
  }

  async function federatedAssertion(
    found: PrincipalCredentials,
    assertion: string,
    peek: NonNullable<ReturnType<AssertionVerifier["peek"]>>,
    now: Date,
  ): Promise<boolean> {
    for (const credential of found.federated) {
      if (credential.issuer !== peek.claims.iss || credential.subject !== peek.claims.sub) continue;
      const ok = await verifier.verifyFederated(assertion, {
        issuer: credential.issuer,
        subject: credential.subject,
        audiences: credential.audiences,
        jwks: credential.jwks,
        now,
      });
      if (ok) return true;
    }
    return false;
  }

  async function mint(principal: Principal, audience: string, now: Date): Promise<IssuedToken> {
    const iat = Math.floor(now.getTime() / 1000);
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
  }
}
