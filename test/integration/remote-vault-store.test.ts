import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RemoteVault } from "../../src/domain/remote-vaults/model.js";
import type { StorageHandle } from "../../src/storage/database.js";
import { createSqlRemoteVaultStore } from "../../src/storage/sql-remote-vault-store.js";
import { backends, dumpAllRows, openFreshStorage } from "../support/backends.js";
import { failNextInsertInto } from "../support/faults.js";

const vault = (name: string, id = `id-${name}`): RemoteVault => ({
  id,
  name,
  kind: "azure-key-vault",
  url: `https://${name.toLowerCase()}.vault.azure.net`,
  settings: { tenantId: "t", clientId: "c" },
  sealedSecret: Buffer.from("sealed bytes"),
  secretFields: ["clientSecret"],
  createdAt: new Date("2026-01-01T00:00:00Z"),
  updatedAt: new Date("2026-01-01T00:00:00Z"),
});

for (const backend of backends) {
  describe.runIf(backend.available)(`remote vault store (${backend.engine})`, () => {
    let storage: StorageHandle;
    let dispose: () => Promise<void>;

    beforeEach(async () => {
      ({ storage, dispose } = await openFreshStorage(backend));
    });
    afterEach(() => dispose());

    it("keeps names unique without regard to case and finds them the same way", async () => {
      const store = createSqlRemoteVaultStore(storage);
      expect(await store.insert(vault("Contoso"))).toBe(true);
      expect(await store.insert(vault("contoso", "another-id"))).toBe(false);
      expect(await store.get("CONTOSO")).toMatchObject({
        id: "id-Contoso",
        name: "Contoso",
        secretFields: ["clientSecret"],
      });
      expect((await store.get("contoso"))?.sealedSecret.equals(Buffer.from("sealed bytes"))).toBe(true);
      expect(await store.get("fabrikam")).toBeUndefined();
    });

    it("replaces the seen set with each successful sync, in chunks past one statement's size", async () => {
      const store = createSqlRemoteVaultStore(storage);
      await store.insert(vault("contoso"));
      const first = Array.from({ length: 2500 }, (_, i) => `akv://contoso/certificates/c${i}/v1`);
      const at = new Date("2026-02-01T00:00:00Z");
      await store.recordSync("id-contoso", { at, status: "ok", certificates: 2500, gone: 0 }, first);
      expect((await store.locations("id-contoso")).sort()).toEqual([...first].sort());
      await store.recordSync("id-contoso", { at, status: "ok", certificates: 1, gone: 2499 }, [
        "akv://contoso/x/1",
      ]);
      expect(await store.locations("id-contoso")).toEqual(["akv://contoso/x/1"]);
      expect((await store.get("contoso"))?.lastSync).toEqual({
        at,
        status: "ok",
        error: undefined,
        certificates: 1,
        gone: 2499,
      });
    });

    it("records a failed sync without touching the seen set", async () => {
      const store = createSqlRemoteVaultStore(storage);
      await store.insert(vault("contoso"));
      const at = new Date("2026-02-01T00:00:00Z");
      await store.recordSync("id-contoso", { at, status: "ok", certificates: 1, gone: 0 }, [
        "akv://contoso/a/1",
      ]);
      await store.recordSync("id-contoso", {
        at,
        status: "failed",
        error: "unreachable",
        certificates: 1,
        gone: 0,
      });
      expect(await store.locations("id-contoso")).toEqual(["akv://contoso/a/1"]);
      expect((await store.get("contoso"))?.lastSync).toMatchObject({
        status: "failed",
        error: "unreachable",
      });
    });

    it("leaves every row as it was when writing the seen set fails part-way", async () => {
      const store = createSqlRemoteVaultStore(storage);
      await store.insert(vault("contoso"));
      const at = new Date("2026-02-01T00:00:00Z");
      await store.recordSync("id-contoso", { at, status: "ok", certificates: 1, gone: 0 }, [
        "akv://contoso/a/1",
      ]);
      const before = await dumpAllRows(storage);
      const fault = failNextInsertInto("remote_vault_locations");
      const faulty = createSqlRemoteVaultStore({ ...storage, db: storage.db.withPlugin(fault.plugin) });
      fault.arm();
      await expect(
        faulty.recordSync("id-contoso", { at: new Date(), status: "ok", certificates: 2, gone: 1 }, [
          "akv://contoso/b/1",
          "akv://contoso/c/1",
        ]),
      ).rejects.toThrow(/injected failure/);
      expect(await dumpAllRows(storage)).toBe(before);
    });

    it("removes a remote vault with its seen set, and says when there was none", async () => {
      const store = createSqlRemoteVaultStore(storage);
      await store.insert(vault("contoso"));
      await store.insert(vault("fabrikam"));
      await store.recordSync("id-contoso", { at: new Date(), status: "ok", certificates: 1, gone: 0 }, [
        "akv://contoso/a/1",
      ]);
      expect(await store.remove("id-contoso")).toBe(true);
      expect(await store.remove("id-contoso")).toBe(false);
      expect(await store.locations("id-contoso")).toEqual([]);
      expect((await store.list()).map((v) => v.name)).toEqual(["fabrikam"]);
    });
  });
}
