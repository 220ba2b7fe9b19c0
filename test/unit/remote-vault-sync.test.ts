import { describe, expect, it } from "vitest";
import { createAesGcmSealer } from "../../src/crypto/aes-gcm-sealer.js";
import { masterKeyFrom } from "../../src/crypto/master-key.js";
import type { Observation, ObservationSink } from "../../src/domain/inventory/observation.js";
import type { RemoteVault, RemoteVaultSync } from "../../src/domain/remote-vaults/model.js";
import type { RemoteVaultStore } from "../../src/domain/remote-vaults/ports.js";
import type { RemoteCertificate, RemoteVaultConnector } from "../../src/domain/remote-vaults/remote-vault.js";
import { createRemoteVaultService } from "../../src/domain/remote-vaults/remote-vault-service.js";

/** An in-memory store that behaves as the SQL one does. */
function memoryStore(): RemoteVaultStore & { seen: Map<string, string[]> } {
  const vaults = new Map<string, RemoteVault>();
  const seen = new Map<string, string[]>();
  return {
    seen,
    async insert(v) {
      if (vaults.has(v.name.toLowerCase())) return false;
      vaults.set(v.name.toLowerCase(), v);
      return true;
    },
    get: async (name) => vaults.get(name.toLowerCase()),
    list: async () => [...vaults.values()],
    locations: async (id) => seen.get(id) ?? [],
    async recordSync(id, sync: RemoteVaultSync, locations) {
      const vault = [...vaults.values()].find((v) => v.id === id);
      if (!vault) return false;
      vault.lastSync = sync;
      if (locations) seen.set(id, [...locations]);
      return true;
    },
    async remove(id) {
      for (const [key, v] of vaults) {
        if (v.id !== id) continue;
        seen.delete(id);
        return vaults.delete(key);
      }
      return false;
    },
  };
}

function recordingSink(): ObservationSink & {
  batches: Observation[][];
  forgotten: string[][];
  /** Whether each location is present in the inventory after everything the sink was told, in order. */
  present: Map<string, boolean>;
} {
  const batches: Observation[][] = [];
  const forgotten: string[][] = [];
  const present = new Map<string, boolean>();
  return {
    batches,
    forgotten,
    present,
    async observe(observations) {
      batches.push([...observations]);
      for (const o of observations) present.set(o.location, true);
    },
    async forget(locations) {
      forgotten.push([...locations]);
      for (const l of locations) present.set(l, false);
    },
  };
}

/** A listing held after its first certificate until `release` is called or its signal aborts. */
function holdAfterFirst(): { hold: Promise<void>; release: () => void } {
  let release = () => {};
  const hold = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { hold, release };
}

interface ConnectorState {
  names: string[];
  failAfter?: number;
  hold?: Promise<void>;
}

/**
 * A connector over a list the test changes between syncs; `failAfter` throws part-way through a
 * listing, `hold` keeps it waiting after its first certificate (as a slow remote vault would).
 */
function listConnector(state: ConnectorState): RemoteVaultConnector {
  return {
    kind: "test-vault",
    source: "akv",
    validate() {},
    async *certificates(_connection, signal): AsyncGenerator<RemoteCertificate> {
      let n = 0;
      for (const name of state.names) {
        if (state.failAfter !== undefined && n === state.failAfter) throw new Error("connection reset");
        if (n === 1 && state.hold) {
          const aborted = new Promise<void>((_, reject) =>
            signal.addEventListener("abort", () => reject(signal.reason), { once: true }),
          );
          await Promise.race([state.hold, aborted]);
        }
        n++;
        yield { der: Buffer.from(name), location: `akv://test/certificates/${name}/1`, detail: { name } };
      }
    },
    async importCertificate() {
      throw new Error("these tests only read");
    },
  };
}

const setup = (names: string[]) => {
  const state: ConnectorState = { names };
  const store = memoryStore();
  const sink = recordingSink();
  const service = createRemoteVaultService({
    store,
    connectors: [listConnector(state)],
    sink,
    sealer: createAesGcmSealer(masterKeyFrom(Buffer.alloc(32, 7))),
    clock: { now: () => new Date("2026-05-01T00:00:00Z") },
  });
  return { state, store, sink, service };
};

