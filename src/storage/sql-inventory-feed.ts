import type { Kysely } from "kysely";
import type {
  CaIssuedCertificate,
  InventoryFeed,
  VaultCertificateVersion,
} from "../domain/inventory/ports.js";
import type { StorageHandle } from "./database.js";
import type { Database } from "./schema.js";
import { createSqlEventStore } from "./sql-event-store.js";

const versions = (db: Kysely<Database>) =>
  db
    .selectFrom("object_versions as ov")
    .innerJoin("objects as o", (j) =>
      j
        .onRef("o.vault_id", "=", "ov.vault_id")
        .onRef("o.collection", "=", "ov.collection")
        .onRef("o.name_key", "=", "ov.name_key"),
    )
    .innerJoin("vaults as v", "v.id", "ov.vault_id")
    .where("ov.collection", "=", "certificates")
    .select([
      "ov.seq",
      "v.name as vault_name",
      "o.name",
      "ov.version",
      "ov.payload",
      "ov.properties",
      "ov.tags",
      "o.deleted_at",
    ]);

type VersionRow = {
  seq: number;
  vault_name: string;
  name: string;
  version: string;
  payload: Buffer;
  properties: string;
  tags: string;
  deleted_at: number | null;
};

function toVersion(r: VersionRow): VaultCertificateVersion {
  const properties = JSON.parse(r.properties) as { chain?: string[] };
  return {
    seq: Number(r.seq),
    vaultName: r.vault_name,
    name: r.name,
    version: r.version,
    der: new Uint8Array(r.payload),
    chain: (properties.chain ?? []).map((c) => new Uint8Array(Buffer.from(c, "base64"))),
    tags: JSON.parse(r.tags) as Record<string, string>,
    deleted: r.deleted_at !== null,
  };
}

const issued = (db: Kysely<Database>) =>
  db
    .selectFrom("ca_issued as i")
    .innerJoin("ca_authorities as a", "a.id", "i.ca_id")
    .select(["i.ca_id", "i.serial", "i.der", "i.created_at", "a.name", "a.certificate"]);

type IssuedRow = {
  ca_id: string;
  serial: string;
  der: Buffer;
  created_at: number;
  name: string;
  certificate: Buffer | null;
};

const toIssued = (r: IssuedRow): CaIssuedCertificate => ({
  caName: r.name,
  serial: r.serial,
  der: new Uint8Array(r.der),
  caCertificate: r.certificate ? new Uint8Array(r.certificate) : undefined,
  createdAt: new Date(Number(r.created_at)),
});

/** What the inventory job reads: the outbox, vault certificate versions and the CA's issuance. */
export function createSqlInventoryFeed(storage: StorageHandle): InventoryFeed {
  const { db } = storage;
  const events = createSqlEventStore(storage);
  return {
    latestEventSeq: events.latestSeq,
    events: events.after,

    async vaultVersion(vaultId, name, version) {
      const row = await versions(db)
        .where("ov.vault_id", "=", vaultId)
        .where("ov.name_key", "=", name.toLowerCase())
        .where("ov.version", "=", version)
        .executeTakeFirst();
      return row && toVersion(row);
    },

    async vaultVersions(afterSeq, limit) {
      const rows = await versions(db).where("ov.seq", ">", afterSeq).orderBy("ov.seq").limit(limit).execute();
      return rows.map(toVersion);
    },

    async caIssued(caId, serial) {
      const row = await issued(db)
        .where("i.ca_id", "=", caId)
        .where("i.serial", "=", serial)
        .executeTakeFirst();
      return row && toIssued(row);
    },

    async caIssuedPage(after, limit) {
      let q = issued(db);
      if (after !== undefined) {
        const [caId = "", serial = ""] = after.split("/");
        q = q.where((eb) =>
          eb.or([eb("i.ca_id", ">", caId), eb.and([eb("i.ca_id", "=", caId), eb("i.serial", ">", serial)])]),
        );
      }
      const rows = await q.orderBy("i.ca_id").orderBy("i.serial").limit(limit).execute();
      const last = rows.at(-1);
      return {
        items: rows.map(toIssued),
        ...(last && rows.length === limit && { next: `${last.ca_id}/${last.serial}` }),
      };
    },
  };
}
