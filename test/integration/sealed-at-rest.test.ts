import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAesGcmSealer } from "../../src/crypto/aes-gcm-sealer.js";
import { masterKeyFrom } from "../../src/crypto/master-key.js";
import { systemClock } from "../../src/domain/clock.js";
import { newVersion } from "../../src/domain/ids.js";
import type { SecretVersion, StoredSecretVersion } from "../../src/domain/secrets/model.js";
import type { SecretStore } from "../../src/domain/secrets/ports.js";
import { createSecretService, type SecretService } from "../../src/domain/secrets/secret-service.js";
import type { Vault } from "../../src/domain/vaults/model.js";
import { createVaultService } from "../../src/domain/vaults/vault-service.js";
import { migrate, openDatabase, type StorageHandle } from "../../src/storage/database.js";
import { createSqlSecretStore } from "../../src/storage/sql-secret-store.js";
import { createSqlVaultStore } from "../../src/storage/sql-vault-store.js";
import { backends, dumpAllRows, openFreshStorage, type TestDatabase } from "../support/backends.js";
import { type InProcess, startInProcess } from "../support/in-process.js";

/** Every encoding of `text` that would give it away if found in the database's bytes. */
function encodingsOf(text: string): Buffer[] {
  const utf8 = Buffer.from(text, "utf8");
  return [
    utf8,
    Buffer.from(utf8.toString("base64")),
    Buffer.from(utf8.toString("base64url")),
    Buffer.from(utf8.toString("hex")),
    Buffer.from(utf8.toString("hex").toUpperCase()),
    Buffer.from(text, "utf16le"),
  ];
}

/** The encodings of `text` that occur in `bytes`, by index into encodingsOf (empty when none). */
function leaks(bytes: Buffer, text: string): number[] {
  return encodingsOf(text).flatMap((needle, i) => (bytes.includes(needle) ? [i] : []));
}

const readIfExists = (file: string): Buffer => (existsSync(file) ? readFileSync(file) : Buffer.alloc(0));

/** Writes secrets whose values carry `marker` through every path that seals: set, new versions, restore. */
async function writeMarkedSecrets(secrets: SecretService, vault: Vault, marker: string, visible: string) {
  await secrets.set(vault, "exact", { value: marker, tags: { label: visible } });
  await secrets.set(vault, "embedded", { value: `line one\n${marker}\nline three`, contentType: visible });
  for (let i = 0; i < 3; i++) await secrets.set(vault, "versions", { value: `${marker}-${i}` });
  await secrets.set(vault, "large", { value: `${marker} `.repeat(Math.floor(20_000 / (marker.length + 1))) });
  const blob = await secrets.backup(vault, "versions");
  await secrets.remove(vault, "versions");
  await secrets.purge(vault, "versions");
  await secrets.restore(vault, blob);
  await secrets.update(vault, "exact", undefined, { tags: { label: visible, touched: "yes" } });
}

const newMarker = () => `plaintext-marker-${randomBytes(16).toString("hex")}`;

