import { randomBytes } from "node:crypto";
import { sql } from "kysely";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createAesGcmSealer } from "../../src/crypto/aes-gcm-sealer.js";
import { createHmacAuditChain } from "../../src/crypto/hmac-audit-chain.js";
import { masterKeyFrom } from "../../src/crypto/master-key.js";
import { createAuditService } from "../../src/domain/audit/audit-service.js";
import type { AuditEntry, AuditRecord } from "../../src/domain/audit/model.js";
import type { Clock } from "../../src/domain/clock.js";
import { DomainError } from "../../src/domain/errors.js";
import { newId } from "../../src/domain/ids.js";
import type { Page } from "../../src/domain/paging.js";
import type { SecretVersion } from "../../src/domain/secrets/model.js";
import { createSecretService, type SecretService } from "../../src/domain/secrets/secret-service.js";
import type { Vault } from "../../src/domain/vaults/model.js";
import { createVaultService, type VaultService } from "../../src/domain/vaults/vault-service.js";
import { migrate, openDatabase, type StorageHandle } from "../../src/storage/database.js";
import { createSqlAuditStore } from "../../src/storage/sql-audit-store.js";
import { createSqlPrincipalStore } from "../../src/storage/sql-principal-store.js";
import { createSqlSecretStore } from "../../src/storage/sql-secret-store.js";
import { createSqlSettingsStore } from "../../src/storage/sql-settings-store.js";
import { createSqlVaultStore } from "../../src/storage/sql-vault-store.js";
import { writeTransaction } from "../../src/storage/transactions.js";
import { backends, dumpAllRows, openFreshStorage } from "../support/backends.js";

const DAY_MS = 86_400_000;
const masterKey = masterKeyFrom(randomBytes(32));
const chain = createHmacAuditChain(masterKey);

/** A clock that only moves when told to, so stored times can be compared exactly. */
function manualClock(start = Date.UTC(2025, 0, 1, 12, 0, 0, 123)) {
  let now = start;
  const clock: Clock = { now: () => new Date(now) };
  return { clock, advance: (ms: number) => (now += ms) };
}

/** A vault name no other test uses (3-24 characters, starting with a letter). */
const uniqueVaultName = () => `v-${randomBytes(6).toString("hex")}`;

/** Follows `next` from the first page until there is none, as a client would. */
async function allPages<T>(fetch: (after: string | undefined) => Promise<Page<T>>): Promise<T[][]> {
  const pages: T[][] = [];
  let after: string | undefined;
  for (let i = 0; i < 100; i++) {
    const page = await fetch(after);
    pages.push(page.items);
    if (page.next === undefined) return pages;
    after = page.next;
  }
  throw new Error("paging did not end after 100 pages");
}

