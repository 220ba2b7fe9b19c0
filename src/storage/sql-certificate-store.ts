import type { Insertable, Kysely } from "kysely";
import type { ApprovalChange } from "../domain/approvals/ports.js";
import type {
  CertificateContentType,
  CertificateIssuer,
  CertificateOperation,
  CertificatePolicy,
  CertificateVersion,
  ChainVerdict,
  Contact,
  OperationStatus,
} from "../domain/certificates/model.js";
import type { CertificateStore, IssuedVersion } from "../domain/certificates/ports.js";
import { DomainError } from "../domain/errors.js";
import type { StorageHandle } from "./database.js";
import { boundRows, precompiled, slot, slotRows } from "./precompiled.js";
import type { Database } from "./schema.js";
import { decidePending, insertApproval } from "./sql-approval-store.js";
import { insertEvents } from "./sql-event-store.js";
import { keyCodec } from "./sql-key-store.js";
import {
  createSqlObjectPolicies,
  createSqlObjectStore,
  createVersionWriter,
  type ObjectCodec,
  refuseUnmanagedNamesake,
  unmanagedNamesakes,
  updateVersionRow,
} from "./sql-object-store.js";
import { secretCodec } from "./sql-secret-store.js";
import { VALUES_ROWS_PER_STATEMENT } from "./sql-values.js";
import { fromBool, toBool, writeTransaction } from "./transactions.js";

const BACKED = ["certificates", "keys", "secrets"] as const;
const nameKey = (name: string) => name.toLowerCase();

/** Written by the private CA's store when it revokes the certificate (sql-ca-store.ts). */
function revocationOf(value: unknown): CertificateVersion["revocation"] {
  const r = value as { reason?: string; revokedAt?: number } | undefined;
  return r?.reason && r.revokedAt ? { reason: r.reason, revokedAt: new Date(r.revokedAt) } : undefined;
}

export const certificateCodec: ObjectCodec<CertificateVersion, CertificateVersion> = {
  noun: "Certificate",
  properties: (v) => ({
    chain: v.chain.map((c) => c.toString("base64")),
    thumbprint: v.thumbprint.toString("base64"),
    contentType: v.contentType,
    chainVerdict: v.chainVerdict,
    ...(v.revocation && {
      revocation: { reason: v.revocation.reason, revokedAt: v.revocation.revokedAt.getTime() },
    }),
  }),
  payload: (v) => v.cer,
  fromRow: (common, p) => ({
    ...common,
    cer: Buffer.alloc(0),
    chain: (p.chain as string[]).map((c) => Buffer.from(c, "base64")),
    thumbprint: Buffer.from(p.thumbprint as string, "base64"),
    contentType: p.contentType as CertificateContentType,
    chainVerdict: p.chainVerdict as ChainVerdict,
    revocation: revocationOf(p.revocation),
  }),
  withPayload: (version, cer) => ({ ...version, cer }),
};

interface StoredPolicy extends Omit<CertificatePolicy, "createdAt" | "updatedAt"> {
  createdAt?: number | undefined;
  updatedAt?: number | undefined;
}

const policyToJson = (p: CertificatePolicy): StoredPolicy => ({
  ...p,
  createdAt: p.createdAt?.getTime(),
  updatedAt: p.updatedAt?.getTime(),
});
const policyFromJson = (p: StoredPolicy): CertificatePolicy => ({
  ...p,
  createdAt: p.createdAt === undefined ? undefined : new Date(p.createdAt),
  updatedAt: p.updatedAt === undefined ? undefined : new Date(p.updatedAt),
});

type OperationRow = Database["certificate_operations"];

interface NewVersionRow {
  deleted_at: number | null;
  policy: string | null;
  status: string | null;
}

/**
 * An operation's policy column also carries the `enabled` its create asked for, which the version
 * takes when the operation completes later: a JSON member, so the table needs no column for it.
 */
function operationPolicy(json: string): Pick<CertificateOperation, "policy" | "versionEnabled"> {
  const { versionEnabled, ...policy } = JSON.parse(json) as StoredPolicy & { versionEnabled?: unknown };
  return {
    policy: policyFromJson(policy as StoredPolicy),
    versionEnabled: typeof versionEnabled === "boolean" ? versionEnabled : undefined,
  };
}

