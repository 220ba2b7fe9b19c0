import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AccessService } from "../../domain/access/access-service.js";
import { authorizeDataPlane, type Decision, type PrincipalGrants } from "../../domain/access/authorize.js";
import type { Caller, VaultAccessSettings } from "../../domain/access/model.js";
import type { Throttle } from "../../domain/access/throttle.js";
import type { Clock } from "../../domain/clock.js";
import { DomainError } from "../../domain/errors.js";
import type { Vault } from "../../domain/vaults/model.js";
import { routeOf } from "../request-context.js";
import { keyVaultError } from "./errors.js";
import { outsideFirewall } from "./vault-firewall.js";

export interface AccessHookDeps {
  access: AccessService;
  clock: Clock;
  /** `iss` of our tokens, named in denial messages as Key Vault names the caller's issuer. */
  issuer: string;
  vaultThrottle?: Throttle | undefined;
  principalThrottle?: Throttle | undefined;
}

/**
 * Firewall, throttling and authorization for every Key Vault data-plane route, after the plugin's
 * hook has authenticated the caller and found the vault. One route config (`access`) says what each
 * route needs; the decision and the rule behind it go to the audit row of the request.
 */
export function registerAccessHook(app: FastifyInstance, deps: AccessHookDeps): void {
  const { access, clock, vaultThrottle, principalThrottle } = deps;
  const callerText = (caller: Caller) =>
    `appid=${caller.clientId};oid=${caller.principalId};iss=${deps.issuer}`;

  function refuse(reply: FastifyReply, status: number, error: DomainError) {
    reply.status(status).send(keyVaultError(error));
  }

  /** Decides with everything at hand; true when the request may go on. */
  function decide(
    request: FastifyRequest,
    reply: FastifyReply,
    caller: Caller,
    vault: Vault,
    settings: VaultAccessSettings,
    grants: PrincipalGrants | undefined,
    nowMs: number,
  ): boolean {
    if (outsideFirewall(settings, request.ip)) {
      request.auditDetail = `deny: client address ${request.ip} is outside the vault's ipRules`;
      refuse(
        reply,
        403,
        new DomainError(
          "Forbidden",
          `Client address is not authorized and caller is not a trusted service.\r\nClient address: ${request.ip}\r\nCaller: ${callerText(caller)}\r\nVault: ${vault.name};location=local`,
          { reason: "ForbiddenByFirewall" },
        ),
      );
      return false;
    }

    if (vaultThrottle || principalThrottle) {
      let waitMs = principalThrottle?.take(caller.principalId, nowMs) ?? 0;
      if (waitMs === 0 && vaultThrottle) {
        waitMs = vaultThrottle.take(vault.id, nowMs);
        if (waitMs > 0) principalThrottle?.giveBack(caller.principalId);
      }
      if (waitMs > 0) {
        const seconds = Math.max(1, Math.ceil(waitMs / 1000));
        request.auditDetail = `deny: throttled, retry after ${waitMs}ms`;
        // The SDKs read the millisecond headers first (ts-http-runtime, azure-core), Retry-After's
        // whole seconds otherwise; all three say when the bucket's refill has this caller's token.
        reply.header("retry-after", String(seconds));
        reply.header("retry-after-ms", String(waitMs));
        reply.header("x-ms-retry-after-ms", String(waitMs));
        refuse(
          reply,
          429,
          new DomainError(
            "Throttled",
            `Request was not processed because too many requests were received. Retry after ${seconds} seconds.`,
          ),
        );
        return false;
      }
    }

    if (!grants?.principal.enabled) {
      request.auditDetail = "deny: the principal is disabled or deleted";
      refuse(
        reply,
        401,
        new DomainError("Unauthorized", "The principal this token was issued to is disabled or deleted.", {
          reason: "PrincipalDisabled",
        }),
      );
      return false;
    }
    const config = routeOf(request).config;
    const routeAccess = config.access;
    const name = config.collection ? (request.params as { name?: string }).name : undefined;
    const decision: Decision = routeAccess
      ? authorizeDataPlane(grants, settings, {
          access: routeAccess,
          vaultId: vault.id,
          vaultName: vault.name,
          collection: config.collection,
          objectName: name,
        })
      : { allowed: false, rule: "the route declares no data action", reason: "ForbiddenByRbac" };
    request.auditDetail = decision.allowed ? `allow: ${decision.rule}` : `deny: ${decision.rule}`;
    if (decision.allowed) return true;

    const resource = `/vaults/${vault.name}${config.collection ? `/${config.collection}${name ? `/${name}` : ""}` : ""}`;
    const message =
      decision.reason === "ForbiddenByPolicy"
        ? `The user, group or application '${callerText(caller)}' does not have ${(routeAccess?.permission ?? "").replace("/", " ")} permission on key vault '${vault.name};location=local'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287`
        : `Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: ${callerText(caller)}\r\nAction: '${routeAccess?.dataAction ?? request.method}'\r\nResource: '${resource}'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\nVault: ${vault.name};location=local\r\n`;
    refuse(reply, 403, new DomainError("Forbidden", message, { reason: decision.reason }));
    return false;
  }

  // Callback style: with the vault's settings and the caller's rights cached (every request but the
  // first of a principal or vault within accessCacheMs) the decision costs no promise and no I/O.
  app.addHook("onRequest", (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
    const caller = request.caller;
    const context = request.vaultContext;
    if (!caller || !context) return done();
    const vault = context.vault;
    const nowMs = clock.now().getTime();
    const settings = access.peekVaultAccess(vault.id, nowMs);
    const cached = access.peekGrants(caller.principalId, nowMs);
    if (settings && cached) {
      if (decide(request, reply, caller, vault, settings, cached.value, nowMs)) done();
      return;
    }
    Promise.all([
      settings ?? access.loadVaultAccess(vault.id),
      cached ? cached.value : access.loadGrants(caller.principalId),
    ]).then(
      ([loadedSettings, grants]) => {
        if (decide(request, reply, caller, vault, loadedSettings, grants, nowMs)) done();
      },
      (error: Error) => done(error),
    );
  });
}
