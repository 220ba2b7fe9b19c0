import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { generateTokenSigningKey } from "../../src/crypto/jwt-token-signer.js";
import { createBootstrapService } from "../../src/domain/bootstrap/bootstrap-service.js";
import { DomainError } from "../../src/domain/errors.js";
import { type Core, openCore } from "../../src/main.js";
import { createAdminCredentialsFile } from "../../src/storage/admin-credentials-file.js";
import { backends, openFreshStorage, type TestDatabase } from "../support/backends.js";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { tempDataDir } from "../support/server-process.js";

const ADMIN_NAME = "strongroom-admin";

for (const backend of backends) {
  describe.skipIf(!backend.available)(`first start and restarts (${backend.engine})`, () => {
    const cleanup: (() => Promise<void> | void)[] = [];
    afterEach(async () => {
      for (const step of cleanup.splice(0).reverse()) await step();
    });

    // Nodes sharing a database share its master key; each keeps its own data dir.
    const masterKey = randomBytes(32).toString("base64");

    /** A migrated, empty database: what nodes racing through a first start find. */
    async function database(): Promise<TestDatabase> {
      const { database: db, storage } = await openFreshStorage(backend);
      await storage.close();
      cleanup.push(() => db.drop());
      return db;
    }

    async function start(url: string, dataDir?: string): Promise<InProcess> {
      const dir = dataDir ?? tempDataDir().dir;
      const server = await startInProcess({ database: url, dataDir: dir, flags: { masterKey } });
      cleanup.push(() => server.stop());
      if (!dataDir) cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      return server;
    }

    const admins = async (server: InProcess) =>
      (await server.strongroom.core.principals.list()).filter((p) => p.displayName === ADMIN_NAME);

    it("makes one administrator when two nodes start at once on empty data dirs against one database", async () => {
      const db = await database();
      const [a, b] = await Promise.all([start(db.url), start(db.url)]);
      expect(a.strongroom.admin.clientId).toBe(b.strongroom.admin.clientId);
      expect(await admins(a)).toHaveLength(1);
      // Each node's admin.json holds a secret of its own that the server accepts.
      expect(a.strongroom.admin.clientSecret).not.toBe(b.strongroom.admin.clientSecret);
      await expect(a.token()).resolves.toMatch(/^ey/);
      await expect(b.token()).resolves.toMatch(/^ey/);
    });

    it("keeps the administrator and its secret across a restart", async () => {
      const db = await database();
      const dir = tempDataDir();
      cleanup.push(() => dir.remove());
      const first = await start(db.url, dir.dir);
      const { tenantId, clientId, clientSecret } = first.strongroom.admin;
      await first.strongroom.stop();
      const second = await start(db.url, dir.dir);
      expect(second.strongroom.admin).toMatchObject({ tenantId, clientId, clientSecret });
      expect(await admins(second)).toHaveLength(1);
    });

    it("gives a data dir that lost admin.json a new secret of the same administrator", async () => {
      const db = await database();
      const dir = tempDataDir();
      cleanup.push(() => dir.remove());
      const first = await start(db.url, dir.dir);
      const before = first.strongroom.admin;
      await first.strongroom.stop();
      rmSync(join(dir.dir, "admin.json"));
      const second = await start(db.url, dir.dir);
      expect(second.strongroom.admin.clientId).toBe(before.clientId);
      expect(second.strongroom.admin.clientSecret).not.toBe(before.clientSecret);
      expect(await admins(second)).toHaveLength(1);
      await expect(second.token()).resolves.toMatch(/^ey/);
    });

    describe("when the database fails while the administrator is read", () => {
      async function core(url: string, dataDir: string): Promise<Core> {
        const opened = await openCore(
          loadConfig({
            env: {},
            cwd: dataDir,
            flags: { dataDir, database: url, masterKey, logLevel: "silent" },
          }),
        );
        cleanup.push(() => opened.close());
        return opened;
      }

      it("fails the start with a message naming the cause, and mints no administrator", async () => {
        const db = await database();
        const dir = tempDataDir();
        cleanup.push(() => dir.remove());
        const server = await start(db.url, dir.dir);
        const saved = readFileSync(join(dir.dir, "admin.json"), "utf8");
        const { clientId } = server.strongroom.admin;
        await server.strongroom.stop();

        const opened = await core(db.url, dir.dir);
        const bootstrap = createBootstrapService({
          settings: opened.stores.settings,
          principals: {
            ...opened.principals,
            find: async () => {
              throw new Error("Connection terminated unexpectedly");
            },
          },
          access: opened.access,
          vaults: opened.vaults,
          sealer: opened.sealer,
          credentialsFile: createAdminCredentialsFile(join(dir.dir, "admin.json")),
          generateTokenKey: generateTokenSigningKey,
        });
        const error = await bootstrap
          .ensureAdmin({
            tenantId: opened.tenantId,
            authorityHost: "https://localhost:8443",
            vaultUrl: "https://localhost:8443",
          })
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(DomainError);
        expect((error as DomainError).code).toBe("Unavailable");
        expect((error as Error).message).toMatch(
          new RegExp(`administrator principal ${clientId}.*Connection terminated unexpectedly`),
        );
        const names = (await opened.principals.list()).filter((p) => p.displayName === ADMIN_NAME);
        expect(names.map((p) => p.clientId)).toEqual([clientId]);
        expect(readFileSync(join(dir.dir, "admin.json"), "utf8")).toBe(saved);
      });
    });

    it("writes admin.json only once the administrator has its roles", async () => {
      const db = await database();
      const dir = tempDataDir();
      cleanup.push(() => dir.remove());
      expect(existsSync(join(dir.dir, "admin.json"))).toBe(false);
      const server = await start(db.url, dir.dir);
      const saved = JSON.parse(readFileSync(join(dir.dir, "admin.json"), "utf8"));
      expect(saved).toEqual(server.strongroom.admin);
      const principal = await server.strongroom.core.principals.find(saved.clientId);
      const roles = await server.strongroom.core.access.assignments(principal.principal.id);
      expect(roles.filter((r) => r.scope === "/")).toHaveLength(2);
    });
  });
}
