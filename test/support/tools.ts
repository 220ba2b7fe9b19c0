import { execFileSync } from "node:child_process";

/**
 * Whether an outside program or service a test needs is here. Missing ones skip the test with the
 * reason, except under CI=true, where they fail it: CI must install everything it tests with.
 */
export function requireTool(name: string, available: boolean, install: string): boolean {
  if (available) return true;
  if (process.env.CI === "true")
    throw new Error(`${name} is required under CI=true but is missing; ${install}`);
  console.warn(`skipping: ${name} is not available (${install})`);
  return false;
}

export function commandExists(command: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