describe("remote vault sync", () => {
  it("sends a large vault to the inventory in batches of 500", async () => {
    const { sink, service } = setup(Array.from({ length: 1201 }, (_, i) => `c${i}`));
    await service.add({ name: "big", kind: "test-vault", url: "https://big.test" });
    const { sync } = await service.sync("big");
    expect(sync).toMatchObject({ status: "ok", certificates: 1201, gone: 0 });
    expect(sink.batches.map((b) => b.length)).toEqual([500, 500, 201]);
    expect(sink.batches[0]?.[0]).toMatchObject({ source: "akv", detail: { name: "c0", remoteVault: "big" } });
  });

  it("forgets only what the previous sync saw and this one did not", async () => {
    const { state, sink, service } = setup(["a", "b", "c"]);
    await service.add({ name: "v", kind: "test-vault", url: "https://v.test" });
    await service.sync("v");
    state.names = ["a", "c", "d"];
    const { sync } = await service.sync("v");
    expect(sync).toMatchObject({ certificates: 3, gone: 1 });
    expect(sink.forgotten).toEqual([["akv://test/certificates/b/1"]]);
  });

  it("forgets nothing and keeps the seen set when a listing breaks off part-way", async () => {
    const { state, store, sink, service } = setup(["a", "b", "c"]);
    const added = await service.add({ name: "v", kind: "test-vault", url: "https://v.test" });
    await service.sync("v");
    state.failAfter = 1;
    await expect(service.sync("v")).rejects.toThrow("connection reset");
    expect(sink.forgotten).toEqual([]);
    expect(store.seen.get(added.id)).toHaveLength(3);
    expect((await service.get("v")).lastSync).toMatchObject({
      status: "failed",
      error: "connection reset",
      certificates: 3,
    });
  });

  it("removes a vault while its sync is listing: the sync stops and every location stays gone", async () => {
    const { state, sink, service } = setup(["a", "b", "c"]);
    await service.add({ name: "v", kind: "test-vault", url: "https://v.test" });
    await service.sync("v");
    const { hold, release } = holdAfterFirst();
    state.hold = hold;
    const syncing = service.sync("v");
    await new Promise((resolve) => setTimeout(resolve, 10));
    await service.remove("v");
    release();
    await expect(syncing).rejects.toMatchObject({ code: "Conflict" });
    expect([...sink.present]).toEqual([
      ["akv://test/certificates/a/1", false],
      ["akv://test/certificates/b/1", false],
      ["akv://test/certificates/c/1", false],
    ]);
    await expect(service.sync("v")).rejects.toMatchObject({ code: "NotFound" });
  });

  it("forgets what a sync saw when another node removed the vault while it listed", async () => {
    const { state, store, sink, service } = setup(["a", "b", "c"]);
    const added = await service.add({ name: "v", kind: "test-vault", url: "https://v.test" });
    const { hold, release } = holdAfterFirst();
    state.hold = hold;
    const syncing = service.sync("v");
    await new Promise((resolve) => setTimeout(resolve, 10));
    await store.remove(added.id);
    release();
    await expect(syncing).rejects.toMatchObject({ code: "NotFound" });
    expect([...sink.present.values()]).toEqual([false, false, false]);
  });

  it("keeps the secret sealed and opens it for the connector only", async () => {
    const { store, service } = setup([]);
    await service.add({
      name: "v",
      kind: "test-vault",
      url: "https://v.test",
      secret: { clientSecret: "s3cr3t-value" },
    });
    const stored = await store.get("v");
    expect(stored?.sealedSecret.includes(Buffer.from("s3cr3t-value"))).toBe(false);
    expect(stored?.secretFields).toEqual(["clientSecret"]);
  });

  it("refuses an unknown kind and a name taken in another case", async () => {
    const { service } = setup([]);
    await expect(service.add({ name: "v", kind: "aws-acm", url: "https://x" })).rejects.toThrow(
      /not supported/,
    );
    await service.add({ name: "v", kind: "test-vault", url: "https://v.test" });
    await expect(service.add({ name: "V", kind: "test-vault", url: "https://v.test" })).rejects.toMatchObject(
      {
        code: "Conflict",
      },
    );
  });
});
