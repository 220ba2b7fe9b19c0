import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempDataDir } from "../support/server-process.js";

const ROOT = resolve(import.meta.dirname, "../..");

/** Pids of running processes whose command line names `needle` (the test's own data dir). */
function processesNaming(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      const state = /State:\s+(\w)/.exec(readFileSync(`/proc/${entry}/status`, "utf8"))?.[1];
      if (cmdline.includes(needle) && state !== "Z") pids.push(Number(entry));
    } catch {
      // The process ended while it was read.
    }
  }
  return pids;
}

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

describe("npm start", () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => {
    for (const step of cleanup.splice(0).reverse()) step();
  });

  function npmStart(dataDir: string): { npm: ChildProcess; output: () => string; serving: Promise<void> } {
    const npm = spawn(
      "npm",
      ["start", "--", "--data-dir", dataDir, "--port", "0", "--pki-port", "0", "--log-level", "warn"],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    cleanup.push(() => {
      for (const pid of processesNaming(dataDir)) process.kill(pid, "SIGKILL");
    });
    let output = "";
    const serving = new Promise<void>((resolveServing, reject) => {
      const read = (d: Buffer) => {
        output += d.toString();
        if (/served at http:\/\/\S+\n/.test(output)) resolveServing();
      };
      npm.stdout?.on("data", read);
      npm.stderr?.on("data", read);
      npm.once("exit", (code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
    });
    return { npm, output: () => output, serving };
  }

  it("stops the server when npm gets SIGTERM, as a supervisor stopping it sends", async () => {
    const dir = tempDataDir();
    cleanup.push(() => dir.remove());
    const { npm, serving } = npmStart(dir.dir);
    await serving;
    const server = processesNaming(dir.dir).filter((pid) => pid !== npm.pid);
    expect(server.length).toBeGreaterThan(0);
    npm.kill("SIGTERM");
    expect(await until(() => processesNaming(dir.dir).length === 0, 15_000)).toBe(true);
  });

  it("starts without building when the sources have not changed since the last build", async () => {
    const dir = tempDataDir();
    cleanup.push(() => dir.remove());
    // The first start builds when this work tree's sources are newer than dist/; the second must not.
    const first = npmStart(dir.dir);
    await first.serving;
    first.npm.kill("SIGTERM");
    await until(() => processesNaming(dir.dir).length === 0, 15_000);
    const second = npmStart(dir.dir);
    await second.serving;
    expect(second.output()).not.toMatch(/building dist/);
    second.npm.kill("SIGTERM");
    await until(() => processesNaming(dir.dir).length === 0, 15_000);
  });

  it("is callable as npx strongroom, through the package's bin", () => {
    const npx = spawnSync("npx", ["--no-install", "strongroom", "jobs", "--help"], {
      cwd: ROOT,
      // npx's first run in a work tree installs it into its cache by running its install script,
      // which rebuilds build/ in place: tests in other workers loading the native module then fail.
      env: { ...process.env, npm_config_ignore_scripts: "true" },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(npx.status, npx.stderr).toBe(0);
    expect(npx.stdout).toContain("Usage: strongroom jobs");
  });
});
