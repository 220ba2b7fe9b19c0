/** The one HTML document of the dashboard; the browser modules under /ui/assets/{digest}/ fill it in. */
export function dashboardPage(digest: string): string {
  const assets = `/ui/assets/${digest}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Strongroom</title>
<link rel="icon" href="${assets}/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="${assets}/styles.css">
<script type="module" src="${assets}/main.js"></script>
</head>
<body>
<header><h1>Strongroom</h1></header>
<main id="content"></main>
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
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");
