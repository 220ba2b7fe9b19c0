import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GradableRecord, GradingStore } from "../../src/domain/rules/ports.js";
import type { StorageHandle } from "../../src/storage/database.js";
import { createSqlGradingStore } from "../../src/storage/sql-grading-store.js";
import { backends, openFreshStorage } from "../support/backends.js";
import { inventoryRow } from "../support/inventory-rows.js";

const at = new Date("2026-12-01T00:00:00Z");

/** Inventory records as the inventory writes them, with a served and a kept location each. */
async function addRecords(storage: StorageHandle, count: number): Promise<number[]> {
  const ids: number[] = [];
  for (let n = 0; n < count; n++) {
    const host = `host${n}.example.com`;
    const row = await storage.db
      .insertInto("inventory_certificates")
      .values(inventoryRow(host, n, at) as never)
      .returning("id")
      .executeTakeFirstOrThrow();
    const id = Number(row.id);
    ids.push(id);
    await storage.db
      .insertInto("inventory_locations")
      .values([
        {
          uri: `tls://10.0.0.${n}:443?sni=${host}`,
          cert_id: id,
          source: "tls",
          first_seen_at: at.getTime(),
          last_seen_at: at.getTime(),
          gone_at: null,
          detail: JSON.stringify({ presented: "ab".repeat(32) }),
        },
        {
          uri: `vault://default/certificates/c${n}/v1`,
          cert_id: id,
          source: "vault",
          first_seen_at: at.getTime(),
          last_seen_at: at.getTime(),
          gone_at: n % 2 ? at.getTime() : null,
          detail: null,
        },
      ] as never)
      .execute();
  }
  return ids;
}

describe.each(backends)("grading's reads of the inventory on $engine", (backend) => {
  if (!backend.available) return;
  let dispose: () => Promise<void>;
  let store: GradingStore;
  let ids: number[];

  beforeAll(async () => {
    const fresh = await openFreshStorage(backend);
    dispose = fresh.dispose;
    store = createSqlGradingStore(fresh.storage);
    ids = await addRecords(fresh.storage, 7);
    // An open finding on the fourth record, which a page must hand back with it.
    await store.record(
      [
        {
          id: ids[3] as number,
          fingerprintSha256: createHash("sha256").update("host3.example.com").digest("hex"),
          judgements: [{ kind: "unknown-ca", reason: "no chain" }],
        },
      ],
      at,
    );
  });
  afterAll(() => dispose());

  const all = async (limit: number) => {
    const pages: GradableRecord[][] = [];
    for await (const page of store.pages(limit)) pages.push(page);
    return pages;
  };

  it("hands back every record once, in id order, a page at a time, each with its places and open findings", async () => {
    const pages = await all(3);
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    const records = pages.flat();
    expect(records.map((r) => r.id)).toEqual(ids);
    const fourth = records[3] as GradableRecord;
    expect(fourth.facts.subject).toBe("CN=host3.example.com");
    expect(fourth.facts.sans).toEqual([{ type: "dns", value: "host3.example.com" }]);
    expect(fourth.locations).toEqual(
      expect.arrayContaining([
        { uri: "tls://10.0.0.3:443?sni=host3.example.com", gone: false, presented: "ab".repeat(32) },
        { uri: "vault://default/certificates/c3/v1", gone: true, presented: undefined },
      ]),
    );
    expect(fourth.open?.map((o) => o.key)).toEqual(["unknown-ca||"]);
    expect(records.filter((r) => r.open?.length).map((r) => r.id)).toEqual([ids[3]]);
  });

  it("hands back only a range's records, and knows the lowest and highest id", async () => {
    const bounds = await store.idBounds();
    expect(bounds).toEqual({ after: (ids[0] as number) - 1, upTo: ids[6] });
    const range = { after: ids[1] as number, upTo: ids[4] as number };
    const pages: GradableRecord[][] = [];
    for await (const page of store.pages(2, range)) pages.push(page);
    expect(pages.map((p) => p.map((r) => r.id))).toEqual([ids.slice(2, 4), ids.slice(4, 5)]);
    expect(pages[0]?.[1]?.open?.map((o) => o.key)).toEqual(["unknown-ca||"]);
  });

  it("ends after a last page that is full, whatever the page size", async () => {
    expect((await all(7)).map((p) => p.length)).toEqual([7]);
    expect((await all(1)).map((p) => p.length)).toEqual([1, 1, 1, 1, 1, 1, 1]);
  });

  it("can be left after the first page with the next one already being read", async () => {
    for await (const page of store.pages(2)) {
      expect(page.map((r) => r.id)).toEqual(ids.slice(0, 2));
      break;
    }
    // The store still answers afterwards: nothing was left holding a connection.
    expect((await all(4)).flat().map((r) => r.id)).toEqual(ids);
  });
});
