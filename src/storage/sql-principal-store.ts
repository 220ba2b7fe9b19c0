import type { ClientSecretRecord, Principal, PrincipalKind } from "../domain/access/model.js";
import type { PrincipalStore } from "../domain/access/ports.js";
import type { StorageHandle } from "./database.js";
import type { Database } from "./schema.js";
import { fromBool, fromDate, toBool, toDate, writeTransaction } from "./transactions.js";

const toPrincipal = (r: Database["principals"]): Principal => ({
  id: r.id,
  clientId: r.client_id,
  displayName: r.display_name,
  kind: r.kind as PrincipalKind,
  enabled: toBool(r.enabled),
  createdAt: new Date(r.created_at),
});

const toSecret = (r: Database["client_secrets"]): ClientSecretRecord => ({
  id: r.id,
  principalId: r.principal_id,
  hash: r.hash,
  hint: r.hint,
  expiresAt: toDate(r.expires_at),
  createdAt: new Date(r.created_at),
});

export function createSqlPrincipalStore(storage: StorageHandle): PrincipalStore {
  const { db } = storage;
  return {
    async insert(p, s) {
      await writeTransaction(storage, async (trx) => {
        await trx
          .insertInto("principals")
          .values({
            id: p.id,
            client_id: p.clientId,
            display_name: p.displayName,
            kind: p.kind,
            enabled: fromBool(p.enabled),
            created_at: p.createdAt.getTime(),
          })
          .execute();
        await trx
          .insertInto("client_secrets")
          .values({
            id: s.id,
            principal_id: s.principalId,
            hash: s.hash,
            hint: s.hint,
            expires_at: fromDate(s.expiresAt),
            created_at: s.createdAt.getTime(),
          })
          .execute();
      });
    },
    async findByClientId(clientId) {
      const row = await db
        .selectFrom("principals")
        .selectAll()
        .where("client_id", "=", clientId)
        .executeTakeFirst();
      if (!row) return undefined;
      const secrets = await db
        .selectFrom("client_secrets")
        .selectAll()
        .where("principal_id", "=", row.id)
        .execute();
      return { principal: toPrincipal(row), secrets: secrets.map(toSecret) };
    },
    async list() {
      return (await db.selectFrom("principals").selectAll().orderBy("created_at").execute()).map(toPrincipal);
    },
  };
}
