import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { requireTool } from "./tools.js";

export const CHROMIUM_PATH = "/usr/bin/chromium";

/** Debian's Chromium, headless; undefined (a skip) when it is missing outside CI. */
export async function launchChromium(): Promise<Browser | undefined> {
  if (!requireTool("chromium", existsSync(CHROMIUM_PATH), "apt-get install chromium")) return undefined;
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ["--headless", "--no-sandbox", "--disable-gpu"],
  });
}

/** Where end-to-end tests leave screenshots: artifacts/ at the package root, kept out of git. */
export function artifactsDir(name: string): string {
  const dir = join(import.meta.dirname, "..", "..", "artifacts", name);
  mkdirSync(dir, { recursive: true });
  return dir;
}
