import type {
  EnrollmentKeyType,
  EnrollmentKind,
  EnrollmentProfile,
  ScepTransaction,
} from "../domain/enrollment/model.js";
import type { EnrollmentStore } from "../domain/enrollment/ports.js";
import { DomainError } from "../domain/errors.js";
import type { StorageHandle } from "./database.js";
import type { Database } from "./schema.js";
import { insertApproval } from "./sql-approval-store.js";
import { fromBool, isUniqueViolation, toBool, writeTransaction } from "./transactions.js";

type ProfileRow = Database["enrollment_profiles"];
type TransactionRow = Database["scep_transactions"];

const toProfile = (r: ProfileRow): EnrollmentProfile => ({
  id: r.id,
  kind: r.kind as EnrollmentKind,
  label: r.label,
  caId: r.ca_id,
  validityDays: Number(r.validity_days),
  ekus: JSON.parse(r.ekus) as string[],
  principals: JSON.parse(r.principals) as string[],
  approval: toBool(Number(r.approval)),
  keyType: (r.key_type as EnrollmentKeyType | null) ?? undefined,
  ra:
    r.ra_certificate && r.ra_key_sealed
      ? { certificate: Buffer.from(r.ra_certificate), sealedKey: Buffer.from(r.ra_key_sealed) }
      : undefined,
  createdAt: new Date(Number(r.created_at)),
});

const toTransaction = (r: TransactionRow): ScepTransaction => ({
  profileId: r.profile_id,
  transactionId: r.transaction_id,
  status: r.status as ScepTransaction["status"],
  requester: r.requester,
  csr: Buffer.from(r.csr),
  caId: r.ca_id ?? undefined,
  serial: r.serial ?? undefined,
  approvalId: r.approval_id ?? undefined,
  createdAt: new Date(Number(r.created_at)),
  updatedAt: new Date(Number(r.updated_at)),
});

export function createSqlEnrollmentStore(storage: StorageHandle): EnrollmentStore {
  const { db } = storage;
  return {
    async insertProfile(p) {
      try {
        await writeTransaction(storage, (trx) =>
          trx
            .insertInto("enrollment_profiles")
            .values({
              id: p.id,
              kind: p.kind,
              label_key: p.label.toLowerCase(),
              label: p.label,
              ca_id: p.caId,
              validity_days: p.validityDays,
              ekus: JSON.stringify(p.ekus),
              principals: JSON.stringify(p.principals),
              approval: fromBool(p.approval),
              key_type: p.keyType ?? null,
              ra_certificate: p.ra?.certificate ?? null,
              ra_key_sealed: p.ra?.sealedKey ?? null,
              created_at: p.createdAt.getTime(),
            })
            .execute(),
        );
      } catch (error) {
        if (isUniqueViolation(error))
          throw new DomainError("Conflict", `An ${p.kind.toUpperCase()} profile labelled ${p.label} exists`);
        throw error;
      }
    },

    async getProfile(kind, label) {
      const row = await db
        .selectFrom("enrollment_profiles")
        .selectAll()
        .where("kind", "=", kind)
        .where("label_key", "=", label.toLowerCase())
        .executeTakeFirst();
      return row && toProfile(row);
    },

    async listProfiles(kind) {
      const rows = await db
        .selectFrom("enrollment_profiles")
        .selectAll()
        .where("kind", "=", kind)
        .orderBy("label_key")
        .execute();
      return rows.map(toProfile);
    },

    async deleteProfile(kind, label) {
      return writeTransaction(storage, async (trx) => {
        const row = await trx
          .selectFrom("enrollment_profiles")
          .select("id")
          .where("kind", "=", kind)
          .where("label_key", "=", label.toLowerCase())
          .executeTakeFirst();
        if (!row) return false;
        // Deleted explicitly: SQLite enforces ON DELETE CASCADE only with foreign keys switched on.
        await trx.deleteFrom("scep_challenges").where("profile_id", "=", row.id).execute();
        await trx.deleteFrom("scep_transactions").where("profile_id", "=", row.id).execute();
        await trx.deleteFrom("enrollment_profiles").where("id", "=", row.id).execute();
        return true;
      });
    },

    async insertChallenge(profileId, hash, createdAt, expiresAt) {
      await writeTransaction(storage, (trx) =>
        trx
          .insertInto("scep_challenges")
          .values({
            hash,
            profile_id: profileId,
            created_at: createdAt.getTime(),
            expires_at: expiresAt.getTime(),
            used_at: null,
          })
          .execute(),
      );
    },

    async consumeChallenge(profileId, hash, now) {
      // One conditional UPDATE: two nodes presented the same password concurrently, only one wins.
      return writeTransaction(storage, async (trx) => {
        const result = await trx
          .updateTable("scep_challenges")
          .set({ used_at: now.getTime() })
          .where("hash", "=", hash)
          .where("profile_id", "=", profileId)
          .where("used_at", "is", null)
          .where("expires_at", ">", now.getTime())
          .executeTakeFirst();
        return Number(result.numUpdatedRows) === 1;
      });
    },

    async getTransaction(profileId, transactionId) {
      const row = await db
        .selectFrom("scep_transactions")
        .selectAll()
        .where("profile_id", "=", profileId)
        .where("transaction_id", "=", transactionId)
        .executeTakeFirst();
      return row && toTransaction(row);
    },

    async takeTransaction(profileId, transactionId, now, leaseUntil) {
      return writeTransaction(storage, async (trx) => {
        const result = await trx
          .updateTable("scep_transactions")
          .set({ status: "approved", lease_until: leaseUntil.getTime() })
          .where("profile_id", "=", profileId)
          .where("transaction_id", "=", transactionId)
          .where((eb) =>
            eb.or([
              eb("status", "=", "pending"),
              eb.and([eb("status", "=", "approved"), eb("lease_until", "<=", now.getTime())]),
            ]),
          )
          .executeTakeFirst();
        return Number(result.numUpdatedRows) === 1;
      });
    },

    async moveTransaction(profileId, transactionId, from, to) {
      return writeTransaction(storage, async (trx) => {
        const result = await trx
          .updateTable("scep_transactions")
          .set({ status: to })
          .where("profile_id", "=", profileId)
          .where("transaction_id", "=", transactionId)
          .where("status", "=", from)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) === 1;
      });
    },

    async putTransaction(t, approval) {
      const values = {
        profile_id: t.profileId,
        transaction_id: t.transactionId,
        status: t.status,
        requester: t.requester,
        csr: t.csr,
        ca_id: t.caId ?? null,
        serial: t.serial ?? null,
        approval_id: t.approvalId ?? null,
        created_at: t.createdAt.getTime(),
        updated_at: t.updatedAt.getTime(),
      };
      await writeTransaction(storage, async (trx) => {
        if (approval) await insertApproval(trx, approval);
        await trx
          .insertInto("scep_transactions")
          .values(values)
          .onConflict((oc) =>
            oc.columns(["profile_id", "transaction_id"]).doUpdateSet({
              status: values.status,
              requester: values.requester,
              csr: values.csr,
              ca_id: values.ca_id,
              serial: values.serial,
              approval_id: values.approval_id,
              updated_at: values.updated_at,
            }),
          )
          .execute();
      });
    },
  };
}
