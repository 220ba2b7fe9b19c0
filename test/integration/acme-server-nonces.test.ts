import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type StorageHandle } from "../../src/storage/database.js";
import { createSqlAcmeServerStore } from "../../src/storage/sql-acme-server-store.js";
import { backends, openFreshStorage } from "../support/backends.js";

const HOUR = 3_600_000;

describe.each(backends.filter((b) => b.available))("used ACME nonces on $engine", (backend) => {
  let fresh: Awaited<ReturnType<typeof openFreshStorage>>;
  let secondNode: StorageHandle;

  beforeAll(async () => {
    fresh = await openFreshStorage(backend);
    secondNode = openDatabase(fresh.database.url);
  });

  afterAll(async () => {
    await secondNode?.close();
    await fresh?.dispose();
  });

  const later = () => new Date(Date.now() + HOUR);

  it("admits a nonce once when the same request arrives several times in one turn", async () => {
    const store = createSqlAcmeServerStore(fresh.storage);
    const answers = await Promise.all([
      store.useNonce("same-turn", later()),
      store.useNonce("other", later()),
      store.useNonce("same-turn", later()),
      store.useNonce("same-turn", later()),
    ]);
    expect(answers).toEqual([true, true, false, false]);
    expect(await store.useNonce("same-turn", later())).toBe(false);
  });

  it("admits a nonce once when two nodes see it at the same moment", async () => {
    const nodes = [createSqlAcmeServerStore(fresh.storage), createSqlAcmeServerStore(secondNode)];
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => nodes[i % 2]?.useNonce(`raced-${i >> 1}`, later())),
    );
    for (let n = 0; n < 10; n++) expect([answers[2 * n], answers[2 * n + 1]].sort()).toEqual([false, true]);
  });

  it("forgets used nonces past their expiry", async () => {
    const store = createSqlAcmeServerStore(fresh.storage);
    expect(await store.useNonce("expiring", new Date(Date.now() - 1))).toBe(true);
    expect(await store.purgeNonces(new Date())).toBeGreaterThanOrEqual(1);
    expect(await store.useNonce("expiring", later())).toBe(true);
  });
});
