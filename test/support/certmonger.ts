import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { commandExists } from "./tools.js";

export const certmongerAvailable =
  commandExists("certmonger") && commandExists("getcert") && commandExists("dbus-run-session");

/** Where a request rests: issued and tracked, refused, unreachable, or waiting on the CA (pending). */
const SETTLED = [
  "MONITORING",
  "CA_REJECTED",
  "CA_UNREACHABLE",
  "CA_UNCONFIGURED",
  "CA_WORKING",
  "NEED_GUIDANCE",
];

export interface Certmonger {
  /** Runs `getcert <args> -s` against this daemon. */
  getcert(...args: string[]): { status: number | null; out: string };
  /** The request's `getcert list` status once it reaches one where certmonger waits on nobody but the CA. */
  settled(id: string, timeoutMs?: number): Promise<string>;
  log(): string;
  stop(): Promise<void>;
}

/**
 * A certmonger daemon of the test's own: on a private session bus, with its requests, CAs and lock
 * under `dir` (the CERTMONGER_* variables its own test suite uses), so nothing touches
 * /var/lib/certmonger and suites run side by side.
 */
export async function startCertmonger(dir: string): Promise<Certmonger> {
  for (const sub of ["requests", "cas", "local", "tmp"]) mkdirSync(join(dir, sub), { recursive: true });
  const env = {
    ...process.env,
    CERTMONGER_REQUESTS_DIR: join(dir, "requests"),
    CERTMONGER_CAS_DIR: join(dir, "cas"),
    CERTMONGER_LOCAL_CA_DIR: join(dir, "local"),
    CERTMONGER_TMPDIR: join(dir, "tmp"),
    CERTMONGER_SYSTEM_LOCK_FILE: join(dir, "lock"),
    CERTMONGER_CONFIG_DIR: dir,
    XDG_CONFIG_HOME: join(dir, "config"),
    HOME: dir,
  };
  const busFile = join(dir, "bus-address");
  const child: ChildProcess = spawn(
    "dbus-run-session",
    ["--", "sh", "-c", `echo "$DBUS_SESSION_BUS_ADDRESS" > '${busFile}'; exec certmonger -s -n -d 2`],
    { env, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  let output = "";
  child.stdout?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const deadline = Date.now() + 15_000;
  let address = "";
  while (Date.now() < deadline) {
    if (existsSync(busFile)) address = readFileSync(busFile, "utf8").trim();
    if (
      address &&
      spawnSync("getcert", ["list-cas", "-s"], { env: { ...env, DBUS_SESSION_BUS_ADDRESS: address } })
        .status === 0
    )
      break;
    await new Promise((r) => setTimeout(r, 200));
  }
  if (!address) throw new Error(`certmonger did not start:\n${output}`);
  const busEnv = { ...env, DBUS_SESSION_BUS_ADDRESS: address };
  const getcert = (...args: string[]) => {
    const [command = "", ...rest] = args;
    const r = spawnSync("getcert", [command, "-s", ...rest], {
      env: busEnv,
      encoding: "utf8",
      timeout: 120_000,
    });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  };
  return {
    getcert,
    async settled(id, timeoutMs = 60_000) {
      const end = Date.now() + timeoutMs;
      let status = "";
      while (Date.now() < end) {
        status = /status: (\S+)/.exec(getcert("list", "-i", id).out)?.[1] ?? "";
        if (SETTLED.includes(status)) return status;
        await new Promise((r) => setTimeout(r, 300));
      }
      return status;
    },
    log: () => output,
    async stop() {
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, "SIGTERM");
      await exited;
    },
  };
}
