import { type Kysely, type KyselyPlugin, sql } from "kysely";
import type { Database } from "../../src/storage/schema.js";

/**
 * Fails the next insert into `table` once armed, inside the real store's own transaction. The event
 * outbox insert is the last statement of every issuing transaction (addIssued) and of a held
 * create's (its approval request's event), so failing it leaves everything before it written and
 * rolled back.
 */
export function failNextInsertInto(table: string) {
  let armed = false;
  const plugin: KyselyPlugin = {
    transformQuery({ node }) {
      if (armed && node.kind === "InsertQueryNode" && node.into?.table.identifier.name === table) {
        armed = false;
        throw new Error(`injected failure: insert into ${table}`);
      }
      return node;
    },
    transformResult: async ({ result }) => result,
  };
  return {
    plugin,
    arm() {
      armed = true;
    },
  };
}

/**
 * Makes every insert into `table` fail inside whatever transaction runs it, through a trigger in the
 * database itself: for a whole server under test, whose stores no plugin can reach. The failure
 * rolls its transaction back as a crash before commit would. Returns what removes the trigger.
 */
export async function failInsertsInto(
  db: Kysely<Database>,
  engine: "sqlite" | "postgres",
  table: string,
): Promise<() => Promise<void>> {
  const trigger = `injected_fault_${table}`;
  if (engine === "sqlite") {
    await sql
      .raw(
        `create trigger ${trigger} before insert on ${table} begin select raise(abort, 'injected failure: insert into ${table}'); end`,
      )
      .execute(db);
    return async () => void (await sql.raw(`drop trigger ${trigger}`).execute(db));
  }
  await sql
    .raw(
      `create function ${trigger}() returns trigger language plpgsql as $$ begin raise exception 'injected failure: insert into ${table}'; end $$`,
    )
    .execute(db);
  await sql
    .raw(`create trigger ${trigger} before insert on ${table} for each row execute function ${trigger}()`)
    .execute(db);
  return async () => {
    await sql.raw(`drop trigger ${trigger} on ${table}`).execute(db);
    await sql.raw(`drop function ${trigger}()`).execute(db);
  };
}
