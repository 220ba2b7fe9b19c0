import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqlCampaignStore } from "../../src/storage/sql-campaign-store.js";
import { backends, openFreshStorage } from "../support/backends.js";

const now = new Date("2026-12-01T00:00:00Z");

describe.each(backends)("campaign claims on $engine", (backend) => {
  if (!backend.available) return;
  let dispose: () => Promise<void>;
  let store: ReturnType<typeof createSqlCampaignStore>;
  // Out of order, with fingerprints as random as real ones: claims follow the vaults' own order.
  const names = [
    ["beta", "web-2"],
    ["alpha", "zeta"],
    ["beta", "api"],
    ["alpha", "api-10"],
    ["alpha", "api-1"],
    ["beta", "web-10"],
  ] as const;

  beforeAll(async () => {
    const fresh = await openFreshStorage(backend);
    dispose = fresh.dispose;
    store = createSqlCampaignStore(fresh.storage);
    await store.create(
      {
        id: "c1",
        name: "order",
        query: { issuer: "old" },
        options: {},
        state: "running",
        createdAt: now,
      },
      names.map(([vault, name]) => ({
        campaignId: "c1",
        fingerprint: randomBytes(32).toString("hex"),
        subject: `CN=${name}`,
        action: "new-version" as const,
        vaultName: vault,
        certificateName: name,
        fromVersion: "v1",
        locations: [`vault://${vault}/certificates/${name}/v1`],
        state: "pending" as const,
        attempts: 0,
      })),
    );
  });
  afterAll(() => dispose());

  it("takes items vault by vault and name by name, as the vaults keep their certificates", async () => {
    const taken: string[] = [];
    for (const size of [4, 4]) {
      const { items } = await store.claim("c1", size, now, new Date(0));
      taken.push(...items.map((i) => `${i.vaultName}/${i.certificateName}`));
    }
    expect(taken).toEqual([
      "alpha/api-1",
      "alpha/api-10",
      "alpha/zeta",
      "beta/api",
      "beta/web-10",
      "beta/web-2",
    ]);
  });
});
