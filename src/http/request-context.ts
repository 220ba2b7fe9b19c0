import type { FastifyRequest } from "fastify";
import type { RouteAccess } from "../domain/access/data-actions.js";
import type { Caller } from "../domain/access/model.js";
import type { AuditScope } from "../domain/audit/audit-scope.js";
import type { VaultContext } from "./keyvault/wire.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The authenticated principal, once a surface's auth hook has run. */
    caller: Caller | undefined;
    /** The addressed vault, on Key Vault routes. */
    vaultContext: VaultContext | undefined;
    /** Short, non-secret context for the audit row, such as the client id of a token request. */
    auditDetail: string | undefined;
    /** The audit scope of a request that may change state; its stores write intent rows through it. */
    auditScope: AuditScope | undefined;
    /**
     * Set by a poll that found nothing (an agent's empty claim or watch): answered successfully with
     * no data and no change, it is kept out of the audit log, which idle agents would otherwise fill
     * with a row every few seconds each.
     */
    idlePoll: boolean;
    /**
     * The matched route's options, read once per request by the first hook: Fastify builds a new
     * object on every read of `request.routeOptions`, and several hooks need it.
     */
    route: { config: FastifyContextConfig & { url?: string }; url: string | undefined };
  }
  interface FastifyContextConfig {
    /** The operation name recorded in the audit log, e.g. "SecretGet". */
    operation?: string;
    /**
     * A GET that may change stored state (a poll that completes a pending certificate): its writes
     * need the audit scope that other GETs skip.
     */
    writes?: true;
    /** The Key Vault collection a route acts on, for the audited object id. */
    collection?: "secrets" | "keys" | "certificates";
    /** What the route needs granted; data-plane routes without it are refused. */
    access?: RouteAccess;
    /** Same-for-everyone static files (the dashboard's assets), kept out of the audit log. */
    unaudited?: true;
  }
}

/** Where a request's vault context is required: set by the Key Vault plugin's hooks. */
export function vaultOf(request: { vaultContext: VaultContext | undefined }): VaultContext {
  if (!request.vaultContext)
    throw new Error("vault context missing: route registered outside the Key Vault plugin");
  return request.vaultContext;
}

/** The request's route options, as the first hook stored them (or read now, for a request that skipped it). */
export function routeOf(request: FastifyRequest): FastifyRequest["route"] {
  if (!request.route) {
    const { config, url } = request.routeOptions;
    request.route = { config, url };
  }
  return request.route;
}
