import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { DomainError } from "../../domain/errors.js";
import type { SignInService } from "../../domain/sign-in/sign-in-service.js";
import { SIGN_ON_STATE_TTL_MS, type SingleSignOn } from "../../domain/sign-in/single-sign-on.js";
import { STATUS } from "../keyvault/errors.js";
import type { PageRenderer } from "./page-renderer.js";
import type { SessionAuth } from "./session-auth.js";
import {
  clearCookies,
  clearSignOnCookie,
  cookieValue,
  SIGN_ON_COOKIE,
  setSessionCookie,
  setSignOnCookie,
} from "./session-cookie.js";
import type { UiAssets } from "./ui-assets.js";
import { DASHBOARD_CSP, dashboardPage, type RenderedPage, signedOnPage, signInPage } from "./ui-page.js";

/** An asset path carries its build's digest, so a browser never needs to ask for it again. */
const IMMUTABLE = "public, max-age=31536000, immutable";

function secured(reply: FastifyReply): FastifyReply {
  return reply
    .header("content-security-policy", DASHBOARD_CSP)
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "no-referrer")
    .header("cross-origin-opener-policy", "same-origin")
    .header("cross-origin-resource-policy", "same-origin");
}

export interface UiRouteDeps {
  assets: UiAssets | undefined;
  /** Draws the pages that say what they read; without it the browser draws every page. */
  renderer?: PageRenderer | undefined;
  signIn: SignInService;
  sessions: SessionAuth;
  /** Absent when no OpenID Connect provider is configured. */
  singleSignOn?: SingleSignOn | undefined;
}

const html = (reply: FastifyReply, status: number, body: string) =>
  // Pages name the user and carry the CSRF token: never stored by a cache, shared or not.
  secured(reply)
    .status(status)
    .header("cache-control", "no-store")
    .type("text/html; charset=utf-8")
    .send(body);

/**
 * A form posted from another site is refused before it is read: the session cookie is Strict, but
 * the sign-in form has no session yet, and a forged sign-in would put a victim in an attacker's
 * account (login CSRF).
 */
function crossSite(request: FastifyRequest): boolean {
  // Browsers say where a request comes from in Sec-Fetch-Site; under this page's
  // Referrer-Policy (no-referrer) Chromium sends its Origin as "null", so Origin is the fallback
  // for clients that send no Sec-Fetch-Site.
  const site = request.headers["sec-fetch-site"];
  if (site !== undefined) return site !== "same-origin";
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  try {
    // request.host reads :authority under HTTP/2, where there is no Host header.
    return new URL(origin).host !== request.host;
  } catch {
    return true;
  }
}

const field = (body: unknown, name: string): string | undefined => {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === "string" ? value : undefined;
};

/**
 * The dashboard at /ui/: the sign-in form, single sign-on, sign-out, one HTML page for every other
 * path under it (the client routes) once signed in, and its assets. Static files are not audited:
 * they are the same for everyone and carry no data; sign-ins and sign-outs are.
 */
