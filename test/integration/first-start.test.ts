import { existsSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";

/** A port another program holds, as a user's web server would hold 8080. */
async function occupiedPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return { port: address.port, server };
}

describe("a first start whose port is taken", () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function setup() {
    const dir = tempDataDir();
    cleanup.push(() => dir.remove());
    const taken = await occupiedPort();
    cleanup.push(() => new Promise((resolve) => taken.server.close(resolve)));
    return { dir: dir.dir, taken: taken.port };
  }

  async function serves(dir: string): Promise<ServerProcess> {
    const server = await startServerProcess(dir);
    cleanup.push(() => server.stop());
    return server;
  }

  for (const [flag, setting, other] of [
    ["--pki-port", "pkiPort", "--port"],
    ["--port", "port", "--pki-port"],
  ] as const) {
    it(`stops with one line naming ${flag} and leaves nothing that trips a second start`, async () => {
      const { dir, taken } = await setup();
      const result = runCli([
        "serve",
        "--data-dir",
        dir,
        other,
        "0",
        flag,
        String(taken),
        "--log-level",
        "warn",
      ]);
      expect(result.code).toBe(1);
      const lines = result.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`port ${taken} \\(${setting}, .*\\) is in use.*${flag}`));
      expect(existsSync(join(dir, "admin.json"))).toBe(false);

      const second = await serves(dir);
      expect(second.admin.clientId).toMatch(/^[0-9a-f-]{36}$/);
      expect(existsSync(join(dir, "admin.json"))).toBe(true);
    });
  }
});
