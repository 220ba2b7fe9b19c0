import type { Kysely } from "kysely";
import type {
  AccountStatus,
  AcmeAccount,
  AcmeAuthorization,
  AcmeChallenge,
  AcmeOrder,
  AcmeProfile,
  AuthorizationStatus,
  ChallengeStatus,
  ChallengeType,
  EabKey,
  Identifier,
  IdentifierType,
  OrderStatus,
} from "../domain/acme-server/model.js";
import type { AcmeServerStore } from "../domain/acme-server/ports.js";
import { DomainError } from "../domain/errors.js";
import type { StorageHandle } from "./database.js";
import type { Database } from "./schema.js";
import { isUniqueViolation, toDate, writeTransaction } from "./transactions.js";

type ProfileSettings = Omit<AcmeProfile, "id" | "name" | "caId" | "createdAt" | "updatedAt">;

const toProfile = (r: Database["acme_server_profiles"]): AcmeProfile => ({
  id: r.id,
  name: r.name,
  caId: r.ca_id,
  ...(JSON.parse(r.settings) as ProfileSettings),
  createdAt: new Date(Number(r.created_at)),
  updatedAt: new Date(Number(r.updated_at)),
});

function profileRow(p: AcmeProfile): Database["acme_server_profiles"] {
  const { id, name, caId, createdAt, updatedAt, ...settings } = p;
  return {
    id,
    name_key: name.toLowerCase(),
    name,
    ca_id: caId,
    settings: JSON.stringify(settings),
    created_at: createdAt.getTime(),
    updated_at: updatedAt.getTime(),
  };
}

const toAccount = (r: Database["acme_server_accounts"]): AcmeAccount => ({
  id: r.id,
  profileId: r.profile_id,
  thumbprint: r.thumbprint,
  jwk: JSON.parse(r.jwk) as Record<string, unknown>,
  contacts: JSON.parse(r.contacts) as string[],
  status: r.status as AccountStatus,
  eabKeyId: r.eab_key_id ?? undefined,
  createdAt: new Date(Number(r.created_at)),
});

const toOrder = (r: Database["acme_server_orders"]): AcmeOrder => ({
  id: r.id,
  profileId: r.profile_id,
  accountId: r.account_id,
  status: r.status as OrderStatus,
  identifiers: JSON.parse(r.identifiers) as Identifier[],
  authzIds: JSON.parse(r.authz_ids) as string[],
  expiresAt: new Date(Number(r.expires_at)),
  error: r.error ? JSON.parse(r.error) : undefined,
  certificateSerial: r.certificate_serial ?? undefined,
  replaces: r.replaces ?? undefined,
  createdAt: new Date(Number(r.created_at)),
});

const toChallenge = (r: Database["acme_server_challenges"]): AcmeChallenge => ({
  id: r.id,
  authzId: r.authz_id,
  type: r.type as ChallengeType,
  token: r.token,
  status: r.status as ChallengeStatus,
  validatedAt: toDate(r.validated_at === null ? null : Number(r.validated_at)),
  error: r.error ? JSON.parse(r.error) : undefined,
});

const conflict = (message: string) => new DomainError("Conflict", message, { reason: "conflict" });

