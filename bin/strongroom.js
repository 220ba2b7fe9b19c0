#!/usr/bin/env node
// The `strongroom` command (npm start, npx strongroom, npm link): builds dist/ when the sources are
// newer than the last build (tsc for the server, esbuild for the dashboard), then runs the CLI in
// this same process, so a signal sent to it (by npm, a supervisor or Ctrl-C) reaches the server
// itself and no orphan keeps the ports.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync, utimesSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// tsc writes its build info on every build, `npm run build` included; a build here touches it too,
// since tsc leaves it alone when a touched source compiles to the same output.
const stamp = join(root, "dist", ".tsbuildinfo");
const entry = join(root, "dist", "cli", "main.js");

/** The newest modification time under `path` (a file or a directory of sources). */
function newest(path) {
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  let latest = 0;
  for (const name of readdirSync(path)) latest = Math.max(latest, newest(join(path, name)));
  return latest;
}

/** Sources a build reads; absent in an installed package, which ships dist/ only. */
const sources = ["src", "tsconfig.json", "tsconfig.build.json", "package.json"]
  .map((name) => join(root, name))
  .filter((path) => existsSync(path));

function stale() {
  if (!existsSync(entry) || !existsSync(stamp)) return "there is no build yet";
  if (!existsSync(join(root, "src"))) return undefined;
  const built = statSync(stamp).mtimeMs;
  return sources.some((path) => newest(path) > built) ? "sources changed since the last build" : undefined;
}

const reason = stale();
if (reason) {
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  if (!existsSync(tsc)) {
    console.error(`strongroom: ${reason}, and TypeScript is not installed: run npm install in ${root}`);
    process.exit(1);
  }
  const started = Date.now();
  process.stderr.write(`strongroom: building dist/ (${reason})… `);
  const built = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (built.status !== 0) {
    console.error("\nstrongroom: the build failed; see the errors above");
    process.exit(1);
  }
  const { buildUi } = await import("./build-ui.js");
  try {
    await buildUi();
  } catch {
    console.error("\nstrongroom: the dashboard's build failed; see the errors above");
    process.exit(1);
  }
  const now = new Date();
  utimesSync(stamp, now, now);
  process.stderr.write(`done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

await import(pathToFileURL(entry).href);
