import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAcmeProfileService } from "../../src/domain/acme-server/acme-profile-service.js";
import type { AcmeAccount, AcmeProfile } from "../../src/domain/acme-server/model.js";
import type { CaService } from "../../src/domain/ca/ca-service.js";
import { openDatabase, type StorageHandle } from "../../src/storage/database.js";
import { createSqlAcmeServerStore } from "../../src/storage/sql-acme-server-store.js";
import { backends, openFreshStorage } from "../support/backends.js";

// Every ACME request reads its profile and its account; on SQLite they may come from memory. These
// are the changes such a read must never miss, made on another node (another connection to the same
// database) or through another store over the same one.
describe.each(backends.filter((b) => b.available))("ACME profile and account reads on $engine", (backend) => {
  let fresh: Awaited<ReturnType<typeof openFreshStorage>>;
  let secondNode: StorageHandle;
  const at = new Date("2026-12-01T00:00:00Z");
  let sequence = 0;

  beforeAll(async () => {
    fresh = await openFreshStorage(backend);
    secondNode = openDatabase(fresh.database.url);
  });

  // A node learns of another's commit from its next event-loop turn on (SQLite asks once per turn);
  // a request that follows another node's answer always arrives in a later turn.
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

  afterAll(async () => {
    await secondNode?.close();
    await fresh?.dispose();
  });

  async function profileWithAccount(): Promise<{ profile: AcmeProfile; account: AcmeAccount }> {
    const n = ++sequence;
    const store = createSqlAcmeServerStore(fresh.storage);
    // The CLI's way to make a profile, over a CA that needs only to exist.
    const profile = await createAcmeProfileService({
      store,
      ca: { get: async () => ({ id: "ca-1", status: "active" }) as Awaited<ReturnType<CaService["get"]>> },
      sealer: { seal: () => Buffer.alloc(0), open: () => Buffer.alloc(0) },
      clock: { now: () => at },
    }).create(`Directory-${n}`, { ca: "root" });
    const account: AcmeAccount = {
      id: `account-${n}`,
      profileId: profile.id,
      thumbprint: `thumbprint-${n}`,
      jwk: { kty: "EC", crv: "P-256", x: `x${n}`, y: `y${n}` },
      contacts: [],
      status: "valid",
      createdAt: at,
    };
    await store.insertAccount(account);
    return { profile, account };
  }

  it("refuses an account on the next read once another node deactivated it", async () => {
    const { account } = await profileWithAccount();
    const here = createSqlAcmeServerStore(fresh.storage);
    expect((await here.getAccount(account.id))?.status).toBe("valid");
    expect((await here.getAccount(account.id))?.status).toBe("valid");
    await createSqlAcmeServerStore(secondNode).updateAccount({ ...account, status: "deactivated" });
    await nextTurn();
    expect((await here.getAccount(account.id))?.status).toBe("deactivated");
  });

  it("reads the new key at once after a key rollover through another store of the same node", async () => {
    const { account } = await profileWithAccount();
    const here = createSqlAcmeServerStore(fresh.storage);
    expect((await here.getAccount(account.id))?.jwk).toEqual(account.jwk);
    const rolled = { ...account, thumbprint: `${account.thumbprint}-new`, jwk: { ...account.jwk, x: "new" } };
    await createSqlAcmeServerStore(fresh.storage).updateAccount(rolled);
    expect(await here.getAccount(account.id)).toMatchObject({
      thumbprint: rolled.thumbprint,
      jwk: rolled.jwk,
    });
  });

  it("reads a profile as another node last updated it, and not at all once it deleted it", async () => {
    const { profile } = await profileWithAccount();
    const here = createSqlAcmeServerStore(fresh.storage);
    const other = createSqlAcmeServerStore(secondNode);
    expect((await here.getProfile(profile.name))?.eabRequired).toBe(false);
    await other.updateProfile({ ...profile, eabRequired: true });
    await nextTurn();
    expect((await here.getProfile(profile.name.toUpperCase()))?.eabRequired).toBe(true);
    await other.deleteProfile(profile.id);
    await nextTurn();
    expect(await here.getProfile(profile.name)).toBeUndefined();
  });
});
