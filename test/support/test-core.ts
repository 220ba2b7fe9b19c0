import { loadConfig } from "../../src/config/config.js";
import type { Clock } from "../../src/domain/clock.js";
import { type Core, openCore } from "../../src/main.js";
import type { Backend } from "./backends.js";
import { tempDataDir } from "./server-process.js";

/**
 * The services over a fresh database of `backend` and a data directory of their own, with no server
 * and no jobs (a test runs them itself, on `clock`); `close` closes them, drops the database and
 * removes the directory.
 */
export async function openTestCore(
  backend: Backend,
  clock: Clock,
): Promise<{ core: Core; close: () => Promise<void> }> {
  const dir = tempDataDir();
  const database = await backend.createDatabase();
  const core = await openCore(
    loadConfig({
      env: {},
      flags: { dataDir: dir.dir, database: database.url, logLevel: "silent", jobs: false },
    }),
    clock,
  );
  return {
    core,
    close: async () => {
      await core.close();
      await database.drop();
      dir.remove();
    },
  };
}
