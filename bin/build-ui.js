// Bundles the dashboard's browser code (src/ui/client, Preact TSX) into dist/ui/client with esbuild:
// one entry, one chunk per page loaded on demand, minified ESM; and the same pages for Node into
// dist/ui/render/render-page.js, which the server renders a page's first markup with. `npm run
// build` and the `strongroom` command's rebuild both call this after tsc, so `npm install && npm
// start` needs no extra step.
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Writes dist/ui/client and dist/ui/render afresh, so nothing of an older build is used beside the new. */
export async function buildUi() {
  const outdir = join(root, "dist", "ui", "client");
  const renderDir = join(root, "dist", "ui", "render");
  rmSync(outdir, { recursive: true, force: true });
  rmSync(renderDir, { recursive: true, force: true });
  const jsx = { jsx: "automatic", jsxImportSource: "preact", logLevel: "warning", legalComments: "none" };
  // One file with its own copy of Preact: the renderer and the components must share one instance
  // for hooks to work, and the server then needs nothing of the client's build at run time.
  const server = build({
    ...jsx,
    entryPoints: { "render-page": join(root, "src", "ui", "client", "render-page.tsx") },
    outdir: renderDir,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
  });
  await build({
    entryPoints: { main: join(root, "src", "ui", "client", "main.tsx") },
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    minify: true,
    target: "es2022",
    ...jsx,
    entryNames: "[name]",
    chunkNames: "[name]-[hash]",
  });
  await server;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildUi();