/** The DomainError a promise rejects with; fails the test when it resolves or throws something else. */
async function domainError(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

/**
 * What a listing, deletion or recovery returns, made comparable with what `set` returned: the store
 * may leave an empty payload placeholder on such results, but never the sealed value itself.
 */
function comparable(version: SecretVersion): SecretVersion {
  const { sealedValue, ...rest } = version as SecretVersion & { sealedValue?: Buffer };
  expect(sealedValue === undefined || sealedValue.length === 0).toBe(true);
  return rest;
}

function auditEntry(i: number, overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    time: new Date(Date.UTC(2025, 0, 1) + i * 1000 + 7),
    requestId: `req-${i}`,
    // Every other row leaves the optional fields out, so NULL must read back as absent on both engines.
    ...(i % 2 === 0 && {
      principalId: "principal-1",
      clientId: "client-1",
      vault: "default",
      objectId: `https://default.vault.local/secrets/s${i}`,
      version: "0".repeat(32),
      detail: "SecretNotFound",
    }),
    operation: i % 3 === 0 ? "SecretGet" : "SecretSet",
    outcome: i % 5 === 0 ? "failure" : "success",
    status: i % 5 === 0 ? 404 : 200,
    clientAddress: "127.0.0.1",
    ...overrides,
  };
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`the storage contract on ${backend.engine}`, () => {
    let fresh: Awaited<ReturnType<typeof openFreshStorage>>;
    let storage: StorageHandle;
    let time: ReturnType<typeof manualClock>;
    let vaults: VaultService;
    let secrets: SecretService;

    beforeAll(async () => {
      fresh = await openFreshStorage(backend);
      storage = fresh.storage;
      time = manualClock();
      vaults = createVaultService({ store: createSqlVaultStore(storage), clock: time.clock });
      secrets = createSecretService({
        store: createSqlSecretStore(storage),
        sealer: createAesGcmSealer(masterKey),
        clock: time.clock,
      });
    });

    afterAll(async () => {
      await fresh?.dispose();
    });

    describe("migrations", () => {
      it("applies the migrations once and does nothing when run again", async () => {
        const database = await backend.createDatabase();
        try {
          const first = openDatabase(database.url);
          expect(await migrate(first)).toEqual([
            "0001-foundation",
            "0002-certificates",
            "0003-jobs",
            "0004-access",
            "0005-ca",
            "0006-acme",
            "0007-audit-rowid",
            "0008-audit-proof",
            "0009-inventory",
            "0010-discovery",
            "0011-remote-vaults",
            "0012-rules",
            "0013-alerts",
            "0014-acme-server",
            "0015-enrollment",
            "0016-approvals",
            "0017-campaigns",
            "0018-operation-approval",
            "0019-approval-issued",
            "0021-ui-sign-in",
            "0023-acme-server-gaps",
            "0024-discovery-certificates",
            "0025-location-changes",
            "0026-campaign-claims",
            "0027-deployments",
            "0028-signing-leases",
            "0029-campaign-abandoned-claims",
            "0030-campaign-claim-order",
          ]);
          expect(await migrate(first)).toEqual([]);
          await createSqlSettingsStore(first).putIfAbsent("survives", "yes");
          await first.close();

          const second = openDatabase(database.url);
          try {
            expect(await migrate(second)).toEqual([]);
            expect(await createSqlSettingsStore(second).get("survives")).toEqual({ value: "yes" });
            const heads = await second.audit.db.selectFrom("audit_head").selectAll().execute();
            expect(heads).toEqual([
              { id: 1, seq: 0, hash: "0".repeat(64), base_seq: 0, base_hash: "0".repeat(64), mac: null },
            ]);
          } finally {
            await second.close();
          }
        } finally {
          await database.drop();
        }
      });
    });

    describe.runIf(backend.engine === "sqlite")("the audit file", () => {
      const legacyTables = async (handle: StorageHandle, rows: number) => {
        await sql`create table audit_log (seq integer primary key, time bigint not null,
          request_id text not null, principal_id text, client_id text, vault text,
          operation text not null, object_id text, version text, outcome text not null,
          status integer not null, client_address text not null, detail text,
          prev_hash text not null, hash text not null)`.execute(handle.db);
        await sql`create table audit_head (id integer primary key, seq bigint not null, hash text not null)`.execute(
          handle.db,
        );
        for (let seq = 1; seq <= rows; seq++) {
          await sql`insert into audit_log values (${seq}, ${seq}, ${`legacy-${seq}`}, null, null, null,
            'SecretGet', null, null, 'success', 200, '127.0.0.1', null, ${`h${seq - 1}`}, ${`h${seq}`})`.execute(
            handle.db,
          );
        }
        await sql`insert into audit_head values (1, ${rows}, ${`h${rows}`})`.execute(handle.db);
      };
      const mainTables = async (handle: StorageHandle) =>
        (
          await sql<{
            name: string;
            // audit_changes belongs beside the changes it records; the log itself does not.
          }>`select name from sqlite_master where name in ('audit_log', 'audit_head') order by name`.execute(
            handle.db,
          )
        ).rows.map((r) => r.name);

      it("keeps the audit log out of the database file", async () => {
        const database = await backend.createDatabase();
        const handle = openDatabase(database.url);
        try {
          await migrate(handle);
          expect(await mainTables(handle)).toEqual([]);
          expect(await handle.audit.db.selectFrom("audit_head").selectAll().execute()).toHaveLength(1);
        } finally {
          await handle.close();
          await database.drop();
        }
      });

      it("moves an audit log kept in the database file by an earlier version into the audit file", async () => {
        const database = await backend.createDatabase();
        const handle = openDatabase(database.url);
        try {
          await migrate(handle);
          await legacyTables(handle, 3);
          await migrate(handle);
          expect(await mainTables(handle)).toEqual([]);
          const store = createSqlAuditStore(handle);
          expect((await store.read(0, 10)).map((r) => r.requestId)).toEqual([
            "legacy-1",
            "legacy-2",
            "legacy-3",
          ]);
          expect(await store.head()).toMatchObject({ seq: 3, hash: "h3" });
        } finally {
          await handle.close();
          await database.drop();
        }
      });

      it("does not copy the old log twice when a move stopped after the copy", async () => {
        const database = await backend.createDatabase();
        const handle = openDatabase(database.url);
        try {
          await migrate(handle);
          await legacyTables(handle, 2);
          await migrate(handle);
          // As if the old tables had survived the copy.
          await legacyTables(handle, 2);
          await migrate(handle);
          expect(await mainTables(handle)).toEqual([]);
          expect((await createSqlAuditStore(handle).read(0, 10)).map((r) => r.seq)).toEqual([1, 2]);
        } finally {
          await handle.close();
          await database.drop();
        }
      });
    });

    it.runIf(backend.engine === "sqlite")(
      "lets a second connection wait for the write lock without stopping the event loop",
      async () => {
        const second = openDatabase(fresh.database.url);
        try {
          let release: () => void = () => undefined;
          const held = new Promise<void>((resolve) => {
            release = resolve;
          });
          let entered: () => void = () => undefined;
          const inside = new Promise<void>((resolve) => {
            entered = resolve;
          });
          const first = writeTransaction(storage, async (trx) => {
            await createSqlSettingsStore({ ...storage, db: trx }).putIfAbsent("lock-first", "1");
            entered();
            await held;
          });
          await inside;
          const waiting = writeTransaction(second, async (trx) => {
            await createSqlSettingsStore({ ...second, db: trx }).putIfAbsent("lock-second", "2");
          });
          // SQLite's busy handler would sleep here, on this thread, until the first commit, which
          // itself needs this thread: a timer firing proves the loop ran while the second waited.
          await new Promise((resolve) => setTimeout(resolve, 30));
          release();
          await Promise.all([first, waiting]);
          expect(await createSqlSettingsStore(storage).get("lock-second")).toEqual({ value: "2" });
        } finally {
          await second.close();
        }
      },
    );

    it.runIf(backend.engine === "postgres")(
      "keeps serving after PostgreSQL drops one of its idle connections",
      async () => {
        const pidOf = async (handle: StorageHandle) =>
          (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(handle.db)).rows[0]?.pid;
        const node = openDatabase(fresh.database.url, { poolSize: 1 });
        try {
          const pid = await pidOf(node);
          await sql`select pg_terminate_backend(${pid})`.execute(storage.db);
          await expect
            .poll(
              async () =>
                (await sql`select 1 from pg_stat_activity where pid = ${pid}`.execute(storage.db)).rows
                  .length,
            )
            .toBe(0);
          // Let the client read the server's goodbye before it is asked for the next query.
          await new Promise((resolve) => setTimeout(resolve, 100));
          const next = await pidOf(node);
          expect(next).toBeDefined();
          expect(next).not.toBe(pid);
        } finally {
          await node.close();
        }
      },
    );

    describe("vaults", () => {
      it("inserts a vault and finds it by name in any case", async () => {
        const name = uniqueVaultName();
        const created = await vaults.create(name, { softDeleteRetentionDays: 30, sku: "premium" });
        expect(await vaults.find(name.toUpperCase())).toEqual(created);
        expect(created).toMatchObject({
          name,
          sku: "premium",
          softDeleteRetentionDays: 30,
          purgeProtection: false,
          createdAt: time.clock.now(),
        });
      });

      it("answers undefined for a vault that does not exist", async () => {
        expect(await vaults.find(uniqueVaultName())).toBeUndefined();
        const error = await domainError(vaults.get(uniqueVaultName()));
        expect(error.code).toBe("NotFound");
      });

      it("lists vaults ordered by name", async () => {
        const names = [uniqueVaultName(), uniqueVaultName(), uniqueVaultName()];
        for (const name of names) await vaults.create(name);
        const listed = (await vaults.list()).map((v) => v.name);
        const ours = listed.filter((n) => names.includes(n));
        expect(ours).toEqual([...names].sort());
        expect(listed).toEqual([...listed].sort());
      });

      it("refuses a second vault with the same name", async () => {
        const name = uniqueVaultName();
        await vaults.create(name);
        const error = await domainError(vaults.create(name.toUpperCase()));
        expect(error.code).toBe("Conflict");
        expect((await vaults.list()).filter((v) => v.name === name)).toHaveLength(1);
      });

      it("updates a vault's settings and keeps its creation time", async () => {
        const name = uniqueVaultName();
        const created = await vaults.create(name);
        time.advance(60_000);
        const updated = await vaults.update(name, { softDeleteRetentionDays: 7, purgeProtection: true });
        const found = await vaults.get(name);
        expect(found).toEqual(updated);
        expect(found).toMatchObject({
          id: created.id,
          softDeleteRetentionDays: 7,
          purgeProtection: true,
          createdAt: created.createdAt,
          updatedAt: new Date(created.createdAt.getTime() + 60_000),
        });
      });

      it("removes a vault together with its secrets", async () => {
        const name = uniqueVaultName();
        const vault = await vaults.create(name);
        const live = await secrets.set(vault, "kept-nowhere", { value: "a" });
        const deleted = await secrets.set(vault, "deleted-one", { value: "b" });
        await secrets.remove(vault, "deleted-one");
        expect(await dumpAllRows(storage)).toContain(vault.id);
        await vaults.remove(name);

        expect(await vaults.find(name)).toBeUndefined();
        // Events stay: they record what happened and are delivered after the objects are gone.
        const left = await dumpAllRows(storage, ["events"]);
        for (const trace of [vault.id, live.version, deleted.version]) expect(left).not.toContain(trace);
        const recreated = await vaults.create(name);
        expect(recreated.id).not.toBe(vault.id);
        expect((await secrets.list(recreated, undefined, undefined)).items).toEqual([]);
      });
    });

    describe("secrets", () => {
      let vault: Vault;
      beforeEach(async () => {
        vault = await vaults.create(uniqueVaultName(), { softDeleteRetentionDays: 14 });
      });

      it("adds versions and points the latest at the newest", async () => {
        const v1 = await secrets.set(vault, "db-password", { value: "one" });
        const v2 = await secrets.set(vault, "db-password", { value: "two" });
        const v3 = await secrets.set(vault, "db-password", { value: "three" });
        const latest = await secrets.get(vault, "db-password");
        expect(latest.value).toBe("three");
        expect(latest.secret).toEqual(v3);
        expect(new Set([v1.version, v2.version, v3.version]).size).toBe(3);
      });

      it("keeps the latest pointer on the newest version when many versions are added at once", async () => {
        await Promise.all(
          Array.from({ length: 20 }, (_, i) => secrets.set(vault, "contended", { value: `value-${i}` })),
        );
        const versions = await allPages((after) => secrets.listVersions(vault, "contended", after, 25));
        const all = versions.flat();
        expect(all).toHaveLength(20);
        const latest = await secrets.get(vault, "contended");
        expect(latest.secret.version).toBe(all[all.length - 1]?.version);
      });

      it("finds each version by its id", async () => {
        const v1 = await secrets.set(vault, "rotated", { value: "one" });
        const v2 = await secrets.set(vault, "rotated", { value: "two" });
        expect(await secrets.get(vault, "rotated", v1.version)).toEqual({ secret: v1, value: "one" });
        expect(await secrets.get(vault, "rotated", v2.version)).toEqual({ secret: v2, value: "two" });
        const missing = await domainError(secrets.get(vault, "rotated", "f".repeat(32)));
        expect(missing.code).toBe("NotFound");
      });

      it("round-trips every attribute exactly", async () => {
        const set = await secrets.set(vault, "attributes", {
          value: "v",
          contentType: "application/x-pem-file",
          tags: { env: "prod", "owner name": "ünïcødé team" },
          enabled: true,
          notBefore: new Date(Date.UTC(2024, 5, 1, 0, 0, 0, 1)),
          expiresAt: new Date(Date.UTC(2030, 5, 1, 23, 59, 59, 999)),
        });
        const got = await secrets.get(vault, "attributes");
        expect(got.secret).toEqual(set);
        expect(got.secret).toMatchObject({
          vaultId: vault.id,
          name: "attributes",
          managed: false,
          createdAt: time.clock.now(),
          updatedAt: time.clock.now(),
        });
        expect(got.secret.keyId).toBeUndefined();
      });

      it("treats secret names case-insensitively", async () => {
        const first = await secrets.set(vault, "MySecret", { value: "mixed case" });
        const got = await secrets.get(vault, "mysecret");
        expect(got.value).toBe("mixed case");
        expect(got.secret.version).toBe(first.version);

        await secrets.set(vault, "MYSECRET", { value: "upper case" });
        expect((await secrets.get(vault, "mySECRET")).value).toBe("upper case");
        const versions = await secrets.listVersions(vault, "mysecret", undefined, undefined);
        expect(versions.items).toHaveLength(2);
        expect(versions.items.every((v) => v.name === "MySecret")).toBe(true);
      });

      it("keeps secrets of the same name in different vaults apart", async () => {
        const other = await vaults.create(uniqueVaultName());
        await secrets.set(vault, "shared-name", { value: "in the first vault" });
        await secrets.set(other, "shared-name", { value: "in the second vault" });
        expect((await secrets.get(vault, "shared-name")).value).toBe("in the first vault");
        expect((await secrets.get(other, "shared-name")).value).toBe("in the second vault");
        await secrets.remove(other, "shared-name");
        expect((await secrets.get(vault, "shared-name")).value).toBe("in the first vault");
      });

      it("updates the attributes of one version and leaves the others alone", async () => {
        const v1 = await secrets.set(vault, "updatable", { value: "one", tags: { a: "1" } });
        const v2 = await secrets.set(vault, "updatable", { value: "two" });
        time.advance(5_000);
        const expiresAt = new Date(time.clock.now().getTime() + 30 * DAY_MS);
        const updated = await secrets.update(vault, "updatable", v1.version, {
          enabled: false,
          tags: { a: "2", b: "3" },
          contentType: "text/plain",
          expiresAt,
        });
        expect(updated).toMatchObject({ enabled: false, tags: { a: "2", b: "3" }, expiresAt });

        const stored = await createSqlSecretStore(storage).findVersion(vault.id, "updatable", v1.version);
        expect(stored).toMatchObject({
          enabled: false,
          tags: { a: "2", b: "3" },
          contentType: "text/plain",
          expiresAt,
          createdAt: v1.createdAt,
          updatedAt: time.clock.now(),
        });
        const disabled = await domainError(secrets.get(vault, "updatable", v1.version));
        expect(disabled.code).toBe("Forbidden");
        expect(await secrets.get(vault, "updatable")).toEqual({ secret: v2, value: "two" });

        const cleared = await secrets.update(vault, "updatable", v1.version, { expiresAt: null });
        expect(cleared.expiresAt).toBeUndefined();
        const reread = await createSqlSecretStore(storage).findVersion(vault.id, "updatable", v1.version);
        expect(reread?.expiresAt).toBeUndefined();
      });

      it("pages through the latest versions without duplicates or gaps", async () => {
        const names = ["echo", "Alpha", "delta", "charlie-2", "bravo"];
        for (const name of names) {
          await secrets.set(vault, name, { value: `${name} old` });
          await secrets.set(vault, name, { value: `${name} new` });
        }
        const pages = await allPages((after) => secrets.list(vault, after, 2));
        expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
        const listed = pages.flat();
        expect(listed.map((s) => s.name)).toEqual(["Alpha", "bravo", "charlie-2", "delta", "echo"]);
        for (const item of listed) {
          expect(comparable(item)).toEqual((await secrets.get(vault, item.name)).secret);
        }
      });

      it("pages through the versions of a secret in the order they were added", async () => {
        const added: SecretVersion[] = [];
        for (let i = 0; i < 5; i++) added.push(await secrets.set(vault, "many-versions", { value: `${i}` }));
        await secrets.set(vault, "other-secret", { value: "not listed" });
        const pages = await allPages((after) => secrets.listVersions(vault, "many-versions", after, 2));
        expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
        expect(pages.flat().map(comparable)).toEqual(added);
      });

      it("ends the listing without a continuation when the last page is exactly full", async () => {
        for (const name of ["a", "b", "c", "d"]) await secrets.set(vault, name, { value: name });
        const pages = await allPages((after) => secrets.list(vault, after, 2));
        expect(pages.map((p) => p.map((s) => s.name))).toEqual([
          ["a", "b"],
          ["c", "d"],
        ]);
      });

      it("soft-deletes a secret into the deleted listing", async () => {
        const latest = await secrets.set(vault, "to-delete", { value: "x" });
        await secrets.set(vault, "stays", { value: "y" });
        const deleted = await secrets.remove(vault, "TO-DELETE");
        expect({ ...deleted, latest: comparable(deleted.latest) }).toEqual({
          latest,
          deletedAt: time.clock.now(),
          scheduledPurgeAt: new Date(time.clock.now().getTime() + 14 * DAY_MS),
        });

        expect((await domainError(secrets.get(vault, "to-delete"))).code).toBe("NotFound");
        expect((await domainError(secrets.get(vault, "to-delete", latest.version))).code).toBe("NotFound");
        expect((await domainError(secrets.listVersions(vault, "to-delete", undefined, 25))).code).toBe(
          "NotFound",
        );
        expect(await secrets.getDeleted(vault, "to-delete")).toEqual(deleted);
        expect((await secrets.list(vault, undefined, undefined)).items.map((s) => s.name)).toEqual(["stays"]);
        const listed = (await secrets.listDeleted(vault, undefined, undefined)).items;
        expect(listed.map((d) => ({ ...d, latest: comparable(d.latest) }))).toEqual([{ ...deleted, latest }]);
        expect((await domainError(secrets.remove(vault, "to-delete"))).code).toBe("NotFound");
      });

      it("pages through deleted secrets without duplicates or gaps", async () => {
        const names = ["d1", "d2", "d3", "d4", "d5"];
        for (const name of names) {
          await secrets.set(vault, name, { value: name });
          await secrets.remove(vault, name);
        }
        await secrets.set(vault, "alive", { value: "not deleted" });
        const pages = await allPages((after) => secrets.listDeleted(vault, after, 2));
        expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
        expect(pages.flat().map((d) => d.latest.name)).toEqual(names);
      });

      it("refuses to reuse the name of a deleted secret", async () => {
        await secrets.set(vault, "Reused", { value: "original" });
        await secrets.remove(vault, "Reused");
        for (const name of ["Reused", "reused"]) {
          const error = await domainError(secrets.set(vault, name, { value: "replacement" }));
          expect(error.code).toBe("Conflict");
          expect(error.reason).toBe("ObjectIsDeletedButRecoverable");
        }
        const stillDeleted = await secrets.getDeleted(vault, "reused");
        expect(stillDeleted.latest.name).toBe("Reused");
      });

      it("recovers a deleted secret with all its versions", async () => {
        const v1 = await secrets.set(vault, "recoverable", { value: "one" });
        const v2 = await secrets.set(vault, "recoverable", { value: "two" });
        await secrets.remove(vault, "recoverable");
        expect(comparable(await secrets.recover(vault, "Recoverable"))).toEqual(v2);

        expect(await secrets.get(vault, "recoverable")).toEqual({ secret: v2, value: "two" });
        expect((await secrets.get(vault, "recoverable", v1.version)).value).toBe("one");
        expect((await domainError(secrets.getDeleted(vault, "recoverable"))).code).toBe("NotFound");
        expect((await secrets.listDeleted(vault, undefined, undefined)).items).toEqual([]);
        expect((await domainError(secrets.recover(vault, "recoverable"))).code).toBe("NotFound");
        await secrets.set(vault, "recoverable", { value: "three" });
        expect((await secrets.get(vault, "recoverable")).value).toBe("three");
      });

      it("purges a deleted secret and every one of its versions", async () => {
        const purged: SecretVersion[] = [];
        for (const value of ["one", "two", "three"])
          purged.push(await secrets.set(vault, "purged", { value }));
        const neighbour = await secrets.set(vault, "neighbour", { value: "kept" });
        await secrets.remove(vault, "purged");
        await secrets.purge(vault, "PURGED");

        const left = await dumpAllRows(storage, ["events"]);
        expect(left).toContain(neighbour.version);
        for (const version of purged) expect(left).not.toContain(version.version);
        expect((await domainError(secrets.getDeleted(vault, "purged"))).code).toBe("NotFound");
        expect((await domainError(secrets.purge(vault, "purged"))).code).toBe("NotFound");

        const reborn = await secrets.set(vault, "purged", { value: "new life" });
        const versions = (await secrets.listVersions(vault, "purged", undefined, undefined)).items;
        expect(versions.map(comparable)).toEqual([reborn]);
      });

      it("hands back the payload of every version it purges, for the caller to destroy", async () => {
        const store = createSqlSecretStore(storage);
        const sealed: string[] = [];
        for (const value of ["one", "two", "three"]) {
          const set = await secrets.set(vault, "handed-back", { value });
          const stored = await store.findVersion(vault.id, "handed-back", set.version);
          sealed.push(stored?.sealedValue.toString("hex") ?? "missing");
        }
        await secrets.remove(vault, "handed-back");
        const payloads = await store.purgeVersions(vault.id, "handed-back");
        expect(payloads?.map((p) => p.toString("hex")).sort()).toEqual(sealed.sort());
      });

      it("refuses to purge a secret that is not deleted", async () => {
        await secrets.set(vault, "live", { value: "x" });
        expect((await domainError(secrets.purge(vault, "live"))).code).toBe("NotFound");
        expect((await secrets.get(vault, "live")).value).toBe("x");
      });

      it("refuses to restore a backup over a live or deleted secret of the same name", async () => {
        await secrets.set(vault, "backed-up", { value: "one" });
        const v2 = await secrets.set(vault, "backed-up", { value: "two" });
        const blob = await secrets.backup(vault, "backed-up");

        const live = await domainError(secrets.restore(vault, blob));
        expect(live.code).toBe("Conflict");
        expect(live.reason).toBe("SecretAlreadyExists");

        await secrets.remove(vault, "backed-up");
        const deleted = await domainError(secrets.restore(vault, blob));
        expect(deleted.code).toBe("Conflict");
        expect(deleted.reason).toBe("ObjectIsDeletedButRecoverable");

        await secrets.purge(vault, "backed-up");
        expect(await secrets.restore(vault, blob)).toEqual(v2);
        const versions = (await secrets.listVersions(vault, "backed-up", undefined, undefined)).items;
        expect(versions).toHaveLength(2);
        expect(
          await Promise.all(versions.map(async (v) => (await secrets.get(vault, v.name, v.version)).value)),
        ).toEqual(["one", "two"]);
      });

      it("restores a backup into another vault", async () => {
        await secrets.set(vault, "moved", { value: "travels" });
        const blob = await secrets.backup(vault, "moved");
        const other = await vaults.create(uniqueVaultName());
        await secrets.restore(other, blob);
        expect((await secrets.get(other, "moved")).value).toBe("travels");
        expect((await secrets.get(vault, "moved")).value).toBe("travels");
      });
    });

    describe("principals", () => {
      it("stores a principal with its client secret and finds it by client id", async () => {
        const store = createSqlPrincipalStore(storage);
        const principal = {
          id: newId(),
          clientId: newId(),
          displayName: "deploy bot",
          kind: "servicePrincipal" as const,
          enabled: true,
          createdAt: time.clock.now(),
        };
        const secret = {
          id: newId(),
          principalId: principal.id,
          hash: "scrypt$not-a-real-hash",
          hint: "abc",
          expiresAt: new Date(time.clock.now().getTime() + DAY_MS),
          createdAt: time.clock.now(),
        };
        await store.insert(principal, secret);
        expect(await store.findByClientId(principal.clientId)).toEqual({
          principal,
          secrets: [secret],
          certificates: [],
          federated: [],
        });
        expect(await store.findByClientId(newId())).toBeUndefined();
        expect((await store.list()).map((p) => p.id)).toContain(principal.id);
      });
    });

    describe("settings", () => {
      it("keeps the first value written for a key", async () => {
        const settings = createSqlSettingsStore(storage);
        const sealed = randomBytes(48);
        expect(await settings.putIfAbsent("signing-key", "first", sealed)).toEqual({
          value: "first",
          sealed,
        });
        expect(await settings.putIfAbsent("signing-key", "second", randomBytes(48))).toEqual({
          value: "first",
          sealed,
        });
        expect(await settings.get("signing-key")).toEqual({ value: "first", sealed });
        expect(await settings.get("never-written")).toBeUndefined();
      });

      it("gives every concurrent writer the same winning value", async () => {
        const settings = createSqlSettingsStore(storage);
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => settings.putIfAbsent("tenant-id", `candidate-${i}`)),
        );
        const winner = results[0];
        expect(winner?.value).toMatch(/^candidate-\d+$/);
        expect(results.every((r) => r.value === winner?.value && r.sealed === undefined)).toBe(true);
      });
    });

    describe("audit", () => {
      let audit: Awaited<ReturnType<typeof openFreshStorage>>;
      beforeEach(async () => {
        // The chain is one per database, so each test gets a database of its own.
        audit = await openFreshStorage(backend);
      });
      afterEach(async () => {
        await audit?.dispose();
      });

      it("appends entries in several batches and reads them back in order", async () => {
        const store = createSqlAuditStore(audit.storage);
        const service = createAuditService({ store, chain });
        const entries = Array.from({ length: 12 }, (_, i) => auditEntry(i + 1));
        for (const batch of [entries.slice(0, 3), entries.slice(3, 4), entries.slice(4)]) {
          await Promise.all(batch.map((e) => service.record(e)));
          await service.drain();
        }
        await store.append([], chain);

        const records: AuditRecord[] = [];
        for await (const record of service.records()) records.push(record);
        expect(records.map((r) => r.seq)).toEqual(entries.map((_, i) => i + 1));
        records.forEach((record, i) => {
          const { seq: _seq, prevHash, hash, ...entry } = record;
          expect(entry).toEqual(entries[i]);
          expect(prevHash).toBe(i === 0 ? "0".repeat(64) : records[i - 1]?.hash);
          expect(hash).toBe(chain.link(prevHash, i + 1, entries[i] as AuditEntry));
        });
        expect(await store.head()).toMatchObject({ seq: 12, hash: records[11]?.hash });
        expect(await store.read(10, 100)).toEqual(records.slice(10));
        expect(await service.verify()).toEqual({ intact: true, rows: 12 });
      });

      it("reports an empty log as intact", async () => {
        const service = createAuditService({ store: createSqlAuditStore(audit.storage), chain });
        // As every start does: a new installation's head gets its MAC before the first row.
        await service.keyHead();
        expect(await service.verify()).toEqual({ intact: true, rows: 0 });
      });

      it("keeps a gapless chain when many requests record at once", async () => {
        const service = createAuditService({ store: createSqlAuditStore(audit.storage), chain });
        await Promise.all(Array.from({ length: 300 }, (_, i) => service.record(auditEntry(i))));
        expect(await service.verify()).toEqual({ intact: true, rows: 300 });
        const seqs = (await createSqlAuditStore(audit.storage).read(0, 1000)).map((r) => r.seq);
        expect(seqs).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
      });

      it("keeps one chain when many writers append to the store at once", async () => {
        const store = createSqlAuditStore(audit.storage);
        const services = Array.from({ length: 4 }, () => createAuditService({ store, chain }));
        await Promise.all([
          ...Array.from({ length: 20 }, (_, w) =>
            store.append(
              Array.from({ length: 5 }, (_, i) => auditEntry(w * 5 + i, { requestId: `direct-${w}-${i}` })),
              chain,
            ),
          ),
          ...services.flatMap((service, s) =>
            Array.from({ length: 50 }, (_, i) =>
              service.record(auditEntry(i, { requestId: `svc-${s}-${i}` })),
            ),
          ),
        ]);
        const verdict = await services[0]?.verify();
        expect(verdict).toEqual({ intact: true, rows: 300 });
        const requestIds = (await store.read(0, 1000)).map((r) => r.requestId);
        expect(new Set(requestIds).size).toBe(300);
      });

      it("keeps one chain when two nodes (or processes on one SQLite file) append at once", async () => {
        const nodes = [openDatabase(audit.database.url), openDatabase(audit.database.url)];
        try {
          const services = nodes.map((node) =>
            createAuditService({ store: createSqlAuditStore(node), chain }),
          );
          await Promise.all(
            services.flatMap((service, n) =>
              Array.from({ length: 250 }, (_, i) =>
                service.record(auditEntry(i, { requestId: `node-${n}-${i}` })),
              ),
            ),
          );
          for (const service of services) expect(await service.verify()).toEqual({ intact: true, rows: 500 });
          const rows = await createSqlAuditStore(audit.storage).read(0, 1000);
          expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
          expect(new Set(rows.map((r) => r.requestId)).size).toBe(500);
        } finally {
          await Promise.all(nodes.map((node) => node.close()));
        }
      });
    });
  });
}
