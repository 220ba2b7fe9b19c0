import { createHash } from "node:crypto";
import { type Kysely, sql } from "kysely";

type Engine = "sqlite" | "postgres";

/** Results moved per statement: far below both engines' bound-parameter limits. */
const PAGE = 500;

/** The legacy `chain` column: each DER behind its 4-byte big-endian length, leaf first. */
function unpack(packed: Uint8Array): Buffer[] {
  const bytes = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
  const chain: Buffer[] = [];
  for (let at = 0; at + 4 <= bytes.length; ) {
    const length = bytes.readUInt32BE(at);
    chain.push(bytes.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return chain;
}

export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const bytes = engine === "postgres" ? "bytea" : "blob";
  // Every endpoint of a fleet behind one certificate presented the same chain, and each result row
  // held a copy of its DER: two thirds of a scan's write cost went to storing the same kilobytes
  // again. A result now names its certificates by SHA-256 and each certificate is stored once.
  await db.schema
    .createTable("discovery_certificates")
    .addColumn("sha256", bytes, (c) => c.primaryKey())
    .addColumn("der", bytes, (c) => c.notNull())
    .execute();
  await db.schema.alterTable("discovery_results").addColumn("chain_sha256", bytes).execute();

  let after: { run_id: string; location: string } | undefined;
  for (;;) {
    const { rows } = await sql<{ run_id: string; location: string; chain: Uint8Array }>`
      select run_id, location, chain from discovery_results
      where chain is not null ${after ? sql`and (run_id, location) > (${after.run_id}, ${after.location})` : sql``}
      order by run_id, location limit ${PAGE}`.execute(db);
    if (rows.length === 0) break;
    for (const row of rows) {
      const ids: Buffer[] = [];
      for (const der of unpack(row.chain)) {
        const id = createHash("sha256").update(der).digest();
        ids.push(id);
        await sql`insert into discovery_certificates (sha256, der) values (${id}, ${der})
          on conflict (sha256) do nothing`.execute(db);
      }
      await sql`update discovery_results set chain_sha256 = ${Buffer.concat(ids)}
        where run_id = ${row.run_id} and location = ${row.location}`.execute(db);
    }
    const last = rows.at(-1) as { run_id: string; location: string };
    after = { run_id: last.run_id, location: last.location };
  }
  await db.schema.alterTable("discovery_results").dropColumn("chain").execute();
}
