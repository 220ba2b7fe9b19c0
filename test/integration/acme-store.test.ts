import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AcmeIssuerSettings } from "../../src/domain/acme/model.js";
import { renewalKey } from "../../src/domain/acme/ports.js";
import type { Vault } from "../../src/domain/vaults/model.js";
import { createVaultService } from "../../src/domain/vaults/vault-service.js";
import { createSqlAcmeStore } from "../../src/storage/sql-acme-store.js";
import { createSqlVaultStore } from "../../src/storage/sql-vault-store.js";
import { backends, openFreshStorage } from "../support/backends.js";

describe.each(backends.filter((b) => b.available))("the ACME store on $engine", (backend) => {
  let fresh: Awaited<ReturnType<typeof openFreshStorage>>;
  let store: ReturnType<typeof createSqlAcmeStore>;
  let vault: Vault;
  const at = new Date("2026-05-01T00:00:00Z");

  beforeAll(async () => {
    fresh = await openFreshStorage(backend);
    store = createSqlAcmeStore(fresh.storage);
    vault = await createVaultService({
      store: createSqlVaultStore(fresh.storage),
      clock: { now: () => at },
    }).create("acme");
  });
  afterAll(() => fresh?.dispose());

  it("keeps settings per issuer name in any case, replacing them on a second put", async () => {
    const settings: AcmeIssuerSettings = {
      vaultId: vault.id,
      issuerName: "LetsEncrypt",
      directoryUrl: "https://acme.example/dir",
      contacts: ["mailto:a@example.com"],
      challenge: { type: "dns-01", solver: "hook", command: "/bin/hook" },
      createdAt: at,
      updatedAt: at,
    };
    await store.putSettings(settings);
    await store.putSettings({ ...settings, directoryUrl: "https://acme.example/v2" });
    expect(await store.getSettings(vault.id, "letsencrypt")).toEqual({
      ...settings,
      directoryUrl: "https://acme.example/v2",
    });
    expect(await store.listSettings(vault.id)).toHaveLength(1);
    expect(await store.deleteSettings(vault.id, "LETSENCRYPT")).toBe(true);
    expect(await store.deleteSettings(vault.id, "letsencrypt")).toBe(false);
  });

  it("keeps the first account key of an issuer and directory, whoever writes second", async () => {
    const account = { vaultId: vault.id, issuerName: "le", directoryUrl: "https://acme.example/dir" };
    const first = await store.putAccountIfAbsent({ ...account, sealedKey: Buffer.from("first") });
    const second = await store.putAccountIfAbsent({ ...account, sealedKey: Buffer.from("second") });
    expect(second.sealedKey.toString()).toBe("first");
    await store.setAccountUrl(first, "https://acme.example/acct/1");
    expect(await store.getAccount(vault.id, "LE", account.directoryUrl)).toMatchObject({
      accountUrl: "https://acme.example/acct/1",
      sealedKey: Buffer.from("first"),
    });
    const other = await store.putAccountIfAbsent({
      ...account,
      directoryUrl: "https://other.example/dir",
      sealedKey: Buffer.from("other"),
    });
    expect(other.sealedKey.toString()).toBe("other");
  });

  it("stores orders with their presented challenges, and http-01 answers by token", async () => {
    const order = {
      requestId: "r1",
      vaultId: vault.id,
      issuerName: "le",
      orderUrl: "https://acme.example/order/1",
      presented: [
        { type: "http-01" as const, identifier: "a.test", token: "tok", keyAuthorization: "tok.thumb" },
      ],
      createdAt: at,
    };
    await store.putOrder({ ...order, presented: [] });
    await store.putOrder(order);
    expect(await store.getOrder("r1")).toEqual(order);
    // No certificate operation is in progress under this request id.
    expect(await store.abandonedOrders(at, 10)).toEqual([]);
    expect(await store.abandonedOrders(new Date(at.getTime() + 1), 10)).toEqual([order]);
    await store.deleteOrder("r1");
    expect(await store.getOrder("r1")).toBeUndefined();
    await store.putChallenge("tok", "tok.thumb", at);
    expect(await store.getChallenge("tok")).toBe("tok.thumb");
    await store.deleteChallenge("tok");
    expect(await store.getChallenge("tok")).toBeUndefined();
  });

  it("gives renewal times by version, lists due checks and forgets versions that are no longer latest", async () => {
    const base = { vaultId: vault.id, issuerName: "le", renewalInfoUrl: "https://acme.example/ri/x" };
    await fresh.storage.db
      .insertInto("objects")
      .values({
        vault_id: vault.id,
        collection: "certificates",
        name_key: "web",
        name: "Web",
        latest_version: "v2",
        deleted_at: null,
        scheduled_purge_at: null,
        policy: null,
        created_at: at.getTime(),
      })
      .execute();
    await store.putRenewalInfo({ ...base, name: "Web", version: "v1", renewAt: at, nextCheckAt: at });
    await store.putRenewalInfo({
      ...base,
      name: "Web",
      version: "v2",
      renewAt: new Date(at.getTime() + 1000),
      nextCheckAt: new Date(at.getTime() + 60_000),
    });
    const times = await store.renewalTimes([
      { vaultId: vault.id, name: "WEB", version: "v2" },
      { vaultId: vault.id, name: "web", version: "v9" },
    ]);
    expect(times.get(renewalKey({ vaultId: vault.id, name: "web", version: "v2" }))).toEqual(
      new Date(at.getTime() + 1000),
    );
    expect((await store.dueRenewalInfo(at, 10)).map((i) => i.version)).toEqual(["v1"]);
    expect(await store.pruneRenewalInfo()).toBe(1);
    expect(await store.dueRenewalInfo(new Date(at.getTime() + 60_000), 10)).toMatchObject([
      { version: "v2" },
    ]);
  });
});
