import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createHmacAuditChain } from "../../src/crypto/hmac-audit-chain.js";
import { masterKeyFrom } from "../../src/crypto/master-key.js";
import { inAuditScope } from "../../src/domain/audit/audit-scope.js";
import { createAuditService } from "../../src/domain/audit/audit-service.js";
import type { AuditEntry } from "../../src/domain/audit/model.js";
import type { AuditStore } from "../../src/domain/audit/ports.js";
import { createChangeAudit } from "../../src/storage/change-audit.js";
import { createSqlAuditStore } from "../../src/storage/sql-audit-store.js";
import { writeTransaction } from "../../src/storage/transactions.js";
import { backends, openFreshStorage } from "../support/backends.js";

const chain = createHmacAuditChain(masterKeyFrom(randomBytes(32)));

const entry = (i: number, outcome: AuditEntry["outcome"] = "success"): AuditEntry => ({
  time: new Date(Date.UTC(2026, 0, 1) + i * 1000),
  requestId: `request-${i}`,
  principalId: "principal-1",
  operation: "VaultGet",
  outcome,
  status: outcome === "pending" ? 0 : 200,
  clientAddress: "127.0.0.1",
});

for (const backend of backends) {
  describe.skipIf(!backend.available)(`audit verify on a live log (${backend.engine})`, () => {
    let fresh: Awaited<ReturnType<typeof openFreshStorage>>;
    let store: AuditStore;

    beforeEach(async () => {
      fresh = await openFreshStorage(backend);
      store = createSqlAuditStore(fresh.storage);
      const audit = createAuditService({ store, chain });
      await audit.keyHead();
      for (let i = 1; i <= 5; i++) await audit.record(entry(i));
    });
    afterEach(async () => {
      await fresh?.dispose();
    });

    /**
     * The audit service over the real store, where `write` runs once, just after verify has read the
     * head and before it reads the rows: what a request committing its row mid-walk does.
     */
    const withWriteAfterHead = (
      write: (audit: ReturnType<typeof createAuditService>) => Promise<unknown>,
    ) => {
      let armed = false;
      let wrote = false;
      const racing: AuditStore = {
        ...store,
        async head() {
          const head = await store.head();
          armed = true;
          return head;
        },
        async read(afterSeq, limit) {
          if (armed && !wrote) {
            wrote = true;
            await write(createAuditService({ store, chain }));
          }
          return store.read(afterSeq, limit);
        },
      };
      return createAuditService({ store: racing, chain });
    };

    it("reports the log intact when rows are written after it read the head", async () => {
      const audit = withWriteAfterHead(async (writer) => {
        await writer.record(entry(6));
        await writer.record(entry(7));
      });
      expect(await audit.verify()).toMatchObject({ intact: true });
    });

    it("reports the log intact when a change commits with its row after it read the head", async () => {
      fresh.storage.changeAudit = createChangeAudit({
        engine: backend.engine,
        audit: createAuditService({ store, chain }),
        chain,
      });
      const audit = withWriteAfterHead(() =>
        inAuditScope({ entry: () => entry(6, "pending"), intents: 0 }, () =>
          writeTransaction(fresh.storage, (trx) =>
            trx.insertInto("settings").values({ key: "live-change", value: "x", sealed: null }).execute(),
          ),
        ),
      );
      expect(await audit.verify()).toMatchObject({ intact: true });
    });
  });
}
