import type { FastifyInstance, FastifyReply } from "fastify";
import type { UiAssets } from "./ui-assets.js";
import { DASHBOARD_CSP, dashboardPage } from "./ui-page.js";

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

/**
 * The dashboard at /ui/: one HTML page for every path under it (the client routes), and its assets.
 * Static files are not audited: they are the same for everyone and carry no data.
 */
export function registerUiRoutes(app: FastifyInstance, assets: UiAssets | undefined): void {
  const config = { unaudited: true } as const;
  const page = assets && dashboardPage(assets.digest);

  const sendPage = (reply: FastifyReply) => {
    if (!page) {
      return secured(reply)
        .status(503)
        .type("text/plain; charset=utf-8")
        .send("The dashboard is not built: run `npm run build` in the Strongroom package.");
    }
    // The page names the current assets' digest, so it is checked on every visit.
    return secured(reply).header("cache-control", "no-cache").type("text/html; charset=utf-8").send(page);
  };

  // The router ignores trailing slashes: this is /ui/ as well; asset URLs are absolute, so either works.
  app.get("/ui", { config }, (_request, reply) => sendPage(reply));
  app.get("/ui/*", { config }, (_request, reply) => sendPage(reply));

  app.get<{ Params: { digest: string; file: string } }>(
    "/ui/assets/:digest/:file",
    { config },
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
