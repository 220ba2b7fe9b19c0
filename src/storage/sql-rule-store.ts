import { type Kysely, sql } from "kysely";
import type { EntryPoint } from "../domain/rules/issuance-gate.js";
import type { Rule, RuleKind, RuleLevel, RuleValues } from "../domain/rules/model.js";
import type { RuleStore } from "../domain/rules/ports.js";
import type { StorageHandle } from "./database.js";
import { precompiled } from "./precompiled.js";
import type { Database } from "./schema.js";
import { writeTransaction } from "./transactions.js";

type Row = Database["organisation_rules"];

export const RULES_REVISION = "rules-revision";

const toRule = (r: Row): Rule => ({
  id: r.id,
  level: r.level as RuleLevel,
  target: r.target,
  targetName: r.target_name,
  kind: r.kind as RuleKind,
  value: JSON.parse(r.value) as RuleValues[RuleKind],
  locked: Number(r.locked) !== 0,
  entries: r.entries === null ? undefined : (JSON.parse(r.entries) as EntryPoint[]),
  createdAt: new Date(Number(r.created_at)),
  updatedAt: new Date(Number(r.updated_at)),
});

/** Bumps the rules' revision inside the change's transaction, so grading never misses a change. */
async function bump(trx: Kysely<Database>): Promise<void> {
  await trx
    .insertInto("grading_state")
    .values({ name: RULES_REVISION, value: 1 })
    .onConflict((oc) => oc.column("name").doUpdateSet({ value: sql`grading_state.value + 1` }))
    .execute();
}

export function createSqlRuleStore(storage: StorageHandle): RuleStore {
  const { db } = storage;
  // Every issuance at every entry point lists the rules: compiled once, not per request.
  const all = precompiled<Row, never>(
    db.selectFrom("organisation_rules").selectAll().orderBy("level").orderBy("target").orderBy("kind"),
  );
  return {
    async list() {
      return (await all(db, {})).rows.map(toRule);
    },

    async find(level, target, kind) {
      const row = await db
        .selectFrom("organisation_rules")
        .selectAll()
        .where("level", "=", level)
        .where("target", "=", target)
        .where("kind", "=", kind)
        .executeTakeFirst();
      return row && toRule(row);
    },

    async put(rule) {
      const row: Row = {
        id: rule.id,
        level: rule.level,
        target: rule.target,
        target_name: rule.targetName,
        kind: rule.kind,
        value: JSON.stringify(rule.value),
        locked: rule.locked ? 1 : 0,
        entries: rule.entries ? JSON.stringify(rule.entries) : null,
        created_at: rule.createdAt.getTime(),
        updated_at: rule.updatedAt.getTime(),
      };
      await writeTransaction(storage, async (trx) => {
        await trx
          .insertInto("organisation_rules")
          .values(row)
          .onConflict((oc) =>
            oc.columns(["level", "target", "kind"]).doUpdateSet({
              target_name: row.target_name,
              value: row.value,
              locked: row.locked,
              entries: row.entries,
              updated_at: row.updated_at,
            }),
          )
          .execute();
        await bump(trx);
      });
      return rule;
    },

    async remove(id) {
      return writeTransaction(storage, async (trx) => {
        const deleted = await trx.deleteFrom("organisation_rules").where("id", "=", id).executeTakeFirst();
        if (Number(deleted.numDeletedRows) === 0) return false;
        await bump(trx);
        return true;
      });
    },

    async revision() {
      const row = await db
        .selectFrom("grading_state")
        .select("value")
        .where("name", "=", RULES_REVISION)
        .executeTakeFirst();
      return row ? Number(row.value) : 0;
    },
  };
}
