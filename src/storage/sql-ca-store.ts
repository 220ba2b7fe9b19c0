import { type Kysely, type Selectable, sql } from "kysely";
import type {
  CaKeyAlgorithm,
  CaStatus,
  CertificateAuthority,
  CertificateStatus,
  IssuedCertificate,
  NameConstraints,
  RevocationReason,
  StoredCrl,
} from "../domain/ca/model.js";
import type { CaStore, StatusChange } from "../domain/ca/ports.js";
import { DomainError } from "../domain/errors.js";
import type { VaultEvent } from "../domain/events/model.js";
import type { Protection, PublicKeyParts } from "../domain/keys/model.js";
import type { StorageHandle } from "./database.js";
import type { Database } from "./schema.js";
import { completeIssuedOrder } from "./sql-acme-server-store.js";
import { recordIssued } from "./sql-approval-store.js";
import { insertEvents } from "./sql-event-store.js";
import { VALUES_ROWS_PER_STATEMENT, type ValuesColumn, valuesTable } from "./sql-values.js";
import { fromDate, isUniqueViolation, toDate, writeTransaction } from "./transactions.js";

type AuthorityRow = Selectable<Database["ca_authorities"]>;
type IssuedRow = Selectable<Database["ca_issued"]>;

const b64 = (b: Buffer) => b.toString("base64");
const unb64 = (s: string) => Buffer.from(s, "base64");

interface ResponderJson {
  certificate: string;
  publicKey: PublicKeyParts;
  generation: number;
  notAfter: number;
  /** Protector material (sealed key or HSM object id), base64. */
  retiredKeyMaterial?: string | undefined;
}

function authorityRow(ca: CertificateAuthority): Database["ca_authorities"] {
  const responder: ResponderJson | undefined = ca.responder && {
    certificate: b64(ca.responder.certificate),
    publicKey: ca.responder.publicKey,
    generation: ca.responder.generation,
    notAfter: ca.responder.notAfter.getTime(),
    retiredKeyMaterial: ca.responder.retiredKeyMaterial && b64(ca.responder.retiredKeyMaterial),
  };
  return {
    id: ca.id,
    name_key: ca.name.toLowerCase(),
    name: ca.name,
    kind: ca.kind,
    status: ca.status,
    parent_id: ca.parentId ?? null,
    subject: ca.subject,
    key_algorithm: ca.keyAlgorithm,
    protection: ca.protection,
    public_key: JSON.stringify(ca.publicKey),
    key_material: ca.keyMaterial,
    certificate: ca.certificate ?? null,
    chain: JSON.stringify(ca.chain.map(b64)),
    csr: ca.csr ?? null,
    path_length: ca.pathLength ?? null,
    name_constraints: ca.nameConstraints ? JSON.stringify(ca.nameConstraints) : null,
    policies: JSON.stringify(ca.policies),
    crl_shards: ca.crlShards,
    crl_number: 0,
    not_after: fromDate(ca.notAfter),
    responder: responder ? JSON.stringify(responder) : null,
    responder_key_material: ca.responder?.keyMaterial ?? null,
    created_at: ca.createdAt.getTime(),
    updated_at: ca.updatedAt.getTime(),
  };
}

