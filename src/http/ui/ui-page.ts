import { DASHBOARD_ICON } from "./ui-styles.js";

/** Text placed in HTML: a user name or a message never becomes markup. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );
}

/**
 * The icon inline, not a file: Chromium asks for a page's icon again on every address change
 * (each pushState of the client's router), a request beside each filter change's own.
 */
const ICON_URL = `data:image/svg+xml,${encodeURIComponent(DASHBOARD_ICON)}`;

function head(digest: string, title: string, extra = ""): string {
  const assets = `/ui/assets/${digest}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="icon" href="${ICON_URL}">
<link rel="stylesheet" href="${assets}/styles.css">
${extra}</head>`;
}

/**
 * JSON inside a `<script type="application/json">`, where the only way out is `</script>` (or a
 * comment opener): every `<` is escaped, which JSON.parse reads back unchanged.
 */
export function jsonInHtml(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c");
}

/** A page the server drew: its title, its markup for #app and the answers it was drawn with. */
export interface RenderedPage {
  title: string;
  markup: string;
  answers: Record<string, unknown>;
}

/**
 * The one HTML document of the dashboard for a signed-in user; the browser bundle under
 * /ui/assets/{digest}/ renders the navigation and the page into #app, or takes over the markup the
 * server drew there (`rendered`), whose answers ride along as data, not as script. The CSRF token
 * sits in a meta tag for the scripts' writes and in the sign-out form. The entry's own imports and
 * the modules the pages share are named up front, so the browser fetches them beside the entry
 * rather than after it, or after a page's chunk.
 */
export function dashboardPage(
  assets: { digest: string; entryImports: readonly string[]; pageImports: readonly string[] },
  user: { username: string; csrf: string },
  rendered?: RenderedPage,
): string {
  const { digest } = assets;
  const csrf = escapeHtml(user.csrf);
  const preloads = [...assets.entryImports, ...assets.pageImports]
    .map((file) => `<link rel="modulepreload" href="/ui/assets/${digest}/${file}">\n`)
    .join("");
  const answers = rendered
    ? `<script type="application/json" id="page-reads">${jsonInHtml(rendered.answers)}</script>\n`
    : "";
  return `${head(
    digest,
    rendered ? `${escapeHtml(rendered.title)} – Strongroom` : "Strongroom",
    `<meta name="csrf-token" content="${csrf}">
<meta name="username" content="${escapeHtml(user.username)}">
<script type="module" src="/ui/assets/${digest}/main.js"></script>
${preloads}`,
  )}
<body>
<a class="skip" href="#content">Skip to content</a>
<header>
<h1>Strongroom</h1>
<p id="signed-in">Signed in as <strong>${escapeHtml(user.username)}</strong></p>
<form method="post" action="/ui/sign-out"><input type="hidden" name="csrf" value="${csrf}"><button type="submit">Sign out</button></form>
</header>
<div id="app">${rendered?.markup ?? ""}</div>
${answers}</body>
</html>
`;
}

/**
 * The sign-in form, rendered by the server so that it works before any script runs and without
 * one; a failed attempt comes back here with its reason announced to screen readers.
 */
export function signInPage(
  digest: string,
  options: { error?: string | undefined; username?: string | undefined; singleSignOn: boolean },
): string {
  const error = options.error ? `<p id="sign-in-error" role="alert">${escapeHtml(options.error)}</p>\n` : "";
  const sso = options.singleSignOn
    ? `<p><a id="single-sign-on" href="/ui/oidc/start">Sign in with single sign-on</a></p>\n`
    : "";
  return `${head(digest, "Sign in – Strongroom")}
<body>
<header><h1>Strongroom</h1></header>
<main id="content">
<h2>Sign in</h2>
${error}<form method="post" action="/ui/sign-in" class="sign-in">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required autofocus value="${escapeHtml(options.username ?? "")}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
${sso}</main>
</body>
</html>
`;
}

/**
 * The page the identity provider's redirect lands on: it sets the session cookie and moves on by
 * itself. A Strict cookie is not sent on a redirect chain another site started, so the move to
 * /ui/ has to be a navigation this page makes.
 */
export function signedOnPage(digest: string): string {
  return `${head(digest, "Signed in – Strongroom", `<meta http-equiv="refresh" content="0;url=/ui/">\n`)}
<body>
<main id="content"><p>Signed in. <a href="/ui/">Continue to the dashboard</a>.</p></main>
</body>
</html>
`;
}

/**
 * Everything the page loads comes from this origin: no inline script or style, no third party,
 * no framing, no plugin; forms post only here.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  // The page's icon is inline (ui-page.ts); data: images run no code.
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");
