import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
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

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
}

/** Serious and critical axe-core findings on the page as it is now. */
export async function axeProblems(page: Page): Promise<AxeViolation[]> {
  // Evaluated through the debugging protocol, which the page's CSP does not govern.
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe;
    return (await axe.run()).violations.map(({ id, impact, help }) => ({ id, impact, help }));
  });
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}
