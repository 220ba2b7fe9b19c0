import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { AdminCredentials } from "../../src/main.js";

const CLI = resolve(import.meta.dirname, "../../dist/cli/main.js");

export interface ServerProcess {
  /** The server's process: with several workers, the primary. */
  pid: number;
  dataDir: string;
  port: number;
  /** http://host:port of the PKI listener (CRLs, OCSP, AIA). */
  pkiUrl: string;
  admin: AdminCredentials;
  ca: string;
  output: () => string;
  /** Sends SIGTERM and waits for the exit code. */
  stop(): Promise<number | null>;
}

export function tempDataDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "strongroom-test-"));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Waits until the process is gone, as `kill -9` leaves it. */
export async function gone(pid: number): Promise<void> {
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs the built `strongroom serve` on a port of its own and waits until it serves. */
export async function startServerProcess(
  dataDir: string,
  extraArgs: string[] = [],
  env: NodeJS.ProcessEnv = {},
  /** Options for node itself, such as --cpu-prof, which NODE_OPTIONS does not accept. */
  nodeArgs: string[] = [],
): Promise<ServerProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...nodeArgs,
      CLI,
      "serve",
      "--data-dir",
      dataDir,
      "--port",
      "0",
      "--pki-port",
      "0",
      "--log-level",
      "warn",
      ...extraArgs,
    ],
    { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 30_000);
    const check = () => {
      const match = /serving the default vault at https:\/\/[^:]+:(\d+)/.exec(output);
      // The PKI line comes last: once it is here, everything the tests read is.
      if (match && /served at http:\/\/\S+\n/.test(output)) {
        clearTimeout(timer);
        resolvePort(Number(match[1]));
      }
    };
    child.stdout?.on("data", check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output}`));
    });
  });
  const pkiUrl = /served at (http:\/\/\S+)/.exec(output)?.[1] ?? "";
  const admin = JSON.parse(readFileSync(join(dataDir, "admin.json"), "utf8")) as AdminCredentials;
  return {
    dataDir,
    port,
    pid: child.pid as number,
    pkiUrl,
    admin,
    ca: admin.caFile ? readFileSync(admin.caFile, "utf8") : "",
    output: () => output,
    async stop() {
      child.kill("SIGTERM");
      return exited;
    },
  };
}
