import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { backends } from "../support/backends.js";
import { fakeClock, type InProcess, startInProcess } from "../support/in-process.js";
import { tempDataDir } from "../support/server-process.js";
import { commandExists, requireTool } from "../support/tools.js";

const CLI = resolve(import.meta.dirname, "../../dist/cli/main.js");
const V = "api-version=7.6";
const DAY_MS = 86_400_000;
const CERTIFICATES = 20;
const postgres = backends.find((b) => b.engine === "postgres");
const faketime = requireTool("faketime", commandExists("faketime"), "apt-get install -y faketime");

/** `strongroom jobs run renewals` as a node whose clock is `offset` away from the database's. */
function renewOnNodeAt(offset: string, database: string, masterKey: string): Promise<string> {
  const dir = tempDataDir();
  const child = spawn(
    "faketime",
    ["-f", offset, process.execPath, CLI, "jobs", "run", "renewals", "--data-dir", dir.dir],
    {
      env: { ...process.env, STRONGROOM_DATABASE_URL: database, STRONGROOM_MASTER_KEY: masterKey },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout.on("data", (d: Buffer) => {
    output += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    output += d.toString();
  });
  return new Promise((resolveRun, reject) =>
    child.once("exit", (code) => {
      dir.remove();
      if (code === 0) resolveRun(output);
      else reject(new Error(`node at ${offset} exited with ${code}: ${output}`));
    }),
  );
}

describe.skipIf(!postgres?.available || !faketime)(
  "renewals on PostgreSQL nodes whose clocks disagree",
  () => {
    const masterKey = randomBytes(32).toString("base64");
    const cleanup: (() => Promise<unknown> | unknown)[] = [];
    afterAll(async () => {
      for (const step of cleanup.splice(0).reverse()) await step();
    });

    async function node(database: string, clock?: ReturnType<typeof fakeClock>): Promise<InProcess> {
      const server = await startInProcess({
        database,
        ...(clock && { clock }),
        flags: { masterKey, jobs: false },
      });
      cleanup.push(() => server.stop());
      return server;
    }

    it("renews each due certificate exactly once when one node runs 30 minutes behind and one ahead", async () => {
      const db = await (postgres as NonNullable<typeof postgres>).createDatabase();
      cleanup.push(() => db.drop());
      // Made 25 days ago with one month of validity: past the default AutoRenew at 80 % of lifetime.
      const maker = await node(db.url, fakeClock(new Date(Date.now() - 25 * DAY_MS)));
      const names = Array.from({ length: CERTIFICATES }, (_, i) => `skew-${i}`);
      for (const name of names) {
        const created = await maker.kv({
          method: "POST",
          url: `/certificates/${name}/create?${V}`,
          body: {
            policy: {
              issuer: { name: "Self" },
              key_props: { kty: "EC" },
              x509_props: { subject: `CN=${name}.example`, validity_months: 1 },
            },
          },
        });
        expect(created.statusCode, created.body).toBe(202);
        const done = await maker.kv({ method: "GET", url: `/certificates/${name}/pending?${V}` });
        expect(done.json().status, done.body).toBe("completed");
      }
      await maker.strongroom.stop();

      const [behind, ahead] = await Promise.all([
        renewOnNodeAt("-30m", db.url, masterKey),
        renewOnNodeAt("+30m", db.url, masterKey),
      ]);
      expect(`${behind}\n${ahead}`).toMatch(/renew/);

      const reader = await node(db.url);
      for (const name of names) {
        const versions = await reader.kv({ method: "GET", url: `/certificates/${name}/versions?${V}` });
        expect(versions.json().value, `${name}: ${behind} / ${ahead} / ${versions.body}`).toHaveLength(2);
      }
    });
  },
);
