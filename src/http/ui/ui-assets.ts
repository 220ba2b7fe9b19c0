import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export interface UiAsset {
  body: Buffer;
  contentType: string;
}

export interface UiAssets {
  /** Changes whenever any asset does: it names the asset path, so assets can be cached forever. */
  digest: string;
  files: ReadonlyMap<string, UiAsset>;
  /** The modules main.js imports, directly or not: the page names them for the browser to fetch at once. */
  entryImports: readonly string[];
  /**
   * The shared modules the pages' chunks import that the entry does not. Named in the page too: a
   * page's chunk, loaded at the click, would otherwise ask for them only once it has been parsed,
   * one round after another while the page's rows are already on their way.
   */
  pageImports: readonly string[];
}

/**
 * Where esbuild writes the browser bundle (bin/build-ui.js). This module sits at src/http/ui/ under tsx and at
 * dist/http/ui/ once built; both are three levels below the package root.
 */
export const BUILT_CLIENT_DIR = join(
  fileURLToPath(new URL("../../../", import.meta.url)),
  "dist",
  "ui",
  "client",
);

/**
 * The built browser modules (the entry and its chunks) and the stylesheet esbuild bundled beside
 * the entry, read once; undefined when the client is not built.
 */
export function loadUiAssets(dir: string = BUILT_CLIENT_DIR): UiAssets | undefined {
  if (!existsSync(join(dir, "main.js"))) return undefined;
  const files = new Map<string, UiAsset>();
  for (const name of readdirSync(dir)
    .filter((file) => file.endsWith(".js"))
    .sort()) {
    files.set(name, { body: readFileSync(join(dir, name)), contentType: "text/javascript; charset=utf-8" });
  }
  const styles = join(dir, "main.css");
  files.set("styles.css", {
    body: existsSync(styles) ? readFileSync(styles) : Buffer.alloc(0),
    contentType: "text/css; charset=utf-8",
  });
  const hash = createHash("sha256");
  for (const [name, asset] of files) hash.update(name).update("\0").update(asset.body).update("\0");
  const entryImports = staticImports(files, "main.js");
  const pageImports = new Set<string>();
  for (const name of files.keys())
    if (name !== "main.js")
      for (const imported of staticImports(files, name))
        if (!entryImports.includes(imported)) pageImports.add(imported);
  return { digest: hash.digest("hex").slice(0, 16), files, entryImports, pageImports: [...pageImports] };
}

/**
 * The modules `file` imports statically, and theirs, in the order found. Without them named in the
 * page, the browser finds each only once the one before it has arrived and been parsed.
 */
function staticImports(files: ReadonlyMap<string, UiAsset>, file: string): string[] {
  const found = new Set<string>();
  const visit = (name: string) => {
    const text = files.get(name)?.body.toString("utf8") ?? "";
    // esbuild writes static imports as `from"./x.js"`; `import("./x.js")` is a page loaded on demand.
    for (const m of text.matchAll(/from\s*"\.\/([\w-]+\.js)"/g)) {
      const imported = m[1] as string;
      if (found.has(imported)) continue;
      found.add(imported);
      visit(imported);
    }
  };
  visit(file);
  return [...found];
}
