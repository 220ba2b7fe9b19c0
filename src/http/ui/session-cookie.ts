import type { FastifyReply, FastifyRequest } from "fastify";

/**
 * `__Host-` makes the browser insist on Secure, Path=/ and no Domain (RFC 6265bis §4.1.3.2), so no
 * sibling host or plain-HTTP page can plant or widen it. Strict keeps it off every request another
 * site starts, which is the first line against forged writes; the CSRF token is the second.
 */
export const SESSION_COOKIE = "__Host-strongroom-session";

/**
 * The single-sign-on state rides in its own cookie for the trip to the identity provider and back;
 * Lax, because the way back is a navigation that the provider's site starts.
 */
export const SIGN_ON_COOKIE = "__Host-strongroom-sign-on";

/** The value of one cookie of the request; a browser sends each name once per path. */
export function cookieValue(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const pair of header.split(";")) {
    const at = pair.indexOf("=");
    if (at < 0) continue;
    if (pair.slice(0, at).trim() === name) return pair.slice(at + 1).trim();
  }
  return undefined;
}

export function setSessionCookie(reply: FastifyReply, token: string): FastifyReply {
  return reply.header("set-cookie", `${SESSION_COOKIE}=${token}; Path=/; Secure; HttpOnly; SameSite=Strict`);
}

export function setSignOnCookie(reply: FastifyReply, state: string, maxAgeSeconds: number): FastifyReply {
  return reply.header(
    "set-cookie",
    `${SIGN_ON_COOKIE}=${state}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}`,
  );
}

/** Tells the browser to drop the single-sign-on state once the sign-on is over. */
export function clearSignOnCookie(reply: FastifyReply): FastifyReply {
  return reply.header("set-cookie", `${SIGN_ON_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0`);
}

/** Tells the browser to drop both cookies: after sign-out, and when one is stale or foreign. */
export function clearCookies(reply: FastifyReply): FastifyReply {
  return clearSignOnCookie(
    reply.header("set-cookie", `${SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0`),
  );
}