export function registerUiRoutes(app: FastifyInstance, deps: UiRouteDeps): void {
  const { assets, renderer, signIn, sessions, singleSignOn } = deps;
  const unaudited = { unaudited: true } as const;

  const notBuilt = (reply: FastifyReply) =>
    secured(reply)
      .status(503)
      .type("text/plain; charset=utf-8")
      .send("The dashboard is not built: run `npm run build` in the Strongroom package.");

  const signInForm = (reply: FastifyReply, status: number, error?: string, username?: string) =>
    assets
      ? html(reply, status, signInPage(assets.digest, { error, username, singleSignOn: !!singleSignOn }))
      : notBuilt(reply);

  /** A refusal on the sign-in surface: its message on the form, its status as the domain says. */
  const refusal = (request: FastifyRequest, reply: FastifyReply, error: unknown, username?: string) => {
    if (!(error instanceof DomainError)) throw error;
    request.auditDetail = `${error.reason ?? error.code}${username ? ` (${username})` : ""}`;
    return signInForm(reply, STATUS[error.code], error.message, username);
  };

  const sendPage = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!assets) return notBuilt(reply);
    const found = await sessions.active(request);
    if (!found) {
      // A stale or foreign cookie is dropped, so the browser stops sending it.
      if (sessions.present(request)) clearCookies(reply);
      return secured(reply).header("cache-control", "no-store").redirect("/ui/sign-in", 303);
    }
    const username = found.session.username ?? found.session.principal.displayName;
    const rendered = await render(request);
    return html(reply, 200, dashboardPage(assets, { username, csrf: signIn.csrf(found.token) }, rendered));
  };

  /**
   * The page drawn on the server with its first reads, so its rows come with the HTML, before (and
   * without) any script. The reads go through the admin API as this user, with the same rights and
   * the same audit as the browser's own calls; when one is refused or fails, the browser draws the
   * page and shows why.
   */
  async function render(request: FastifyRequest): Promise<RenderedPage | undefined> {
    if (!renderer) return undefined;
    const url = new URL(request.url, "https://dashboard.invalid");
    const paths = renderer.reads(url);
    if (paths.length === 0) return undefined;
    const replies = await Promise.all(
      paths.map((path) =>
        app.inject({
          method: "GET",
          url: path,
          headers: { cookie: request.headers.cookie ?? "", accept: "application/json" },
          remoteAddress: request.ip,
        }),
      ),
    );
    if (replies.some((r) => r.statusCode !== 200)) return undefined;
    const answers = Object.fromEntries(paths.map((path, i) => [path, replies[i]?.json() as unknown]));
    try {
      const page = await renderer.render(url, answers);
      return page && { ...page, answers };
    } catch (error) {
      // The browser can still draw the page (and show what went wrong there): not a 500 for all of it.
      request.log.error({ err: error }, "dashboard page not rendered on the server");
      return undefined;
    }
  }

  // The router ignores trailing slashes: this is /ui/ as well; asset URLs are absolute, so either works.
  app.get("/ui", { config: unaudited }, sendPage);
  app.get("/ui/*", { config: unaudited }, sendPage);

  app.get("/ui/sign-in", { config: unaudited }, (_request, reply) => signInForm(reply, 200));

  app.post("/ui/sign-in", { config: { operation: "UiSignIn" } }, async (request, reply) => {
    const username = field(request.body, "username")?.trim();
    const password = field(request.body, "password");
    if (crossSite(request)) {
      return refusal(request, reply, new DomainError("Forbidden", "Sign in from this site's own form."));
    }
    if (!username || !password) {
      return refusal(
        request,
        reply,
        new DomainError("BadParameter", "Enter a username and a password."),
        username,
      );
    }
    try {
      const signedIn = await signIn.signInWithPassword(username, password, request.ip);
      request.caller = {
        principalId: signedIn.principal.id,
        clientId: signedIn.principal.clientId,
        tenantId: sessions.tenantId,
      };
      request.auditDetail = `signed in ${signedIn.username} with a password`;
      return setSessionCookie(secured(reply), signedIn.token).redirect("/ui/", 303);
    } catch (error) {
      return refusal(request, reply, error, username);
    }
  });

  app.post("/ui/sign-out", { config: { operation: "UiSignOut" } }, async (request, reply) => {
    const found = await sessions.active(request);
    const csrf = field(request.body, "csrf");
    if (found && (crossSite(request) || !csrf || !signIn.csrfMatches(found.token, csrf))) {
      request.auditDetail = "refused: no CSRF token of this session";
      return html(
        reply,
        403,
        "<!doctype html><title>Refused</title><p>Sign out from the dashboard's own button.</p>",
      );
    }
    if (found) {
      const p = found.session.principal;
      request.caller = { principalId: p.id, clientId: p.clientId, tenantId: sessions.tenantId };
      await signIn.signOut(found.token);
    }
    return clearCookies(secured(reply)).redirect("/ui/sign-in", 303);
  });

  if (singleSignOn) {
    app.get("/ui/oidc/start", { config: { operation: "UiSignOnStart" } }, async (request, reply) => {
      try {
        const { url, state } = await singleSignOn.begin();
        return setSignOnCookie(secured(reply), state, SIGN_ON_STATE_TTL_MS / 1000).redirect(url, 303);
      } catch (error) {
        return refusal(request, reply, error);
      }
    });

    app.get<{ Querystring: Record<string, string | undefined> }>(
      "/ui/oidc/callback",
      { config: { operation: "UiSignOnCallback", writes: true } },
      async (request, reply) => {
        try {
          const q = request.query;
          const signedIn = await singleSignOn.complete({
            state: q.state,
            browserState: cookieValue(request, SIGN_ON_COOKIE),
            code: q.code,
            error: q.error,
          });
          request.caller = {
            principalId: signedIn.principal.id,
            clientId: signedIn.principal.clientId,
            tenantId: sessions.tenantId,
          };
          request.auditDetail = `signed in ${signedIn.username} through single sign-on`;
          setSessionCookie(clearSignOnCookie(reply), signedIn.token);
          return assets ? html(reply, 200, signedOnPage(assets.digest)) : notBuilt(reply);
        } catch (error) {
          return refusal(request, reply, error);
        }
      },
    );
  }

  app.get<{ Params: { digest: string; file: string } }>(
    "/ui/assets/:digest/:file",
    { config: unaudited },
    (request, reply) => {
      const asset =
        assets?.digest === request.params.digest ? assets.files.get(request.params.file) : undefined;
      if (!asset) {
        return secured(reply)
          .status(404)
          .header("cache-control", "no-store")
          .type("text/plain; charset=utf-8")
          .send("No such dashboard asset in this build.");
      }
      return secured(reply).header("cache-control", IMMUTABLE).type(asset.contentType).send(asset.body);
    },
  );
}
