import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
import type { IdentityService } from "../../domain/access/identity-service.js";
import { DomainError } from "../../domain/errors.js";
import type { Vault } from "../../domain/vaults/model.js";
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

  // Returns nothing: a hook that returned the (thenable) reply would be awaited by Fastify.
  function unauthorized(reply: FastifyReply, message: string): void {
    reply
      .status(401)
      .header("www-authenticate", challenge)
      .send({ error: { code: "Unauthorized", message } });
  }

  app.setErrorHandler(renderKeyVaultError);

  function vaultNotFound(reply: FastifyReply, host: string): void {
    const error = new DomainError(
      "NotFound",
      `No vault is served at host "${host}". Create it with 'strongroom vault create'.`,
      { reason: "VaultNotFound" },
    );
    reply.status(404).send(keyVaultError(error));
  }

  // Callback-style with synchronous fast paths: a token verified before and a vault looked up in the
  // last seconds cost no promise on every request.
  function findVault(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    try {
      checkApiVersion((request.query as Record<string, unknown>)["api-version"]);
    } catch (error) {
      return done(error as Error);
    }
    const host = request.headers.host ?? "";
    const name = vaultNameForHost(host, deps.hostRules);
    if (name === undefined) return vaultNotFound(reply, host);
    const withVault = (vault: Vault | undefined) => {
      if (!vault) return vaultNotFound(reply, host);
      request.vaultContext = { vault, baseUrl: `https://${host}` };
      done();
    };
    const cached = deps.vaults.cachedFind(name);
    if (cached) return withVault(cached.vault);
    deps.vaults.find(name).then(withVault, done);
  }

  app.addHook("onRequest", (request, reply, done) => {
    const header = request.headers.authorization;
    if (!header) return unauthorized(reply, "AKV10000: Request is missing a Bearer or PoP token.");
    const [scheme, token] = header.split(" ", 2);
    if (scheme?.toLowerCase() !== "bearer" || !token) {
      return unauthorized(reply, "AKV10000: The Authorization header must be 'Bearer <token>'.");
    }
    const caller = deps.identity.cachedCaller(token);
    if (caller) {
      request.caller = caller;
      return findVault(request, reply, done);
    }
    deps.identity.authenticate(token).then(
      (verified) => {
        request.caller = verified;
        findVault(request, reply, done);
      },
      (error: unknown) => {
        if (error instanceof DomainError && error.code === "Unauthorized")
          return unauthorized(reply, error.message);
        done(error as Error);
      },
    );
  });
}