const toOperation = (r: OperationRow): CertificateOperation => ({
  vaultId: r.vault_id,
  name: r.name,
  requestId: r.request_id,
  status: r.status as OperationStatus,
  statusDetails: r.status_details ?? undefined,
  issuerName: r.issuer_name,
  csr: Buffer.from(r.csr),
  cancellationRequested: toBool(r.cancellation_requested),
  error: r.error_code ? { code: r.error_code, message: r.error_message ?? "" } : undefined,
  ...operationPolicy(r.policy),
  tags: JSON.parse(r.tags) as Record<string, string>,
  targetVersion: r.target_version ?? undefined,
  keyMaterial: r.key_material ? Buffer.from(r.key_material) : undefined,
  keyVersion: r.key_version,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
  approvalId: r.approval_id ?? undefined,
  approvalReleased: toBool(r.approval_released),
});

const operationRow = (o: CertificateOperation): OperationRow => ({
  vault_id: o.vaultId,
  name_key: nameKey(o.name),
  name: o.name,
  request_id: o.requestId,
  status: o.status,
  status_details: o.statusDetails ?? null,
  issuer_name: o.issuerName,
  csr: o.csr,
  cancellation_requested: fromBool(o.cancellationRequested),
  error_code: o.error?.code ?? null,
  error_message: o.error?.message ?? null,
  policy: JSON.stringify({
    ...policyToJson(o.policy),
    ...(o.versionEnabled !== undefined && { versionEnabled: o.versionEnabled }),
  }),
  tags: JSON.stringify(o.tags),
  target_version: o.targetVersion ?? null,
  key_material: o.keyMaterial ?? null,
  key_version: o.keyVersion,
  created_at: o.createdAt.getTime(),
  updated_at: o.updatedAt.getTime(),
  approval_id: o.approvalId ?? null,
  approval_released: fromBool(o.approvalReleased ?? false),
});

type IssuerRow = Database["certificate_issuers"];

const toIssuer = (r: IssuerRow): CertificateIssuer => ({
  vaultId: r.vault_id,
  name: r.name,
  provider: r.provider,
  accountId: r.account_id ?? undefined,
  sealedPassword: r.sealed_password ? Buffer.from(r.sealed_password) : undefined,
  organizationId: r.organization_id ?? undefined,
  administrators: JSON.parse(r.administrators) as CertificateIssuer["administrators"],
  enabled: toBool(r.enabled),
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
});

async function setPolicy(trx: Kysely<Database>, vaultId: string, name: string, policy: CertificatePolicy) {
  await trx
    .updateTable("objects")
    .set({ policy: JSON.stringify(policyToJson(policy)) })
    .where("vault_id", "=", vaultId)
    .where("collection", "=", "certificates")
    .where("name_key", "=", nameKey(name))
    .execute();
}

const OPERATION_COLUMNS = [
  "vault_id",
  "name_key",
  "name",
  "request_id",
  "status",
  "status_details",
  "issuer_name",
  "csr",
  "cancellation_requested",
  "error_code",
  "error_message",
  "policy",
  "tags",
  "target_version",
  "key_material",
  "key_version",
  "created_at",
  "updated_at",
  "approval_id",
  "approval_released",
] as const satisfies readonly (keyof OperationRow)[];

/** Inserts or replaces a certificate's operation, in the caller's transaction; compiled once. */
/** A held operation's approval request, new (pending) or withdrawn, written in the operation's transaction. */
async function writeApproval(trx: Kysely<Database>, approval: ApprovalChange | undefined) {
  if (!approval) return;
  if (approval.request.state === "pending") await insertApproval(trx, approval);
  else await decidePending(trx, approval);
}

function operationWriter(db: Kysely<Database>) {
  const changed = OPERATION_COLUMNS.filter((c) => c !== "vault_id" && c !== "name_key");
  const upsert = precompiled(
    db
      .insertInto("certificate_operations")
      .values(slotRows(OPERATION_COLUMNS, 1) as unknown as Insertable<OperationRow>[])
      .onConflict((oc) =>
        oc
          .columns(["vault_id", "name_key"])
          .doUpdateSet((eb) => Object.fromEntries(changed.map((c) => [c, eb.ref(`excluded.${c}`)]))),
      ),
  );
  return async (trx: Kysely<Database>, o: CertificateOperation) => {
    await upsert(trx, boundRows([operationRow(o)]));
  };
}

/**
 * Issued versions stored by one statement per table: three rows each of `objects` and
 * `object_versions` (13 values a row) make 2,496 values, within SQLite's 32,766 and PostgreSQL's
 * 65,535 bound parameters.
 */
const ISSUED_PER_STATEMENT = 64;

/**
 * Writes issued versions (certificate, key, secret, policy, operation, events) in the caller's
 * transaction: the certificate store's one, or a campaign batch's many, a statement per table for
 * up to ISSUED_PER_STATEMENT of them rather than one per row. The events are left to the caller
 * when it stores them with others of its own.
 */
