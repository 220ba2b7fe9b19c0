import type { StorageHandle } from "./database.js";

/** Certificate operations in progress with a named issuer (not Unknown, which waits for a merge), oldest first. */
export async function findPendingIssuance(
  { db }: StorageHandle,
  limit: number,
): Promise<{ vaultId: string; name: string }[]> {
  const rows = await db
    .selectFrom("certificate_operations")
    .select(["vault_id", "name"])
    .where("status", "=", "inProgress")
    .where("key_material", "is not", null)
    .where((eb) => eb(eb.fn("lower", ["issuer_name"]), "!=", "unknown"))
    .orderBy("updated_at")
    .limit(limit)
    .execute();
  return rows.map((r) => ({ vaultId: r.vault_id, name: r.name }));
}
