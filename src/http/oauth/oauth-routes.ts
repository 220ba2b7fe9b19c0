import type { FastifyInstance, FastifyReply } from "fastify";
import type { IdentityService } from "../../domain/access/identity-service.js";
import { DomainError } from "../../domain/errors.js";

export interface OAuthRouteDeps {
  identity: IdentityService;
  /** `{authorityHost}/{tenantId}`. */
  authority: string;
  jwks: () => unknown;
}

// RFC 7523 §2.2: the client authenticates with a JWT instead of a secret.
const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

// RFC 6749 §5.2 error responses.
function oauthError(reply: FastifyReply, status: number, error: string, description: string) {
  return reply
    .status(status)
    .header("cache-control", "no-store")
    .send({ error, error_description: description });
}

function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  if (!header?.toLowerCase().startsWith("basic ")) return undefined;
  const decoded = Buffer.from(header.slice(6), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return {
    id: decodeURIComponent(decoded.slice(0, colon)),
    secret: decodeURIComponent(decoded.slice(colon + 1)),
  };
}

/**
 * The token issuer that @azure/identity's ClientSecretCredential talks to (keyvault-api.md §4):
 * OpenID discovery, a JWKS and the client credentials grant.
 */
export function registerOAuthRoutes(
  app: FastifyInstance,
  { identity, authority, jwks }: OAuthRouteDeps,
): void {
  app.addContentTypeParser(
    "application/x-www-form-urlencoded",
    { parseAs: "string" },
    (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    },
  );

  const tenantMatches = (tenant: string) => tenant === identity.tenantId;

  app.get<{ Params: { tenant: string } }>(
    "/:tenant/v2.0/.well-known/openid-configuration",
    { config: { operation: "OpenIdConfiguration" } },
    async (request, reply) => {
      if (!tenantMatches(request.params.tenant)) {
        return oauthError(reply, 400, "invalid_tenant", `Tenant ${request.params.tenant} is not served here`);
      }
      return {
        issuer: identity.issuer,
        authorization_endpoint: `${authority}/oauth2/v2.0/authorize`,
        token_endpoint: `${authority}/oauth2/v2.0/token`,
        jwks_uri: `${authority}/discovery/v2.0/keys`,
        response_types_supported: ["token"],
        subject_types_supported: ["pairwise"],
        id_token_signing_alg_values_supported: ["ES256"],
        token_endpoint_auth_methods_supported: [
          "client_secret_post",
          "client_secret_basic",
          "private_key_jwt",
        ],
        grant_types_supported: ["client_credentials"],
        scopes_supported: ["openid"],
        tenant_region_scope: null,
      };
    },
  );

  app.get<{ Params: { tenant: string } }>(
    "/:tenant/discovery/v2.0/keys",
    { config: { operation: "Jwks" } },
    async (request, reply) => {
      if (!tenantMatches(request.params.tenant)) {
        return oauthError(reply, 400, "invalid_tenant", `Tenant ${request.params.tenant} is not served here`);
      }
      return jwks();
    },
  );

  app.post<{ Params: { tenant: string }; Body: Record<string, string> | undefined }>(
    "/:tenant/oauth2/v2.0/token",
    { config: { operation: "TokenIssue" } },
    async (request, reply) => {
      if (!tenantMatches(request.params.tenant)) {
        return oauthError(reply, 400, "invalid_tenant", `Tenant ${request.params.tenant} is not served here`);
      }
      const form = request.body ?? {};
      if (form.grant_type !== "client_credentials") {
        return oauthError(
          reply,
          400,
          "unsupported_grant_type",
          "Only grant_type=client_credentials is supported",
        );
      }
      const basic = basicCredentials(request.headers.authorization);
      const clientId = basic?.id ?? form.client_id;
      const clientSecret = basic?.secret ?? form.client_secret;
      const assertion = form.client_assertion;
      if (assertion !== undefined && form.client_assertion_type !== JWT_BEARER) {
        return oauthError(reply, 400, "invalid_request", `client_assertion_type must be ${JWT_BEARER}`);
      }
      if (!assertion && (!clientId || !clientSecret)) {
        return oauthError(
          reply,
          400,
          "invalid_request",
          "client_id with client_secret, or client_assertion, is required",
        );
      }
      request.auditDetail = `client_id=${clientId ?? "(from assertion)"}${assertion ? " assertion" : ""}`;
      try {
        const token = assertion
          ? await identity.issueTokenWithAssertion(clientId, assertion, form.scope ?? "")
          : await identity.issueToken(clientId as string, clientSecret as string, form.scope ?? "");
        return reply.header("cache-control", "no-store").send({
          token_type: "Bearer",
          expires_in: token.expiresInSeconds,
          ext_expires_in: token.expiresInSeconds,
          access_token: token.accessToken,
        });
      } catch (error) {
        if (error instanceof DomainError && error.code === "Unauthorized") {
          return oauthError(reply, 401, "invalid_client", error.message);
        }
        if (error instanceof DomainError && error.code === "BadParameter") {
          return oauthError(reply, 400, error.reason ?? "invalid_request", error.message);
        }
        throw error;
      }
    },
  );
}
