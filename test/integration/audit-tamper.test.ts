import { createHash, randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createAesGcmSealer } from "../../src/crypto/aes-gcm-sealer.js";
import { createEd25519AuditSigner, newSealedAuditKey } from "../../src/crypto/ed25519-audit-signer.js";
import { createHmacAuditChain } from "../../src/crypto/hmac-audit-chain.js";
import { masterKeyFrom } from "../../src/crypto/master-key.js";
import { inAuditScope } from "../../src/domain/audit/audit-scope.js";
import { type AuditService, createAuditService } from "../../src/domain/audit/audit-service.js";
import type { AuditEntry } from "../../src/domain/audit/model.js";
import { createChangeAudit } from "../../src/storage/change-audit.js";
import type { Database } from "../../src/storage/schema.js";
import { createSqlAuditStore } from "../../src/storage/sql-audit-store.js";
import { writeTransaction } from "../../src/storage/transactions.js";
import { backends, openFreshStorage } from "../support/backends.js";

const ROWS = 6;
const masterKey = masterKeyFrom(randomBytes(32));
const chain = createHmacAuditChain(masterKey);
const sealer = createAesGcmSealer(masterKey);
const signer = createEd25519AuditSigner(sealer, newSealedAuditKey(sealer));

function entry(i: number): AuditEntry {
  return {
    time: new Date(Date.UTC(2025, 2, 1) + i * 60_000),
    requestId: `request-${i}`,
    ...(i % 2 === 1 && { principalId: "principal-1", clientId: "client-1" }),
    vault: "default",
    operation: "SecretGet",
    objectId: `https://localhost/secrets/s${i}`,
    outcome: "success",
    status: 200,
    clientAddress: "10.0.0.7",
  };
}

