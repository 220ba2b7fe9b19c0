import { spawn, spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { expect } from "vitest";

const CLI = resolve(import.meta.dirname, "../../dist/cli/main.js");

/**
 * Runs the built `strongroom` command and returns what it printed and its exit code; `input` is
 * piped to its standard input.
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, input = "") {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    encoding: "utf8",
    env: { ...process.env, ...env },
    input,
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * `strongroom` with `trailing` after every command's own arguments (a data directory, a log level),
 * and `json`: a command run with `--json` that must exit 0, its output parsed.
 */
export function cliWith(trailing: readonly string[]) {
  const cli = (...args: string[]) => runCli([...args, ...trailing]);
  const json = (...args: string[]) => {
    const result = cli(...args, "--json");
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout);
  };
  return { cli, json };
}

/**
 * The built `strongroom` command without blocking this process: for tests that serve, from this
 * process, what the command talks to (a synchronous spawn would wait on itself).
 */
export function runCliAsync(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.once("exit", (code) => done({ code, stdout, stderr }));
  });
}