/** The ACME server's state over both engines. */
export function createSqlAcmeServerStore(storage: StorageHandle): AcmeServerStore {
  const { db } = storage;
  const write = <T>(work: (trx: Kysely<Database>) => Promise<T>) => writeTransaction(storage, work);

  async function authorization(trx: Kysely<Database>, id: string): Promise<AcmeAuthorization | undefined> {
    const row = await trx
      .selectFrom("acme_server_authzs")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    if (!row) return undefined;
    const challenges = await trx
      .selectFrom("acme_server_challenges")
      .selectAll()
      .where("authz_id", "=", id)
      .orderBy("type")
      .execute();
    return {
      id: row.id,
      orderId: row.order_id,
      accountId: row.account_id,
      identifier: { type: row.identifier_type as IdentifierType, value: row.identifier_value },
      wildcard: row.wildcard !== 0,
      status: row.status as AuthorizationStatus,
      expiresAt: new Date(Number(row.expires_at)),
      challenges: challenges.map(toChallenge),
    };
  }

  /** An order is ready once every authorization is valid, invalid once any is invalid or deactivated. */
  async function settleOrder(trx: Kysely<Database>, orderId: string): Promise<void> {
    const statuses = await trx
      .selectFrom("acme_server_authzs")
      .select("status")
      .where("order_id", "=", orderId)
      .execute();
    const next = statuses.every((s) => s.status === "valid")
      ? "ready"
      : statuses.some((s) => s.status !== "valid" && s.status !== "pending")
        ? "invalid"
        : undefined;
    if (next)
      await trx
        .updateTable("acme_server_orders")
        .set({ status: next })
        .where("id", "=", orderId)
        .where("status", "=", "pending")
        .execute();
  }

  return {
    async insertProfile(profile) {
      try {
        await write((trx) => trx.insertInto("acme_server_profiles").values(profileRow(profile)).execute());
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict(`An ACME profile named ${profile.name} exists already`);
        throw error;
      }
    },

    async updateProfile(profile) {
      const { id, name_key: _, ...row } = profileRow(profile);
      await write((trx) => trx.updateTable("acme_server_profiles").set(row).where("id", "=", id).execute());
    },

    async getProfile(name) {
      const row = await db
        .selectFrom("acme_server_profiles")
        .selectAll()
        .where("name_key", "=", name.toLowerCase())
        .executeTakeFirst();
      return row && toProfile(row);
    },

    async listProfiles() {
      const rows = await db.selectFrom("acme_server_profiles").selectAll().orderBy("name_key").execute();
      return rows.map(toProfile);
    },

    async deleteProfile(id) {
      return write(async (trx) => {
        // Children first: the order of deletes keeps every foreign key satisfied on both engines.
        const authzs = trx.selectFrom("acme_server_authzs").select("id").where("profile_id", "=", id);
        await trx.deleteFrom("acme_server_challenges").where("authz_id", "in", authzs).execute();
        await trx.deleteFrom("acme_server_authzs").where("profile_id", "=", id).execute();
        await trx.deleteFrom("acme_server_orders").where("profile_id", "=", id).execute();
        await trx.deleteFrom("acme_server_accounts").where("profile_id", "=", id).execute();
        await trx.deleteFrom("acme_server_eab_keys").where("profile_id", "=", id).execute();
        const result = await trx.deleteFrom("acme_server_profiles").where("id", "=", id).executeTakeFirst();
        return Number(result.numDeletedRows) > 0;
      });
    },

    async insertEabKey(key) {
      await write((trx) =>
        trx
          .insertInto("acme_server_eab_keys")
          .values({
            key_id: key.keyId,
            profile_id: key.profileId,
            sealed_hmac_key: key.sealedHmacKey,
            account_id: key.accountId ?? null,
            created_at: key.createdAt.getTime(),
          })
          .execute(),
      );
    },

    async getEabKey(keyId) {
      const r = await db
        .selectFrom("acme_server_eab_keys")
        .selectAll()
        .where("key_id", "=", keyId)
        .executeTakeFirst();
      return r && eabKey(r);
    },

    async listEabKeys(profileId) {
      const rows = await db
        .selectFrom("acme_server_eab_keys")
        .selectAll()
        .where("profile_id", "=", profileId)
        .orderBy("created_at")
        .execute();
      return rows.map(eabKey);
    },

    async useNonce(nonce, expiresAt) {
      try {
        await db
          .insertInto("acme_server_nonces")
          .values({ nonce, expires_at: expiresAt.getTime() })
          .execute();
        return true;
      } catch (error) {
        if (isUniqueViolation(error)) return false;
        throw error;
      }
    },

    async purgeNonces(now) {
      const result = await db
        .deleteFrom("acme_server_nonces")
        .where("expires_at", "<=", now.getTime())
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    async insertAccount(a) {
      try {
        await write(async (trx) => {
          if (a.eabKeyId) {
            const bound = await trx
              .updateTable("acme_server_eab_keys")
              .set({ account_id: a.id })
              .where("key_id", "=", a.eabKeyId)
              .where("account_id", "is", null)
              .executeTakeFirst();
            if (Number(bound.numUpdatedRows) !== 1)
              throw conflict(`EAB key id ${a.eabKeyId} is bound to another account`);
          }
          await trx
            .insertInto("acme_server_accounts")
            .values({
              id: a.id,
              profile_id: a.profileId,
              thumbprint: a.thumbprint,
              jwk: JSON.stringify(a.jwk),
              contacts: JSON.stringify(a.contacts),
              status: a.status,
              eab_key_id: a.eabKeyId ?? null,
              created_at: a.createdAt.getTime(),
            })
            .execute();
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict("This key has an account already");
        throw error;
      }
    },

    async getAccount(id) {
      const row = await db
        .selectFrom("acme_server_accounts")
        .selectAll()
        .where("id", "=", id)
        .executeTakeFirst();
      return row && toAccount(row);
    },

    async findAccount(profileId, thumbprint) {
      const row = await db
        .selectFrom("acme_server_accounts")
        .selectAll()
        .where("profile_id", "=", profileId)
        .where("thumbprint", "=", thumbprint)
        .executeTakeFirst();
      return row && toAccount(row);
    },

    async updateAccount(a) {
      try {
        await write((trx) =>
          trx
            .updateTable("acme_server_accounts")
            .set({
              thumbprint: a.thumbprint,
              jwk: JSON.stringify(a.jwk),
              contacts: JSON.stringify(a.contacts),
              status: a.status,
            })
            .where("id", "=", a.id)
            .execute(),
        );
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict("The new key belongs to another account already");
        throw error;
      }
    },

    async insertOrder(order, authorizations) {
      const created = order.createdAt.getTime();
      await write(async (trx) => {
        await trx
          .insertInto("acme_server_orders")
          .values({
            id: order.id,
            profile_id: order.profileId,
            account_id: order.accountId,
            status: order.status,
            identifiers: JSON.stringify(order.identifiers),
            authz_ids: JSON.stringify(order.authzIds),
            expires_at: order.expiresAt.getTime(),
            error: null,
            certificate_serial: null,
            replaces: order.replaces ?? null,
            created_at: created,
          })
          .execute();
        await trx
          .insertInto("acme_server_authzs")
          .values(
            authorizations.map((a) => ({
              id: a.id,
              order_id: order.id,
              profile_id: order.profileId,
              account_id: a.accountId,
              identifier_type: a.identifier.type,
              identifier_value: a.wildcard ? `*.${a.identifier.value}` : a.identifier.value,
              wildcard: a.wildcard ? 1 : 0,
              status: a.status,
              expires_at: a.expiresAt.getTime(),
              created_at: created,
            })),
          )
          .execute();
        await trx
          .insertInto("acme_server_challenges")
          .values(
            authorizations.flatMap((a) =>
              a.challenges.map((c) => ({
                id: c.id,
                authz_id: a.id,
                type: c.type,
                token: c.token,
                status: c.status,
                validated_at: null,
                error: null,
                lease_until: null,
              })),
            ),
          )
          .execute();
      });
    },

    async getOrder(id) {
      const row = await db
        .selectFrom("acme_server_orders")
        .selectAll()
        .where("id", "=", id)
        .executeTakeFirst();
      return row && toOrder(row);
    },

    async getAuthorization(id) {
      const found = await authorization(db, id);
      if (found?.wildcard) found.identifier = { ...found.identifier, value: found.identifier.value.slice(2) };
      return found;
    },

    async getChallenge(id) {
      const row = await db
        .selectFrom("acme_server_challenges")
        .selectAll()
        .where("id", "=", id)
        .executeTakeFirst();
      return row && toChallenge(row);
    },

    async startChallenge(id) {
      return write(async (trx) => {
        const result = await trx
          .updateTable("acme_server_challenges")
          .set({ status: "processing", lease_until: null })
          .where("id", "=", id)
          .where("status", "=", "pending")
          .executeTakeFirst();
        return Number(result.numUpdatedRows) === 1;
      });
    },

    async claimChallenges(now, leaseUntil, limit) {
      return write(async (trx) => {
        const rows = await trx
          .selectFrom("acme_server_challenges as c")
          .innerJoin("acme_server_authzs as z", "z.id", "c.authz_id")
          .innerJoin("acme_server_accounts as a", "a.id", "z.account_id")
          .selectAll("c")
          .select(["z.identifier_type", "z.identifier_value", "z.wildcard", "a.thumbprint"])
          .where("c.status", "=", "processing")
          .where((eb) => eb.or([eb("c.lease_until", "is", null), eb("c.lease_until", "<", now.getTime())]))
          .limit(limit)
          .$if(storage.engine === "postgres", (q) => q.forUpdate("c").skipLocked())
          .execute();
        if (rows.length === 0) return [];
        const ids = rows.map((r) => r.id);
        await trx
          .updateTable("acme_server_challenges")
          .set({ lease_until: leaseUntil.getTime() })
          .where("id", "in", ids)
          .execute();
        return rows.map((r) => ({
          challenge: toChallenge(r),
          identifier: {
            type: r.identifier_type as IdentifierType,
            value: r.wildcard ? r.identifier_value.slice(2) : r.identifier_value,
          },
          thumbprint: r.thumbprint,
        }));
      });
    },

    async completeChallenge(id, outcome, now) {
      await write(async (trx) => {
        const done = await trx
          .updateTable("acme_server_challenges")
          .set({
            status: outcome.error ? "invalid" : "valid",
            validated_at: outcome.error ? null : now.getTime(),
            error: outcome.error ? JSON.stringify(outcome.error) : null,
            lease_until: null,
          })
          .where("id", "=", id)
          .where("status", "=", "processing")
          .returning("authz_id")
          .executeTakeFirst();
        if (!done) return;
        const authz = await trx
          .updateTable("acme_server_authzs")
          .set({ status: outcome.error ? "invalid" : "valid" })
          .where("id", "=", done.authz_id)
          .where("status", "=", "pending")
          .returning("order_id")
          .executeTakeFirst();
        if (authz) await settleOrder(trx, authz.order_id);
      });
    },

    async deactivateAuthorization(id) {
      await write(async (trx) => {
        const authz = await trx
          .updateTable("acme_server_authzs")
          .set({ status: "deactivated" })
          .where("id", "=", id)
          .returning("order_id")
          .executeTakeFirst();
        if (authz) await settleOrder(trx, authz.order_id);
      });
    },

    async beginFinalize(orderId) {
      return write(async (trx) => {
        const result = await trx
          .updateTable("acme_server_orders")
          .set({ status: "processing" })
          .where("id", "=", orderId)
          .where("status", "=", "ready")
          .executeTakeFirst();
        return Number(result.numUpdatedRows) === 1;
      });
    },

    async completeOrder(orderId, outcome) {
      await write((trx) =>
        trx
          .updateTable("acme_server_orders")
          .set(
            "serial" in outcome
              ? { status: "valid", certificate_serial: outcome.serial }
              : { status: "invalid", error: JSON.stringify(outcome.error) },
          )
          .where("id", "=", orderId)
          .where("status", "=", "processing")
          .execute(),
      );
    },

    async findOrderBySerial(serial) {
      const row = await db
        .selectFrom("acme_server_orders")
        .selectAll()
        .where("certificate_serial", "=", serial)
        .executeTakeFirst();
      return row && toOrder(row);
    },

    async countAccountOrders(accountId, since) {
      const row = await db
        .selectFrom("acme_server_orders")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("account_id", "=", accountId)
        .where("created_at", ">=", since.getTime())
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    async countIdentifierOrders(profileId, identifier, since) {
      const row = await db
        .selectFrom("acme_server_authzs")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("profile_id", "=", profileId)
        .where("identifier_value", "=", identifier.value)
        .where("created_at", ">=", since.getTime())
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
  };
}

const eabKey = (r: Database["acme_server_eab_keys"]): EabKey => ({
  keyId: r.key_id,
  profileId: r.profile_id,
  sealedHmacKey: Buffer.from(r.sealed_hmac_key),
  accountId: r.account_id ?? undefined,
  createdAt: new Date(Number(r.created_at)),
});
