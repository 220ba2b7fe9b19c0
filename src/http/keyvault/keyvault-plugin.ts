import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { IdentityService } from "../../domain/access/identity-service.js";
import { DomainError } from "../../domain/errors.js";
import type { VaultService } from "../../domain/vaults/vault-service.js";
import { checkApiVersion } from "./api-version.js";
import { keyVaultError, renderKeyVaultError } from "./errors.js";
import { type VaultHostRules, vaultNameForHost } from "./vault-host.js";

export interface KeyVaultPluginDeps {
  identity: IdentityService;
  vaults: VaultService;
  hostRules: VaultHostRules;
  /** Where tokens come from: `{authorityHost}/{tenantId}`. */
  authority: string;
  /** The resource clients ask tokens for: `https://{dnsSuffix}`. */
  resource: string;
}

/**
 * Hooks shared by every Key Vault data-plane route, in the order the real service applies them:
 * authenticate before the body is read (the SDK's first request carries no body and expects the
 * challenge), then check the api-version, then find the vault from the Host header.
 */
export function registerKeyVaultHooks(app: FastifyInstance, deps: KeyVaultPluginDeps): void {
  const challenge = `Bearer authorization="${deps.authority}", resource="${deps.resource}"`;

  function unauthorized(reply: FastifyReply, message: string) {
    return reply
      .status(401)
      .header("www-authenticate", challenge)
      .send({ error: { code: "Unauthorized", message } });
  }

  app.setErrorHandler(renderKeyVaultError);

  app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization;
    if (!header) return unauthorized(reply, "AKV10000: Request is missing a Bearer or PoP token.");
    const [scheme, token] = header.split(" ", 2);
    if (scheme?.toLowerCase() !== "bearer" || !token) {
      return unauthorized(reply, "AKV10000: The Authorization header must be 'Bearer <token>'.");
    }
    try {
      request.caller = await deps.identity.authenticate(token);
    } catch (error) {
      if (error instanceof DomainError && error.code === "Unauthorized")
        return unauthorized(reply, error.message);
      throw error;
    }
    checkApiVersion((request.query as Record<string, unknown>)["api-version"]);
    const host = request.headers.host ?? "";
    const name = vaultNameForHost(host, deps.hostRules);
    const vault = name === undefined ? undefined : await deps.vaults.find(name);
    if (!vault) {
      return reply.status(404).send(
        keyVaultError(
          new DomainError(
            "NotFound",
            `No vault is served at host "${host}". Create it with 'strongroom vault create'.`,
            {
              reason: "VaultNotFound",
            },
          ),
        ),
      );
    }
    request.vaultContext = { vault, baseUrl: `https://${host}` };
  });
}
