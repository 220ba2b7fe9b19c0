import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startServerProcess, tempDataDir } from "../support/server-process.js";

const root = resolve(import.meta.dirname, "../..");

/** The first ```js block of README.md: the quick start a newcomer copies. */
function quickStart(): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const block = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error("README.md has no ```js quick start block");
  return block;
}

describe("the README quick start", () => {
  const work = tempDataDir();
  afterAll(() => work.remove());

  it("runs unchanged against a fresh server and prints the secret", async () => {
    // The program runs in a directory of its own, away from the data directory.
    const dataDir = join(work.dir, "elsewhere", "data");
    const app = join(work.dir, "app");
    mkdirSync(dataDir, { recursive: true });
    mkdirSync(app);
    const server = await startServerProcess(dataDir);
    try {
      symlinkSync(join(root, "node_modules"), join(app, "node_modules"));
      writeFileSync(join(app, "quickstart.mjs"), quickStart());
      const out = execFileSync(process.execPath, ["quickstart.mjs"], {
        cwd: app,
        env: {
          ...process.env,
          STRONGROOM_DATA_DIR: dataDir,
          NODE_EXTRA_CA_CERTS: join(dataDir, "tls", "ca.pem"),
        },
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(out.trim()).toBe("hello from Strongroom");
    } finally {
      await server.stop();
    }
  });
});