function toAuthority(r: AuthorityRow): CertificateAuthority {
  const responder = r.responder ? (JSON.parse(r.responder) as ResponderJson) : undefined;
  return {
    id: r.id,
    name: r.name,
    kind: r.kind as CertificateAuthority["kind"],
    status: r.status as CaStatus,
    parentId: r.parent_id ?? undefined,
    subject: r.subject,
    keyAlgorithm: r.key_algorithm as CaKeyAlgorithm,
    protection: r.protection as Protection,
    publicKey: JSON.parse(r.public_key) as PublicKeyParts,
    keyMaterial: Buffer.from(r.key_material),
    certificate: r.certificate ? Buffer.from(r.certificate) : undefined,
    chain: (JSON.parse(r.chain) as string[]).map(unb64),
    csr: r.csr ? Buffer.from(r.csr) : undefined,
    pathLength: r.path_length ?? undefined,
    nameConstraints: r.name_constraints ? (JSON.parse(r.name_constraints) as NameConstraints) : undefined,
    policies: JSON.parse(r.policies) as string[],
    crlShards: r.crl_shards,
    notAfter: toDate(r.not_after),
    responder:
      responder && r.responder_key_material
        ? {
            certificate: unb64(responder.certificate),
            publicKey: responder.publicKey,
            generation: responder.generation,
            notAfter: new Date(responder.notAfter),
            keyMaterial: Buffer.from(r.responder_key_material),
            retiredKeyMaterial: responder.retiredKeyMaterial
              ? unb64(responder.retiredKeyMaterial)
              : undefined,
          }
        : undefined,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

function toIssued(r: IssuedRow): IssuedCertificate {
  return {
    caId: r.ca_id,
    serial: r.serial,
    subject: r.subject,
    notBefore: new Date(r.not_before),
    notAfter: new Date(r.not_after),
    der: Buffer.from(r.der),
    shard: r.shard,
    status: r.status as CertificateStatus,
    revokedAt: toDate(r.revoked_at),
    reason: (r.reason ?? undefined) as RevocationReason | undefined,
    vault:
      r.vault_id && r.vault_name && r.certificate_name && r.certificate_version
        ? {
            vaultId: r.vault_id,
            vaultName: r.vault_name,
            name: r.certificate_name,
            version: r.certificate_version,
          }
        : undefined,
    createdAt: new Date(r.created_at),
  };
}

const STATUS_COLUMNS: readonly ValuesColumn[] = [
  ["ca_id", "text"],
  ["serial", "text"],
  ["status", "text"],
  ["revoked_at", "bigint"],
  ["reason", "text"],
];
const VERSION_COLUMNS: readonly ValuesColumn[] = [
  ["vault_id", "text"],
  ["name_key", "text"],
  ["version", "text"],
];

/**
 * Marks (or unmarks) the vault certificate versions the CA certificates back as revoked, in the
 * caller's transaction: the versions read and written a few hundred a statement each.
 */
async function markVaultVersions(
  trx: Kysely<Database>,
  marks: readonly { issued: IssuedRow; revocation: { reason: string; revokedAt: number } | undefined }[],
): Promise<void> {
  const byVersion = new Map<string, (typeof marks)[number]>();
  const key = (vaultId: string, nameKey: string, version: string) => `${vaultId}/${nameKey}/${version}`;
  for (const mark of marks) {
    const { vault_id, certificate_name_key, certificate_version } = mark.issued;
    if (vault_id && certificate_name_key && certificate_version)
      byVersion.set(key(vault_id, certificate_name_key, certificate_version), mark);
  }
  const wanted = [...byVersion.values()].map(({ issued }) => [
    issued.vault_id,
    issued.certificate_name_key,
    issued.certificate_version,
  ]);
  for (let i = 0; i < wanted.length; i += VALUES_ROWS_PER_STATEMENT) {
    const { rows } = await sql<{ vault_id: string; name_key: string; version: string; properties: string }>`
      with ${valuesTable("wanted", VERSION_COLUMNS, wanted.slice(i, i + VALUES_ROWS_PER_STATEMENT))}
      select v.vault_id, v.name_key, v.version, v.properties
      from wanted join object_versions v
        on v.vault_id = wanted.vault_id and v.collection = 'certificates'
        and v.name_key = wanted.name_key and v.version = wanted.version`.execute(trx);
    // A vault certificate may have been purged since; the CA's record is what remains.
    if (rows.length === 0) continue;
    const changed = rows.map((row) => {
      const { revocation } = byVersion.get(
        key(row.vault_id, row.name_key, row.version),
      ) as (typeof marks)[number];
      const properties = JSON.parse(row.properties) as Record<string, unknown>;
      if (revocation) properties.revocation = revocation;
      else delete properties.revocation;
      return [row.vault_id, row.name_key, row.version, JSON.stringify(properties)];
    });
    await sql`with ${valuesTable("marked", [...VERSION_COLUMNS, ["properties", "text"]], changed)}
      update object_versions set properties = marked.properties
      from marked
      where object_versions.vault_id = marked.vault_id and object_versions.collection = 'certificates'
        and object_versions.name_key = marked.name_key and object_versions.version = marked.version`.execute(
      trx,
    );
  }
}

/**
 * `ca_issued` rows a statement: 16 values each, 4,000 a statement, far within SQLite's 32,766 and
 * PostgreSQL's 65,535 bound parameters.
 */
const ISSUED_ROWS_PER_STATEMENT = 250;

/**
 * Stores issued certificates with their events, in the caller's transaction: one statement for up
 * to ISSUED_ROWS_PER_STATEMENT of them (a campaign batch stores many).
 */
export async function insertIssuedIn(
  trx: Kysely<Database>,
  issued: readonly IssuedCertificate[],
  events: readonly VaultEvent[],
): Promise<void> {
  for (let i = 0; i < issued.length; i += ISSUED_ROWS_PER_STATEMENT) {
    await trx
      .insertInto("ca_issued")
      .values(
        issued.slice(i, i + ISSUED_ROWS_PER_STATEMENT).map((one) => ({
          ca_id: one.caId,
          serial: one.serial,
          subject: one.subject,
          not_before: one.notBefore.getTime(),
          not_after: one.notAfter.getTime(),
          der: one.der,
          shard: one.shard,
          status: one.status,
          revoked_at: fromDate(one.revokedAt),
          reason: one.reason ?? null,
          vault_id: one.vault?.vaultId ?? null,
          vault_name: one.vault?.vaultName ?? null,
          certificate_name_key: one.vault?.name.toLowerCase() ?? null,
          certificate_name: one.vault?.name ?? null,
          certificate_version: one.vault?.version ?? null,
          created_at: one.createdAt.getTime(),
        })),
      )
      .execute();
  }
  await insertEvents(trx, events);
}

/**
 * Sets certificates' statuses, marks the vault versions they back and stores the events (unless the
 * caller stores them with others of its own), in the caller's transaction; the certificates are read
 * a few hundred a statement (a campaign batch revokes many). NotFound when one of them does not
 * exist, and the caller's transaction then stores nothing.
 */
export async function changeStatusIn(
  trx: Kysely<Database>,
  changes: readonly StatusChange[],
  { events = true }: { events?: boolean } = {},
): Promise<void> {
  const found = new Map<string, IssuedRow>();
  const key = (caId: string, serial: string) => `${caId}/${serial}`;
  for (let i = 0; i < changes.length; i += VALUES_ROWS_PER_STATEMENT) {
    const some = changes.slice(i, i + VALUES_ROWS_PER_STATEMENT);
    const rows = await trx
      .selectFrom("ca_issued")
      .selectAll()
      .where("serial", "in", [...new Set(some.map((c) => c.serial))])
      .execute();
    for (const row of rows) found.set(key(row.ca_id, row.serial), row);
  }
  for (const change of changes)
    if (!found.has(key(change.caId, change.serial)))
      throw new DomainError("NotFound", `No certificate with serial ${change.serial}`);
  // The last change of a certificate is the one that holds, as when they were made one by one.
  const last = new Map(changes.map((c) => [key(c.caId, c.serial), c]));
  const statuses = [...last.values()].map((c) => [
    c.caId,
    c.serial,
    c.status,
    fromDate(c.revokedAt),
    c.reason ?? null,
  ]);
  for (let i = 0; i < statuses.length; i += VALUES_ROWS_PER_STATEMENT)
    await sql`with ${valuesTable("new_status", STATUS_COLUMNS, statuses.slice(i, i + VALUES_ROWS_PER_STATEMENT))}
      update ca_issued set status = new_status.status, revoked_at = new_status.revoked_at, reason = new_status.reason
      from new_status
      where ca_issued.ca_id = new_status.ca_id and ca_issued.serial = new_status.serial`.execute(trx);
  await markVaultVersions(
    trx,
    [...last.entries()].map(([k, change]) => ({
      issued: found.get(k) as IssuedRow,
      revocation:
        change.status === "good" || !change.revokedAt
          ? undefined
          : { reason: change.reason ?? "unspecified", revokedAt: change.revokedAt.getTime() },
    })),
  );
  if (events)
    await insertEvents(
      trx,
      changes.flatMap((c) => c.events),
    );
}

export function createSqlCaStore(storage: StorageHandle): CaStore {
  const { db } = storage;
  const authorityById = (q: Kysely<Database>, idOrName: string) =>
    q
      .selectFrom("ca_authorities")
      .selectAll()
      .where((eb) => eb.or([eb("id", "=", idOrName), eb("name_key", "=", idOrName.toLowerCase())]))
      .executeTakeFirst();

  return {
    async insertAuthority(ca) {
      try {
        await writeTransaction(storage, (trx) =>
          trx.insertInto("ca_authorities").values(authorityRow(ca)).execute(),
        );
      } catch (error) {
        if (isUniqueViolation(error))
          throw new DomainError("Conflict", `A certificate authority named ${ca.name} exists`);
        throw error;
      }
    },

    async updateAuthority(ca) {
      const { crl_number: _keep, id: _id, created_at: _created, ...row } = authorityRow(ca);
      await writeTransaction(storage, (trx) =>
        trx.updateTable("ca_authorities").set(row).where("id", "=", ca.id).execute(),
      );
    },

    async getAuthority(idOrName) {
      const row = await authorityById(db, idOrName);
      return row && toAuthority(row);
    },

    async listAuthorities() {
      const rows = await db
        .selectFrom("ca_authorities")
        .selectAll()
        .orderBy("created_at")
        .orderBy("id")
        .execute();
      return rows.map(toAuthority);
    },

    async insertIssued(issued, events, completes = {}) {
      const { approvalId, acmeOrder } = completes;
      await writeTransaction(storage, async (trx) => {
        if (
          approvalId !== undefined &&
          !(await recordIssued(trx, approvalId, { caId: issued.caId, serial: issued.serial }))
        )
          throw new DomainError(
            "Conflict",
            `Approval request ${approvalId} has its certificate already, or is not approved`,
            { reason: "ApprovalAlreadyIssued" },
          );
        if (acmeOrder && !(await completeIssuedOrder(trx, acmeOrder, issued.serial)))
          throw new DomainError(
            "Conflict",
            `Order ${acmeOrder.id} is no longer ${acmeOrder.from}: it has its certificate already or failed`,
            { reason: "AcmeOrderFinalized" },
          );
        await insertIssuedIn(trx, [issued], events);
      });
    },

    async getIssued(caId, serial) {
      const row = await db
        .selectFrom("ca_issued")
        .selectAll()
        .where("ca_id", "=", caId)
        .where("serial", "=", serial)
        .executeTakeFirst();
      return row && toIssued(row);
    },

    async findBySerial(serial) {
      const rows = await db.selectFrom("ca_issued").selectAll().where("serial", "=", serial).execute();
      return rows.map(toIssued);
    },

    async findByVaultVersion(vaultId, name, version) {
      const row = await db
        .selectFrom("ca_issued")
        .selectAll()
        .where("vault_id", "=", vaultId)
        .where("certificate_name_key", "=", name.toLowerCase())
        .where("certificate_version", "=", version)
        .executeTakeFirst();
      return row && toIssued(row);
    },

    async findByVaultVersions(vaultId, versions) {
      const wanted = versions.map(({ name, version }) => [vaultId, name.toLowerCase(), version]);
      const found: IssuedCertificate[] = [];
      for (let i = 0; i < wanted.length; i += VALUES_ROWS_PER_STATEMENT) {
        const { rows } = await sql<IssuedRow>`
          with ${valuesTable("wanted", VERSION_COLUMNS, wanted.slice(i, i + VALUES_ROWS_PER_STATEMENT))}
          select i.* from wanted join ca_issued i
            on i.vault_id = wanted.vault_id and i.certificate_name_key = wanted.name_key
            and i.certificate_version = wanted.version`.execute(db);
        found.push(...rows.map(toIssued));
      }
      return found;
    },

    async listIssued(caId, limit, after) {
      let query = db.selectFrom("ca_issued").selectAll().where("ca_id", "=", caId);
      if (after) query = query.where("serial", ">", after);
      const rows = await query.orderBy("serial").limit(limit).execute();
      return rows.map(toIssued);
    },

    async revoked(caId, shard) {
      let query = db
        .selectFrom("ca_issued")
        .select(["serial", "status", "reason", "revoked_at", "created_at"])
        .where("ca_id", "=", caId)
        .where("status", "<>", "good");
      if (shard >= 0) query = query.where("shard", "=", shard);
      const rows = await query.orderBy("serial").execute();
      return rows.map((r) => ({
        serial: r.serial,
        revokedAt: new Date(r.revoked_at ?? r.created_at),
        reason: r.status === "hold" ? "certificateHold" : ((r.reason ?? "unspecified") as RevocationReason),
      }));
    },

    async changeStatus(change) {
      await writeTransaction(storage, (trx) => changeStatusIn(trx, [change]));
    },

    async nextCrlNumber(caId) {
      const row = await writeTransaction(storage, (trx) =>
        trx
          .updateTable("ca_authorities")
          .set((eb) => ({ crl_number: eb("crl_number", "+", 1) }))
          .where("id", "=", caId)
          .returning("crl_number")
          .executeTakeFirstOrThrow(),
      );
      return Number(row.crl_number);
    },

    async putCrl(crl) {
      const row = {
        ca_id: crl.caId,
        shard: crl.shard,
        number: crl.number,
        this_update: crl.thisUpdate.getTime(),
        next_update: crl.nextUpdate.getTime(),
        der: crl.der,
      };
      // Two nodes may regenerate at once; the higher CRL number wins (RFC 5280 §5.2.3).
      await writeTransaction(storage, (trx) =>
        trx
          .insertInto("ca_crls")
          .values(row)
          .onConflict((oc) =>
            oc
              .columns(["ca_id", "shard"])
              .doUpdateSet({
                number: row.number,
                this_update: row.this_update,
                next_update: row.next_update,
                der: row.der,
              })
              .where("ca_crls.number", "<", row.number),
          )
          .execute(),
      );
    },

    async getCrl(caId, shard): Promise<StoredCrl | undefined> {
      const row = await db
        .selectFrom("ca_crls")
        .selectAll()
        .where("ca_id", "=", caId)
        .where("shard", "=", shard)
        .executeTakeFirst();
      return (
        row && {
          caId: row.ca_id,
          shard: row.shard,
          number: Number(row.number),
          thisUpdate: new Date(row.this_update),
          nextUpdate: new Date(row.next_update),
          der: Buffer.from(row.der),
        }
      );
    },
  };
}
