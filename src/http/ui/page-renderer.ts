import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { BUILT_CLIENT_DIR } from "./ui-assets.js";

/**
 * The dashboard's pages rendered on the server with the browser's own components
 * (src/ui/client/render-page.tsx, bundled for Node by bin/build-ui.js).
 */
export interface PageRenderer {
  /** The admin API paths the page at `url` is drawn with; none when it is not rendered here. */
  reads(url: URL): string[];
  /** The page's markup for #app and its title, drawn with the reads' answers by path. */
  render(url: URL, answers: Record<string, unknown>): Promise<{ title: string; markup: string } | undefined>;
}

/** Where bin/build-ui.js writes the renderer, beside the browser bundle. */
export const BUILT_RENDERER = join(BUILT_CLIENT_DIR, "..", "render", "render-page.js");

/** The built renderer; undefined when the dashboard is not built, and every page is then drawn by the browser. */
export async function loadPageRenderer(file: string = BUILT_RENDERER): Promise<PageRenderer | undefined> {
  if (!existsSync(file)) return undefined;
  const module = (await import(pathToFileURL(file).href)) as Partial<PageRenderer>;
  const { reads, render } = module;
  return typeof reads === "function" && typeof render === "function" ? { reads, render } : undefined;
}
