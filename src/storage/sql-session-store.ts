import type { SessionRecord, SignInMethod } from "../domain/sign-in/model.js";
import type { SessionStore } from "../domain/sign-in/ports.js";
import type { StorageHandle } from "./database.js";
import { toPrincipal } from "./sql-principal-store.js";
import { writeTransaction } from "./transactions.js";

export function createSqlSessionStore(storage: StorageHandle): SessionStore {
  const { db } = storage;
  return {
    async insert(s: SessionRecord) {
      await writeTransaction(storage, (trx) =>
        trx
          .insertInto("ui_sessions")
          .values({
            id_digest: s.idDigest,
            principal_id: s.principalId,
            method: s.method,
            created_at: s.createdAt.getTime(),
            last_seen_at: s.lastSeenAt.getTime(),
          })
          .execute(),
      );
    },
    async find(idDigest) {
      const r = await db
        .selectFrom("ui_sessions as s")
        .innerJoin("principals as p", "p.id", "s.principal_id")
        .leftJoin("local_users as u", "u.principal_id", "s.principal_id")
        .select([
          "s.id_digest",
          "s.principal_id",
          "s.method",
          "s.created_at",
          "s.last_seen_at",
          "p.client_id",
          "p.display_name",
          "p.kind",
          "p.enabled",
          "p.created_at as principal_created_at",
          "u.username",
        ])
        .where("s.id_digest", "=", idDigest)
        .executeTakeFirst();
      if (!r) return undefined;
      return {
        record: {
          idDigest: r.id_digest,
          principalId: r.principal_id,
          method: r.method as SignInMethod,
          createdAt: new Date(Number(r.created_at)),
          lastSeenAt: new Date(Number(r.last_seen_at)),
        },
        principal: toPrincipal({
          id: r.principal_id,
          client_id: r.client_id,
          display_name: r.display_name,
          kind: r.kind,
          enabled: r.enabled,
          created_at: Number(r.principal_created_at),
        }),
        username: r.username ?? undefined,
      };
    },
    async touch(idDigest, at) {
      await writeTransaction(storage, (trx) =>
        trx
          .updateTable("ui_sessions")
          .set({ last_seen_at: at.getTime() })
          .where("id_digest", "=", idDigest)
          .execute(),
      );
    },
    async remove(idDigest) {
      await writeTransaction(storage, (trx) =>
        trx.deleteFrom("ui_sessions").where("id_digest", "=", idDigest).execute(),
      );
    },
  };
}
