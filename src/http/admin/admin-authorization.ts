import type { FastifyRequest } from "fastify";
import type { AccessService } from "../../domain/access/access-service.js";
import { authorizeAdmin, type Decision, type PrincipalGrants } from "../../domain/access/authorize.js";
import type { IdentityService } from "../../domain/access/identity-service.js";
import type { Caller } from "../../domain/access/model.js";
import { DomainError } from "../../domain/errors.js";

/**
 * Authenticates a bearer token and checks one installation-wide action, as the admin and agent
 * surfaces both do. Grants are read fresh, not from the cache: neither is a hot path, and a revoked
 * principal must lose them at once on every node.
 */
export async function authorizeInstallationAction(
  request: FastifyRequest,
  deps: { identity: IdentityService; access: AccessService },
  surface: string,
  action: string,
): Promise<Caller> {
  const { caller, grants } = await authenticateCaller(request, deps, surface);
  return allowOrRefuse(request, caller, authorizeAdmin(grants, action), action, "/");
}

/**
 * Authenticates a bearer token of this installation and resolves its principal's rights; the caller
 * is recorded on the request for the audit log. Unauthorized when the principal is disabled or gone.
 */
export async function authenticateCaller(
  request: FastifyRequest,
  deps: { identity: IdentityService; access: AccessService },
  surface: string,
): Promise<{ caller: Caller; grants: PrincipalGrants }> {
  const [scheme, token] = (request.headers.authorization ?? "").split(" ", 2);
  if (scheme?.toLowerCase() !== "bearer" || !token) {
    throw new DomainError(
      "Unauthorized",
      `The ${surface} needs 'Authorization: Bearer <token>' from this installation`,
    );
  }
  const caller = await deps.identity.authenticate(token);
  request.caller = caller;
  const grants = await deps.access.loadGrants(caller.principalId);
  if (!grants?.principal.enabled) {
    throw new DomainError("Unauthorized", "The principal this token was issued to is disabled or deleted.");
  }
  return { caller, grants };
}

/** Records the decision for the audit log; Forbidden when it refused. */
export function allowOrRefuse(
  request: FastifyRequest,
  caller: Caller,
  decision: Decision,
  action: string,
  scope: string,
): Caller {
  request.auditDetail = `${decision.allowed ? "allow" : "deny"}: ${decision.rule}`;
  if (!decision.allowed) {
    throw new DomainError(
      "Forbidden",
      `Caller appid=${caller.clientId};oid=${caller.principalId} is not authorized to perform '${action}' at scope '${scope}'.`,
      { reason: "ForbiddenByRbac" },
    );
  }
  return caller;
}