for (const backend of backends) {
  describe.skipIf(!backend.available)(`secret values at rest on ${backend.engine}`, () => {
    const masterKey = masterKeyFrom(randomBytes(32));

    async function openServices(storage: StorageHandle) {
      const vault = await createVaultService({
        store: createSqlVaultStore(storage),
        clock: systemClock,
      }).create(`sealed-${randomBytes(4).toString("hex")}`);
      const secrets = createSecretService({
        store: createSqlSecretStore(storage),
        sealer: createAesGcmSealer(masterKey),
        clock: systemClock,
      });
      return { vault, secrets };
    }

    describe.runIf(backend.engine === "sqlite")("in the SQLite files", () => {
      let database: TestDatabase;
      let storage: StorageHandle;
      const marker = newMarker();
      // Non-secret fields are stored in clear: finding this one proves the search can see the data.
      const visible = newMarker();

      beforeAll(async () => {
        database = await backend.createDatabase();
        storage = openDatabase(database.url);
        await migrate(storage);
        const { vault, secrets } = await openServices(storage);
        await writeMarkedSecrets(secrets, vault, marker, visible);
        expect((await secrets.get(vault, "exact")).value).toBe(marker);
      });

      afterAll(async () => {
        await storage?.close();
        await database?.drop();
      });

      it("writes no plaintext to the database file or its write-ahead log while open", () => {
        const file = database.file as string;
        const main = readFileSync(file);
        const wal = readFileSync(`${file}-wal`);
        expect(wal.length).toBeGreaterThan(0);
        expect(leaks(Buffer.concat([main, wal]), visible)).toContain(0);
        expect(leaks(main, marker)).toEqual([]);
        expect(leaks(wal, marker)).toEqual([]);
      });

      it("stores no plaintext in any column of any table", async () => {
        const dump = await dumpAllRows(storage);
        expect(dump).toContain(visible);
        expect(leaks(Buffer.from(dump), marker)).toEqual([]);
      });

      it("leaves no plaintext in the database file after closing and checkpointing", async () => {
        await storage.close();
        const file = database.file as string;
        const main = readFileSync(file);
        expect(leaks(main, visible)).toContain(0);
        expect(leaks(main, marker)).toEqual([]);
        expect(leaks(readIfExists(`${file}-wal`), marker)).toEqual([]);
        expect(leaks(readIfExists(`${file}-shm`), marker)).toEqual([]);
        // Reopen for afterAll and any later test.
        storage = openDatabase(database.url);
      });
    });

    describe.runIf(backend.engine === "postgres")("in the PostgreSQL tables", () => {
      let fresh: Awaited<ReturnType<typeof openFreshStorage>>;
      const marker = newMarker();
      const visible = newMarker();

      beforeAll(async () => {
        fresh = await openFreshStorage(backend);
        const { vault, secrets } = await openServices(fresh.storage);
        await writeMarkedSecrets(secrets, vault, marker, visible);
        expect((await secrets.get(vault, "exact")).value).toBe(marker);
      });

      afterAll(async () => {
        await fresh?.dispose();
      });

      it("stores no plaintext in any column of any table", async () => {
        const dump = await dumpAllRows(fresh.storage);
        expect(dump).toContain(visible);
        // Sealed values print as bytea hex starting with the format byte.
        expect(dump).toMatch(/\\x01[0-9a-f]{200,}/);
        expect(leaks(Buffer.from(dump), marker)).toEqual([]);
      });
    });

    describe("the sealing context", () => {
      let fresh: Awaited<ReturnType<typeof openFreshStorage>>;
      let vault: Vault;
      let secrets: SecretService;
      let store: SecretStore;

      beforeAll(async () => {
        fresh = await openFreshStorage(backend);
        ({ vault, secrets } = await openServices(fresh.storage));
        store = createSqlSecretStore(fresh.storage);
      });

      afterAll(async () => {
        await fresh?.dispose();
      });

      /**
       * Writes `from`'s sealed value into a row of its own (a new version of `toName` in `toVault`), as
       * someone with write access to the database could, and checks that it does not open there.
       */
      async function expectCopyRefused(from: SecretVersion, toVault: Vault, toName: string) {
        const source = await store.findVersion(from.vaultId, from.name, from.version);
        if (!source) throw new Error(`${from.name} ${from.version} is not stored`);
        const copy: StoredSecretVersion = {
          ...source,
          vaultId: toVault.id,
          name: toName,
          version: newVersion(),
        };
        await store.addVersion(copy);
        await expect(secrets.get(toVault, toName, copy.version)).rejects.toThrow();
        expect((await secrets.get(vault, from.name, from.version)).value).toBe(`value of ${from.name}`);
      }

      it("refuses a sealed value copied into another version of the same secret", async () => {
        const set = await secrets.set(vault, "copied-version", { value: "value of copied-version" });
        await expectCopyRefused(set, vault, "copied-version");
      });

      it("refuses a sealed value copied into another secret", async () => {
        const set = await secrets.set(vault, "source", { value: "value of source" });
        await expectCopyRefused(set, vault, "target");
      });

      it("refuses a sealed value copied into a secret of the same name in another vault", async () => {
        const other = await openServices(fresh.storage);
        const set = await secrets.set(vault, "same-name", { value: "value of same-name" });
        await expectCopyRefused(set, other.vault, "same-name");
      });

      it("refuses to open a value with a different master key", async () => {
        const set = await secrets.set(vault, "keyed", { value: "value of keyed" });
        const stored = await store.findVersion(vault.id, "keyed", set.version);
        if (!stored) throw new Error("keyed is not stored");
        const otherKey = masterKeyFrom(randomBytes(32));
        const stranger = createSecretService({
          store,
          sealer: createAesGcmSealer(otherKey),
          clock: systemClock,
        });
        await expect(stranger.get(vault, "keyed")).rejects.toThrow(/different master key/);

        // Put a value back in its own row (same vault, name and version) by purging and restoring.
        const replace = async (sealedValue: Buffer) => {
          await secrets.remove(vault, "keyed");
          await secrets.purge(vault, "keyed");
          await store.restore([{ ...stored, sealedValue }]);
        };
        // Relabelling the value with the other key's id does not help: the wrapped data key fails to open.
        const relabelled = Buffer.from(stored.sealedValue);
        otherKey.id.copy(relabelled, 1);
        await replace(relabelled);
        await expect(stranger.get(vault, "keyed")).rejects.toThrow();
        await expect(secrets.get(vault, "keyed")).rejects.toThrow(/different master key/);

        await replace(stored.sealedValue);
        expect((await secrets.get(vault, "keyed")).value).toBe("value of keyed");
      });
    });
  });
}

