// Bundles the dashboard's browser code (src/ui/client, Preact TSX) into dist/ui/client with esbuild:
// one entry, one chunk per page loaded on demand, minified ESM. `npm run build` and the
// `strongroom` command's rebuild both call this after tsc, so `npm install && npm start` needs no
// extra step.
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Writes dist/ui/client afresh, so no module of an older build is served beside the new ones. */
export async function buildUi() {
  const outdir = join(root, "dist", "ui", "client");
  rmSync(outdir, { recursive: true, force: true });
  await build({
    entryPoints: { main: join(root, "src", "ui", "client", "main.tsx") },
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    minify: true,
    target: "es2022",
    jsx: "automatic",
    jsxImportSource: "preact",
    entryNames: "[name]",
    chunkNames: "[name]-[hash]",
    logLevel: "warning",
    legalComments: "none",
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildUi();
