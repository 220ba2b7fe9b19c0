import type { FastifyRequest } from "fastify";
import type { Caller } from "../../domain/access/model.js";
import { DomainError } from "../../domain/errors.js";
import type { ActiveSession } from "../../domain/sign-in/model.js";
import type { SignInService } from "../../domain/sign-in/sign-in-service.js";
import { cookieValue, SESSION_COOKIE } from "./session-cookie.js";

/** The header the dashboard's scripts put each write's anti-forgery token in. */
export const CSRF_HEADER = "x-csrf-token";

export type SessionAuth = ReturnType<typeof createSessionAuth>;

const isRead = (method: string) => method === "GET" || method === "HEAD";

/**
 * Dashboard sessions as a way to call the API: the cookie proves who the user is; a write must also
 * carry the session's CSRF token, which a page of another site can neither read nor guess.
 */
export function createSessionAuth(signIn: SignInService, tenantId: string) {
  async function active(
    request: FastifyRequest,
  ): Promise<{ session: ActiveSession; token: string } | undefined> {
    const token = cookieValue(request, SESSION_COOKIE);
    if (!token) return undefined;
    const session = await signIn.session(token);
    return session && { session, token };
  }

  return {
    tenantId,
    active,

    /** Whether the request carries a session cookie at all (valid or not). */
    present: (request: FastifyRequest) => cookieValue(request, SESSION_COOKIE) !== undefined,

    /**
     * The caller a session cookie proves, with the user as the actor; Unauthorized when the session
     * is unknown, over or another installation's, Forbidden for a write without its CSRF token.
     */
    async caller(request: FastifyRequest, presentedCsrf?: string): Promise<Caller> {
      const found = await active(request);
      if (!found) {
        throw new DomainError(
          "Unauthorized",
          "The dashboard session is over, was signed out or belongs to another installation; sign in again.",
          { reason: "SessionInvalid" },
        );
      }
      if (!isRead(request.method)) {
        const csrf = presentedCsrf ?? request.headers[CSRF_HEADER];
        if (typeof csrf !== "string" || !signIn.csrfMatches(found.token, csrf)) {
          throw new DomainError(
            "Forbidden",
            `A change made with a dashboard session must carry the session's CSRF token in ${CSRF_HEADER}.`,
            { reason: "CsrfTokenMissing" },
          );
        }
      }
      const principal = found.session.principal;
      request.caller = { principalId: principal.id, clientId: principal.clientId, tenantId };
      return request.caller;
    },
  };
}
