import type { SettingsStore } from "../domain/bootstrap/ports.js";
import type { StorageHandle } from "./database.js";

export type { SettingsStore };

export function createSqlSettingsStore({ db }: StorageHandle): SettingsStore {
  const get = async (key: string) => {
    const row = await db.selectFrom("settings").selectAll().where("key", "=", key).executeTakeFirst();
    if (!row) return undefined;
    return row.sealed === null ? { value: row.value } : { value: row.value, sealed: Buffer.from(row.sealed) };
  };
  return {
    get,
    async put(key, value) {
      await db
        .insertInto("settings")
        .values({ key, value, sealed: null })
        .onConflict((oc) => oc.column("key").doUpdateSet({ value }))
        .execute();
    },
    async putIfAbsent(key, value, sealed) {
      await db
        .insertInto("settings")
        .values({ key, value, sealed: sealed ?? null })
        .onConflict((oc) => oc.column("key").doNothing())
        .execute();
      const stored = await get(key);
      if (!stored) throw new Error(`Setting ${key} vanished after it was written`);
      return stored;
    },
  };
}