/** A row as someone with write access to the database but without the master key would forge it. */
function forgedRow(seq: number, prevHash: string): Database["audit_log"] {
  const row = {
    seq,
    time: Date.UTC(2025, 2, 1, 0, 30),
    request_id: "forged-request",
    principal_id: "principal-1",
    client_id: "client-1",
    vault: "default",
    operation: "SecretGet",
    object_id: "https://localhost/secrets/alibi",
    version: null,
    outcome: "success",
    status: 200,
    client_address: "10.0.0.7",
    detail: null,
    prev_hash: prevHash,
  };
  return { ...row, hash: createHash("sha256").update(JSON.stringify(row)).digest("hex") };
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`audit chain tampering on ${backend.engine}`, () => {
    let fresh: Awaited<ReturnType<typeof openFreshStorage>>;
    let audit: AuditService;

    const db = () => fresh.storage.audit.db;
    const hashOf = async (seq: number) =>
      (await db().selectFrom("audit_log").select("hash").where("seq", "=", seq).executeTakeFirstOrThrow())
        .hash;
    /** Moves rows from `seq` on one place up, leaving `seq` free; in two steps so no key collides midway. */
    const makeRoomAt = async (seq: number) => {
      await db()
        .updateTable("audit_log")
        .set((eb) => ({ seq: eb("seq", "+", 1000) }))
        .where("seq", ">=", seq)
        .execute();
      await db()
        .updateTable("audit_log")
        .set((eb) => ({ seq: eb("seq", "-", 999) }))
        .where("seq", ">=", 1000)
        .execute();
    };

    beforeEach(async () => {
      fresh = await openFreshStorage(backend);
      audit = createAuditService({ store: createSqlAuditStore(fresh.storage), chain });
      await audit.keyHead();
      fresh.storage.changeAudit = createChangeAudit({ engine: backend.engine, audit, chain });
      await Promise.all(Array.from({ length: 3 }, (_, i) => audit.record(entry(i + 1))));
      for (let i = 4; i <= ROWS; i++) await audit.record(entry(i));
    });

    /** A change committed through the stores' transactions inside an audit scope: its intent row is the next row. */
    const change = (i: number) =>
      inAuditScope({ entry: () => ({ ...entry(i), outcome: "pending", status: 0 }), intents: 0 }, () =>
        writeTransaction(fresh.storage, (trx) =>
          trx
            .insertInto("settings")
            .values({ key: `tamper-${i}`, value: "x", sealed: null })
            .execute(),
        ),
      );

    /** Every row of the audit tables and of the changes recorded beside the stored state. */
    const snapshot = async () => ({
      rows: await db().selectFrom("audit_log").selectAll().orderBy("seq").execute(),
      head: await db().selectFrom("audit_head").selectAll().execute(),
      changes: await fresh.storage.db.selectFrom("audit_changes").selectAll().execute(),
    });
    const restoreAuditTables = async (copy: Awaited<ReturnType<typeof snapshot>>) => {
      await db().deleteFrom("audit_log").execute();
      await db().deleteFrom("audit_head").execute();
      await db().insertInto("audit_log").values(copy.rows).execute();
      await db().insertInto("audit_head").values(copy.head).execute();
    };

    afterEach(async () => {
      await fresh?.dispose();
    });

    it("reports an untouched log as intact", async () => {
      expect(await audit.verify()).toEqual({ intact: true, rows: ROWS });
    });

    const alterations: [string, Partial<Database["audit_log"]>][] = [
      ["operation", { operation: "SecretList" }],
      ["status", { status: 403 }],
      ["time", { time: Date.UTC(2025, 2, 1) + 3 * 60_000 + 1 }],
      ["principal_id", { principal_id: "principal-2" }],
      ["client_address", { client_address: "10.0.0.8" }],
      ["detail", { detail: "nothing to see" }],
    ];
    for (const [column, change] of alterations) {
      it(`reports row 3 as altered when its ${column} is changed`, async () => {
        await db().updateTable("audit_log").set(change).where("seq", "=", 3).execute();
        expect(await audit.verify()).toMatchObject({
          intact: false,
          rows: 2,
          firstBadSeq: 3,
          problem: "altered",
        });
      });
    }

    it("reports the newest row as altered when it is changed", async () => {
      await db().updateTable("audit_log").set({ outcome: "failure" }).where("seq", "=", ROWS).execute();
      expect(await audit.verify()).toMatchObject({
        intact: false,
        rows: ROWS - 1,
        firstBadSeq: ROWS,
        problem: "altered",
      });
    });

    it("reports row 3 as deleted when it is removed", async () => {
      await db().deleteFrom("audit_log").where("seq", "=", 3).execute();
      const verdict = await audit.verify();
      expect(verdict).toMatchObject({ intact: false, rows: 2, firstBadSeq: 3, problem: "deleted" });
      expect(verdict.intact || verdict.message).toMatch(/rows 3 to 3 are missing/);
    });

    it("reports the first row as deleted when it is removed", async () => {
      await db().deleteFrom("audit_log").where("seq", "=", 1).execute();
      expect(await audit.verify()).toMatchObject({
        intact: false,
        rows: 0,
        firstBadSeq: 1,
        problem: "deleted",
      });
    });

    it("reports rows deleted and the rest renumbered to hide the gap at the first renumbered row", async () => {
      await db().deleteFrom("audit_log").where("seq", "in", [3, 4]).execute();
      await db()
        .updateTable("audit_log")
        .set((eb) => ({ seq: eb("seq", "-", 2) }))
        .where("seq", ">", 4)
        .execute();
      expect(await audit.verify()).toMatchObject({ intact: false, rows: 2, firstBadSeq: 3 });
    });

    it("reports a forged row inserted in the middle by renumbering the rest", async () => {
      const linkedTo = await hashOf(2);
      await makeRoomAt(3);
      await db().insertInto("audit_log").values(forgedRow(3, linkedTo)).execute();
      expect(await audit.verify()).toMatchObject({
        intact: false,
        rows: 2,
        firstBadSeq: 3,
        problem: "inserted",
      });
    });

    it("reports a row replaced by a forged one that links to its predecessor as inserted", async () => {
      const linkedTo = await hashOf(2);
      await db().deleteFrom("audit_log").where("seq", "=", 3).execute();
      await db().insertInto("audit_log").values(forgedRow(3, linkedTo)).execute();
      expect(await audit.verify()).toMatchObject({
        intact: false,
        rows: 2,
        firstBadSeq: 3,
        problem: "inserted",
      });
    });

    it("reports a forged row that does not link to its predecessor as inserted", async () => {
      await makeRoomAt(3);
      await db()
        .insertInto("audit_log")
        .values(forgedRow(3, "f".repeat(64)))
        .execute();
      expect(await audit.verify()).toMatchObject({
        intact: false,
        rows: 2,
        firstBadSeq: 3,
        problem: "inserted",
      });
    });

    it("reports a forged row appended after the newest one as inserted", async () => {
      await db()
        .insertInto("audit_log")
        .values(forgedRow(ROWS + 1, await hashOf(ROWS)))
        .execute();
      expect(await audit.verify()).toMatchObject({
        intact: false,
        rows: ROWS,
        firstBadSeq: ROWS + 1,
        problem: "inserted",
      });
    });

    it("reports the log as truncated when its newest rows are deleted", async () => {
      await db().deleteFrom("audit_log").where("seq", ">", 4).execute();
      const verdict = await audit.verify();
      expect(verdict).toMatchObject({ intact: false, rows: 4, firstBadSeq: 5, problem: "truncated" });
      expect(verdict.intact || verdict.message).toMatch(/ends at row 4 but 6 rows were written/);
    });

    it("reports the log as truncated when every row is deleted", async () => {
      await db().deleteFrom("audit_log").execute();
      expect(await audit.verify()).toMatchObject({
        intact: false,
        rows: 0,
        firstBadSeq: 1,
        problem: "truncated",
      });
    });

    it("reports the tail deleted and the head moved back to the new last row from the first cut row", async () => {
      await db().deleteFrom("audit_log").where("seq", ">", 4).execute();
      await db()
        .updateTable("audit_head")
        .set({ seq: 4, hash: await hashOf(4) })
        .execute();
      const verdict = await audit.verify();
      expect(verdict).toMatchObject({ intact: false, rows: 4, firstBadSeq: 5, problem: "head" });
      expect(verdict.intact || verdict.message).toMatch(/rows after 4 may have been cut/);
    });

    it("reports every row deleted and the head reset to the start as cut from row 1", async () => {
      await db().deleteFrom("audit_log").execute();
      await db()
        .updateTable("audit_head")
        .set({ seq: 0, hash: "0".repeat(64) })
        .execute();
      expect(await audit.verify()).toMatchObject({ intact: false, rows: 0, firstBadSeq: 1, problem: "head" });
    });

    it("reports a dropped head table after the last row", async () => {
      await db().schema.dropTable("audit_head").execute();
      const verdict = await audit.verify();
      expect(verdict).toMatchObject({ intact: false, rows: ROWS, firstBadSeq: ROWS + 1, problem: "head" });
      expect(verdict.intact || verdict.message).toMatch(/audit head is gone/);
    });

    it("verifies a log whose changes all have their intent rows", async () => {
      await change(7);
      await change(8);
      expect(await audit.verify()).toEqual({ intact: true, rows: ROWS + 2 });
    });

    it("reports the log replaced by an older copy from the first row a recorded change is missing", async () => {
      const older = await snapshot();
      await change(7);
      await change(8);
      await restoreAuditTables(older);
      const verdict = await audit.verify();
      expect(verdict).toMatchObject({
        intact: false,
        rows: ROWS,
        firstBadSeq: ROWS + 1,
        problem: "rolled-back",
      });
      expect(verdict.intact || verdict.message).toMatch(/committed with audit row 7/);
    });

    it("reports every row deleted and the head reset when a change was recorded beside the stored state", async () => {
      const genesis = await snapshot();
      await fresh.storage.db.deleteFrom("audit_changes").execute();
      await change(7);
      // The attacker empties the log and puts the head back at the start.
      await db().deleteFrom("audit_log").execute();
      await db().deleteFrom("audit_head").execute();
      await db()
        .insertInto("audit_head")
        .values(genesis.head.map((h) => ({ ...h, seq: 0, hash: "0".repeat(64) })))
        .execute();
      expect(await audit.verify()).toMatchObject({ intact: false, firstBadSeq: 1 });
    });

    it("verifies the kept log, and a checkpoint taken before, after the oldest rows are archived and pruned", async () => {
      await change(7);
      const before = await audit.checkpoint(signer, new Date());
      const archived: number[] = [];
      const pruned = await audit.prune(entry(4).time, signer, new Date(), async (rows, cut) => {
        archived.push(...rows.map((r) => r.seq));
        expect(cut.seq).toBe(3);
      });
      expect(pruned).toBe(3);
      expect(archived).toEqual([1, 2, 3]);
      expect(await audit.verify()).toEqual({ intact: true, rows: ROWS + 1 - 3 });
      expect(await audit.verify({ checkpoint: before, signer })).toEqual({
        intact: true,
        rows: ROWS + 1 - 3,
      });
    });

    it("reports the head's base moved on to hide the oldest kept row", async () => {
      await audit.prune(entry(3).time, signer, new Date(), async () => undefined);
      const hidden = await hashOf(3);
      await db().deleteFrom("audit_log").where("seq", "=", 3).execute();
      await db().updateTable("audit_head").set({ base_seq: 3, base_hash: hidden }).execute();
      const verdict = await audit.verify();
      expect(verdict).toMatchObject({ intact: false, problem: "head" });
      expect(verdict.intact || verdict.message).toMatch(/start or end was moved/);
    });

    it("reports the first tampered row when several are tampered", async () => {
      await db().updateTable("audit_log").set({ status: 500 }).where("seq", "=", 5).execute();
      await db().deleteFrom("audit_log").where("seq", "=", 2).execute();
      expect(await audit.verify()).toMatchObject({ intact: false, firstBadSeq: 2, problem: "deleted" });
    });
  });
}