// An issuer's credentials password (an ACME issuer's EAB HMAC key, a CA account's secret) is sealed
// as secret values are; its account id is stored in clear, which proves the search sees the row.
for (const backend of backends) {
  describe.skipIf(!backend.available)(`issuer credentials at rest on ${backend.engine}`, () => {
    let database: TestDatabase;
    let server: InProcess;
    const passwords = [newMarker(), newMarker()];
    const account = newMarker();

    beforeAll(async () => {
      database = await backend.createDatabase();
      server = await startInProcess({ database: database.url });
      const put = await server.kv({
        method: "PUT",
        url: "/certificates/issuers/sealed-issuer?api-version=7.6",
        body: { provider: "ACME", credentials: { account_id: account, pwd: passwords[0] } },
      });
      expect(put.statusCode, put.body).toBe(200);
      expect(put.body).not.toContain(passwords[0]);
      const patch = await server.kv({
        method: "PATCH",
        url: "/certificates/issuers/sealed-issuer?api-version=7.6",
        body: { credentials: { pwd: passwords[1] } },
      });
      expect(patch.statusCode, patch.body).toBe(200);
    });

    afterAll(async () => {
      await server?.stop();
      await database?.drop();
    });

    it.runIf(backend.engine === "sqlite")(
      "writes no password to the database file or its write-ahead log",
      async () => {
        const file = database.file as string;
        const bytes = Buffer.concat([readFileSync(file), readIfExists(`${file}-wal`)]);
        expect(leaks(bytes, account)).toContain(0);
        for (const password of passwords) expect(leaks(bytes, password)).toEqual([]);
      },
    );

    it("stores no password in any column of any table", async () => {
      const storage = openDatabase(database.url);
      try {
        const dump = await dumpAllRows(storage);
        expect(dump).toContain(account);
        for (const password of passwords) expect(leaks(Buffer.from(dump), password)).toEqual([]);
      } finally {
        await storage.close();
      }
    });
  });
}