export function createIssuedWriter(db: Kysely<Database>) {
  const { insertVersions } = createVersionWriter(db);
  const putOperation = operationWriter(db);
  return async (
    trx: Kysely<Database>,
    issued: readonly IssuedVersion[],
    { events = true }: { events?: boolean } = {},
  ) => {
    for (let i = 0; i < issued.length; i += ISSUED_PER_STATEMENT) {
      await insertVersions(
        trx,
        issued.slice(i, i + ISSUED_PER_STATEMENT).flatMap(({ certificate, key, secret, policy }) => [
          {
            collection: "certificates" as const,
            codec: certificateCodec,
            version: certificate,
            policy: JSON.stringify(policyToJson(policy)),
          },
          { collection: "keys" as const, codec: keyCodec, version: key },
          { collection: "secrets" as const, codec: secretCodec, version: secret },
        ]),
        { backing: true },
      );
    }
    for (const { operation } of issued) if (operation) await putOperation(trx, operation);
    if (events)
      await insertEvents(
        trx,
        issued.flatMap((v) => v.events ?? []),
      );
  };
}

export function createSqlCertificateStore(storage: StorageHandle): CertificateStore {
  const { db } = storage;
  const { insertVersions } = createVersionWriter(db);
  const putOperation = operationWriter(db);
  const writeIssued = createIssuedWriter(db);
  // What a new version is checked against, in one statement: the certificate's object row (deleted
  // or live with its policy) and its operation's status.
  const newVersionQuery = precompiled<NewVersionRow, "vaultId" | "nameKey">(
    db.selectNoFrom((eb) => {
      const certificate = eb
        .selectFrom("objects")
        .where("vault_id", "=", slot("vaultId"))
        .where("collection", "=", "certificates")
        .where("name_key", "=", slot("nameKey"));
      return [
        certificate.select("deleted_at").as("deleted_at"),
        certificate.select("policy").as("policy"),
        eb
          .selectFrom("certificate_operations")
          .select("status")
          .where("vault_id", "=", slot("vaultId"))
          .where("name_key", "=", slot("nameKey"))
          .as("status"),
      ];
    }),
  );
  const store = createSqlObjectStore(storage, "certificates", certificateCodec);
  const policies = createSqlObjectPolicies(storage, "certificates");
  const backed = (q: Kysely<Database>, vaultId: string, name: string) =>
    q
      .updateTable("objects")
      .where("vault_id", "=", vaultId)
      .where("name_key", "=", nameKey(name))
      .where("collection", "in", [...BACKED]);

  return {
    ...store,

    async addIssued(issued) {
      await writeTransaction(storage, (trx) => writeIssued(trx, [issued]));
    },

    async restoreIssued(versions, events) {
      const first = versions[0];
      if (!first) return;
      const { vaultId, name } = first.certificate;
      await writeTransaction(storage, async (trx) => {
        const taken = await trx
          .selectFrom("objects")
          .select("collection")
          .where("vault_id", "=", vaultId)
          .where("name_key", "=", nameKey(name))
          .where("collection", "in", [...BACKED])
          .executeTakeFirst();
        if (taken) {
          throw new DomainError(
            "Conflict",
            `A ${taken.collection.slice(0, -1)} named ${name} already exists in this vault (live or deleted); restore into another vault or purge it first`,
          );
        }
        for (const { certificate, key, secret } of versions) {
          await insertVersions(trx, [
            { collection: "certificates", codec: certificateCodec, version: certificate },
            { collection: "keys", codec: keyCodec, version: key },
            { collection: "secrets", codec: secretCodec, version: secret },
          ]);
        }
        const last = versions[versions.length - 1] ?? first;
        await setPolicy(trx, vaultId, name, last.policy);
        await insertEvents(trx, events);
      });
    },

    async softDeleteWithBacking(vaultId, name, deletedAt, purgeAt, events, withdrawal) {
      return writeTransaction(storage, async (trx) => {
        const result = await backed(trx, vaultId, name)
          .set({ deleted_at: deletedAt.getTime(), scheduled_purge_at: purgeAt.getTime() })
          .where("deleted_at", "is", null)
          .execute();
        const changed = result.some((r) => Number(r.numUpdatedRows) > 0);
        if (changed) {
          await insertEvents(trx, events);
          await writeApproval(trx, withdrawal);
        }
        return changed;
      });
    },

    async recoverWithBacking(vaultId, name, events) {
      return writeTransaction(storage, async (trx) => {
        const result = await backed(trx, vaultId, name)
          .set({ deleted_at: null, scheduled_purge_at: null })
          .where("deleted_at", "is not", null)
          .execute();
        const changed = result.some((r) => Number(r.numUpdatedRows) > 0);
        if (changed) await insertEvents(trx, events);
        return changed;
      });
    },

    async purgeWithBacking(vaultId, name, events) {
      return writeTransaction(storage, async (trx) => {
        const versions = (collection: string) =>
          trx
            .selectFrom("object_versions")
            .where("vault_id", "=", vaultId)
            .where("collection", "=", collection)
            .where("name_key", "=", nameKey(name));
        const keys = (await versions("keys").selectAll().execute()).map((r) =>
          keyCodec.withPayload(
            keyCodec.fromRow(
              {
                vaultId: r.vault_id,
                name,
                version: r.version,
                tags: {},
                enabled: toBool(r.enabled),
                managed: true,
                createdAt: new Date(r.created_at),
                updatedAt: new Date(r.updated_at),
              },
              JSON.parse(r.properties) as Record<string, unknown>,
            ),
            Buffer.from(r.payload),
          ),
        );
        // Only now: the delete cascades to the versions, whose key payloads (HSM object ids) must
        // reach the caller to be destroyed.
        const deleted = await trx
          .deleteFrom("objects")
          .where("vault_id", "=", vaultId)
          .where("name_key", "=", nameKey(name))
          .where("collection", "in", [...BACKED])
          .where("deleted_at", "is not", null)
          .executeTakeFirst();
        if (Number(deleted.numDeletedRows) === 0) return undefined;
        await trx
          .deleteFrom("object_versions")
          .where("vault_id", "=", vaultId)
          .where("name_key", "=", nameKey(name))
          .where("collection", "in", [...BACKED])
          .execute();
        const operation = await trx
          .deleteFrom("certificate_operations")
          .where("vault_id", "=", vaultId)
          .where("name_key", "=", nameKey(name))
          .returningAll()
          .executeTakeFirst();
        await insertEvents(trx, events);
        return { keys, operation: operation && toOperation(operation) };
      });
    },

    async updateIssued(certificate, policy) {
      const { vaultId, name, version } = certificate;
      await writeTransaction(storage, async (trx) => {
        await updateVersionRow(trx, "certificates", certificateCodec, certificate);
        await trx
          .updateTable("object_versions")
          .set({ enabled: fromBool(certificate.enabled), updated_at: certificate.updatedAt.getTime() })
          .where("vault_id", "=", vaultId)
          .where("collection", "in", ["keys", "secrets"])
          .where("name_key", "=", nameKey(name))
          .where("version", "=", version)
          .where("enabled", "!=", fromBool(certificate.enabled))
          .execute();
        if (policy) await setPolicy(trx, vaultId, name, policy);
      });
    },

    async getPolicy(vaultId, name) {
      const stored = await policies.get<StoredPolicy>(vaultId, name);
      return stored && policyFromJson(stored);
    },
    async getDeletedPolicy(vaultId, name) {
      const row = await db
        .selectFrom("objects")
        .select("policy")
        .where("vault_id", "=", vaultId)
        .where("collection", "=", "certificates")
        .where("name_key", "=", nameKey(name))
        .where("deleted_at", "is not", null)
        .executeTakeFirst();
      return row?.policy ? policyFromJson(JSON.parse(row.policy) as StoredPolicy) : undefined;
    },
    async putPolicy(vaultId, name, policy) {
      await policies.put(vaultId, name, policyToJson(policy));
    },

    refuseUnmanagedNamesake: (vaultId, name) => refuseUnmanagedNamesake(db, vaultId, name),

    async newVersionState(vaultId, name) {
      const row = (await newVersionQuery(db, { vaultId, nameKey: nameKey(name) })).rows[0];
      return {
        deleted: row?.deleted_at != null,
        policy: row?.policy ? policyFromJson(JSON.parse(row.policy) as StoredPolicy) : undefined,
        operationStatus: (row?.status ?? undefined) as OperationStatus | undefined,
      };
    },

    async newVersionStates(vaultId, names) {
      const keys = [...new Set(names.map(nameKey))];
      const certificates = new Map<string, { deleted_at: number | null; policy: string | null }>();
      const operations = new Map<string, string>();
      for (let i = 0; i < keys.length; i += VALUES_ROWS_PER_STATEMENT) {
        const some = keys.slice(i, i + VALUES_ROWS_PER_STATEMENT);
        const [objects, pending] = await Promise.all([
          db
            .selectFrom("objects")
            .select(["name_key", "deleted_at", "policy"])
            .where("vault_id", "=", vaultId)
            .where("collection", "=", "certificates")
            .where("name_key", "in", some)
            .execute(),
          db
            .selectFrom("certificate_operations")
            .select(["name_key", "status"])
            .where("vault_id", "=", vaultId)
            .where("name_key", "in", some)
            .execute(),
        ]);
        for (const row of objects) certificates.set(row.name_key, row);
        for (const row of pending) operations.set(row.name_key, row.status);
      }
      const clashes = await unmanagedNamesakes(db, vaultId, names);
      return new Map(
        keys.map((key) => {
          const row = certificates.get(key);
          const clash = clashes.get(key);
          return [
            key,
            {
              deleted: row?.deleted_at != null,
              policy: row?.policy ? policyFromJson(JSON.parse(row.policy) as StoredPolicy) : undefined,
              operationStatus: operations.get(key) as OperationStatus | undefined,
              ...(clash && { unmanagedNamesake: clash }),
            },
          ];
        }),
      );
    },

    async getOperation(vaultId, name) {
      const row = await db
        .selectFrom("certificate_operations")
        .selectAll()
        .where("vault_id", "=", vaultId)
        .where("name_key", "=", nameKey(name))
        .executeTakeFirst();
      return row && toOperation(row);
    },
    putOperation: (operation, approval) =>
      writeTransaction(storage, async (trx) => {
        await putOperation(trx, operation);
        await writeApproval(trx, approval);
      }),
    async deleteOperation(vaultId, name, withdrawal) {
      const result = await writeTransaction(storage, async (trx) => {
        const deleted = await trx
          .deleteFrom("certificate_operations")
          .where("vault_id", "=", vaultId)
          .where("name_key", "=", nameKey(name))
          .executeTakeFirst();
        await writeApproval(trx, withdrawal);
        return deleted;
      });
      return Number(result.numDeletedRows) > 0;
    },
    async listOperations(vaultId) {
      const rows = await db
        .selectFrom("certificate_operations")
        .selectAll()
        .where("vault_id", "=", vaultId)
        .execute();
      return rows.map(toOperation);
    },

    async listIssuers(vaultId) {
      const rows = await db
        .selectFrom("certificate_issuers")
        .selectAll()
        .where("vault_id", "=", vaultId)
        .orderBy("name_key")
        .execute();
      return rows.map(toIssuer);
    },
    async getIssuer(vaultId, name) {
      const row = await db
        .selectFrom("certificate_issuers")
        .selectAll()
        .where("vault_id", "=", vaultId)
        .where("name_key", "=", nameKey(name))
        .executeTakeFirst();
      return row && toIssuer(row);
    },
    async putIssuer(i) {
      const row: IssuerRow = {
        vault_id: i.vaultId,
        name_key: nameKey(i.name),
        name: i.name,
        provider: i.provider,
        account_id: i.accountId ?? null,
        sealed_password: i.sealedPassword ?? null,
        organization_id: i.organizationId ?? null,
        administrators: JSON.stringify(i.administrators),
        enabled: fromBool(i.enabled),
        created_at: i.createdAt.getTime(),
        updated_at: i.updatedAt.getTime(),
      };
      const { vault_id: _v, name_key: _n, created_at: _c, ...changes } = row;
      await writeTransaction(storage, (trx) =>
        trx
          .insertInto("certificate_issuers")
          .values(row)
          .onConflict((oc) => oc.columns(["vault_id", "name_key"]).doUpdateSet(changes))
          .execute(),
      );
    },
    async deleteIssuer(vaultId, name) {
      const result = await writeTransaction(storage, (trx) =>
        trx
          .deleteFrom("certificate_issuers")
          .where("vault_id", "=", vaultId)
          .where("name_key", "=", nameKey(name))
          .executeTakeFirst(),
      );
      return Number(result.numDeletedRows) > 0;
    },

    async getContacts(vaultId) {
      const row = await db
        .selectFrom("certificate_contacts")
        .select("contacts")
        .where("vault_id", "=", vaultId)
        .executeTakeFirst();
      return row ? (JSON.parse(row.contacts) as Contact[]) : undefined;
    },
    async putContacts(vaultId, contacts) {
      if (contacts === undefined) {
        await writeTransaction(storage, (trx) =>
          trx.deleteFrom("certificate_contacts").where("vault_id", "=", vaultId).execute(),
        );
        return;
      }
      await writeTransaction(storage, (trx) =>
        trx
          .insertInto("certificate_contacts")
          .values({ vault_id: vaultId, contacts: JSON.stringify(contacts) })
          .onConflict((oc) => oc.column("vault_id").doUpdateSet({ contacts: JSON.stringify(contacts) }))
          .execute(),
      );
    },
  };
}
