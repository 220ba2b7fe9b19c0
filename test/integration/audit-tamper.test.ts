import { createHash, randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createHmacAuditChain } from "../../src/crypto/hmac-audit-chain.js";
import { masterKeyFrom } from "../../src/crypto/master-key.js";
import { type AuditService, createAuditService } from "../../src/domain/audit/audit-service.js";
import type { AuditEntry } from "../../src/domain/audit/model.js";
import type { Database } from "../../src/storage/schema.js";
import { createSqlAuditStore } from "../../src/storage/sql-audit-store.js";
import { backends, openFreshStorage } from "../support/backends.js";

const ROWS = 6;
const chain = createHmacAuditChain(masterKeyFrom(randomBytes(32)));

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
      await Promise.all(Array.from({ length: 3 }, (_, i) => audit.record(entry(i + 1))));
      for (let i = 4; i <= ROWS; i++) await audit.record(entry(i));
    });

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

    it("reports the first tampered row when several are tampered", async () => {
      await db().updateTable("audit_log").set({ status: 500 }).where("seq", "=", 5).execute();
      await db().deleteFrom("audit_log").where("seq", "=", 2).execute();
      expect(await audit.verify()).toMatchObject({ intact: false, firstBadSeq: 2, problem: "deleted" });
    });
  });
}
