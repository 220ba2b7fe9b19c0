import type { FastifyRequest } from "fastify";
import type { AccessService } from "../../domain/access/access-service.js";
import { authorizeAdmin, type Decision, type PrincipalGrants } from "../../domain/access/authorize.js";
import type { IdentityService } from "../../domain/access/identity-service.js";
import type { Caller } from "../../domain/access/model.js";
import { DomainError } from "../../domain/errors.js";
import type { SessionAuth } from "../ui/session-auth.js";

type CallerDeps = { identity: IdentityService; access: AccessService; sessions?: SessionAuth | undefined };

/**
 * Authenticates the caller and checks one installation-wide action, as the admin and agent
 * surfaces both do. Grants are read fresh, not from the cache: neither is a hot path, and a revoked
 * principal must lose them at once on every node.
 */
export async function authorizeInstallationAction(
  request: FastifyRequest,
  deps: CallerDeps,
  surface: string,
  action: string,
): Promise<Caller> {
  const { caller, grants } = await authenticateCaller(request, deps, surface);
  return allowOrRefuse(request, caller, authorizeAdmin(grants, action), action, "/");
}

/**
 * Authenticates a bearer token of this installation (or, where `sessions` is given and no
 * Authorization header is, a dashboard session cookie) and resolves its principal's rights; the
 * caller is recorded on the request for the audit log. Unauthorized when the principal is disabled
 * or gone.
 */
export async function authenticateCaller(
  request: FastifyRequest,
  deps: CallerDeps,
  surface: string,
): Promise<{ caller: Caller; grants: PrincipalGrants }> {
  const caller =
    deps.sessions && request.headers.authorization === undefined && deps.sessions.present(request)
      ? await deps.sessions.caller(request)
      : await bearerCaller(request, deps.identity, surface);
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
      { reason: decision.reason },
    );
  }
  return caller;
}

async function bearerCaller(request: FastifyRequest, identity: IdentityService, surface: string) {
  const [scheme, token] = (request.headers.authorization ?? "").split(" ", 2);
  if (scheme?.toLowerCase() !== "bearer" || !token) {
    throw new DomainError(
      "Unauthorized",
      `The ${surface} needs 'Authorization: Bearer <token>' from this installation`,
    );
  }
  request.caller = await identity.authenticate(token);
  return request.caller;
}
