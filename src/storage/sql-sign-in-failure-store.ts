import { sql } from "kysely";
import type { SignInFailureStore } from "../domain/sign-in/ports.js";
import type { StorageHandle } from "./database.js";
import { writeTransaction } from "./transactions.js";

export function createSqlSignInFailureStore(storage: StorageHandle): SignInFailureStore {
  const { db } = storage;
  return {
    async lockedUntil(keys, now) {
      const row = await db
        .selectFrom("sign_in_failures")
        .select((eb) => eb.fn.max("locked_until").as("until"))
        .where("key", "in", [...keys])
        .where("locked_until", ">", now.getTime())
        .executeTakeFirst();
      return row?.until == null ? undefined : new Date(Number(row.until));
    },
    async recordFailure(keys, now, { failureWindowMs, lockoutMs }) {
      const at = now.getTime();
      const windowStart = at - failureWindowMs;
      return writeTransaction(storage, async (trx) => {
        const locked: string[] = [];
        for (const { key, limit } of keys) {
          // One statement, so two nodes counting the same key at once both count: a count that
          // is past its window, or whose lock has ended, starts again at one.
          const stale = sql<boolean>`(sign_in_failures.first_failure_at <= ${windowStart} or (sign_in_failures.locked_until is not null and sign_in_failures.locked_until <= ${at}))`;
          await trx
            .insertInto("sign_in_failures")
            .values({ key, failures: 1, first_failure_at: at, locked_until: null })
            .onConflict((oc) =>
              oc.column("key").doUpdateSet({
                failures: sql`case when ${stale} then 1 else sign_in_failures.failures + 1 end`,
                first_failure_at: sql`case when ${stale} then ${at} else sign_in_failures.first_failure_at end`,
                locked_until: sql`case when ${stale} then null else sign_in_failures.locked_until end`,
              }),
            )
            .execute();
          const lockedNow = await trx
            .updateTable("sign_in_failures")
            .set({ locked_until: at + lockoutMs })
            .where("key", "=", key)
            .where("failures", ">=", limit)
            .where("locked_until", "is", null)
            .executeTakeFirst();
          if (lockedNow.numUpdatedRows > 0n) locked.push(key);
        }
        return locked;
      });
    },
    async clear(key) {
      await writeTransaction(storage, (trx) =>
        trx.deleteFrom("sign_in_failures").where("key", "=", key).execute(),
      );
    },
  };
}
