import type { KyselyPlugin } from "kysely";

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
