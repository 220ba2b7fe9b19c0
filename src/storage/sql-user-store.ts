import { DomainError } from "../domain/errors.js";
import type { LocalUser } from "../domain/sign-in/model.js";
import type { UserStore } from "../domain/sign-in/ports.js";
import type { StorageHandle } from "./database.js";
import type { Database } from "./schema.js";
import { principalRow, toPrincipal } from "./sql-principal-store.js";
import { fromDate, isUniqueViolation, toDate, writeTransaction } from "./transactions.js";

type Row = Database["local_users"] & { p: Database["principals"] };

const toUser = (r: Row): LocalUser => ({
  principal: toPrincipal(r.p),
  username: r.username,
  passwordHash: r.password_hash ?? undefined,
  passwordChangedAt: toDate(r.password_changed_at),
  createdAt: new Date(r.created_at),
});

export function createSqlUserStore(storage: StorageHandle): UserStore {
  const { db } = storage;
  const select = () =>
    db
      .selectFrom("local_users as u")
      .innerJoin("principals as p", "p.id", "u.principal_id")
      .select([
        "u.principal_id",
        "u.username",
        "u.password_hash",
        "u.password_changed_at",
        "u.created_at",
        "p.id",
        "p.client_id",
        "p.display_name",
        "p.kind",
        "p.enabled",
        "p.created_at as principal_created_at",
      ]);
  type Selected = Awaited<ReturnType<ReturnType<typeof select>["execute"]>>[number];
  const row = (r: Selected): Row => ({
    principal_id: r.principal_id,
    username: r.username,
    password_hash: r.password_hash,
    password_changed_at: r.password_changed_at,
    created_at: r.created_at,
    p: {
      id: r.id,
      client_id: r.client_id,
      display_name: r.display_name,
      kind: r.kind,
      enabled: r.enabled,
      created_at: r.principal_created_at,
    },
  });

  return {
    async insert(user) {
      const p = user.principal;
      try {
        await writeTransaction(storage, async (trx) => {
          await trx.insertInto("principals").values(principalRow(p)).execute();
          await trx
            .insertInto("local_users")
            .values({
              principal_id: p.id,
              username: user.username,
              password_hash: user.passwordHash ?? null,
              password_changed_at: fromDate(user.passwordChangedAt),
              created_at: user.createdAt.getTime(),
            })
            .execute();
        });
      } catch (error) {
        if (isUniqueViolation(error)) {
          throw new DomainError("Conflict", `A user named ${user.username} already exists`, {
            reason: "UserExists",
          });
        }
        throw error;
      }
    },
    async findByUsername(username) {
      const found = await select().where("u.username", "=", username).executeTakeFirst();
      return found && toUser(row(found));
    },
    async list() {
      return (await select().orderBy("u.username").execute()).map((r) => toUser(row(r)));
    },
    async setPassword(principalId, passwordHash, at) {
      return writeTransaction(storage, async (trx) => {
        const updated = await trx
          .updateTable("local_users")
          .set({ password_hash: passwordHash, password_changed_at: at.getTime() })
          .where("principal_id", "=", principalId)
          .executeTakeFirst();
        if (updated.numUpdatedRows === 0n) return false;
        // Whoever held the old password may hold a session made with it.
        await trx.deleteFrom("ui_sessions").where("principal_id", "=", principalId).execute();
        return true;
      });
    },
    async remove(principalId) {
      // Foreign keys cascade to the user row, sessions, credentials, memberships and policies;
      // assignments name the principal too and go with it.
      return writeTransaction(storage, async (trx) => {
        await trx.deleteFrom("role_assignments").where("principal_id", "=", principalId).execute();
        const removed = await trx.deleteFrom("principals").where("id", "=", principalId).executeTakeFirst();
        return removed.numDeletedRows > 0n;
      });
    },
  };
}
