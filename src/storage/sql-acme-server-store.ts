import type { Kysely } from "kysely";
import {
  type AccountStatus,
  type AcmeAccount,
  type AcmeAuthorization,
  type AcmeChallenge,
  type AcmeOrder,
  type AcmeProfile,
  AUTHZ_REUSE_DEFAULTS,
  type AuthorizationStatus,
  type ChallengeStatus,
  type ChallengeType,
  type EabKey,
  type Identifier,
  type IdentifierType,
  type OrderStatus,
} from "../domain/acme-server/model.js";
import type { AcmeServerStore } from "../domain/acme-server/ports.js";
import { DomainError } from "../domain/errors.js";
import type { StorageHandle } from "./database.js";
import { compiledPerCount, precompiled, precompiledRows, slot, slotRows } from "./precompiled.js";
import { createReadCache, type ReadCache } from "./read-cache.js";
import type { Database } from "./schema.js";
import { insertApproval } from "./sql-approval-store.js";
import { fromDate, isUniqueViolation, toDate, writeTransaction } from "./transactions.js";

type ProfileSettings = Omit<AcmeProfile, "id" | "name" | "caId" | "createdAt" | "updatedAt">;

const toProfile = (r: Database["acme_server_profiles"]): AcmeProfile => ({
  id: r.id,
  name: r.name,
  caId: r.ca_id,
  ...AUTHZ_REUSE_DEFAULTS,
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
  notBefore: toDate(r.not_before === null ? null : Number(r.not_before)),
  notAfter: toDate(r.not_after === null ? null : Number(r.not_after)),
  approvalId: r.approval_id ?? undefined,
  heldCsr: r.csr ? Buffer.from(r.csr) : undefined,
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

/**
 * Inside the transaction that stores an order's certificate: the order, still in status `from`,
 * becomes valid with it. False when it is not (another node or an earlier try stored one), which
 * rolls the certificate back.
 */
export async function completeIssuedOrder(
  trx: Kysely<Database>,
  order: { id: string; from: "ready" | "processing" },
  serial: string,
): Promise<boolean> {
  const result = await trx
    .updateTable("acme_server_orders")
    .set({ status: "valid", certificate_serial: serial, lease_until: null })
    .where("id", "=", order.id)
    .where("status", "=", order.from)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

const NONCE_COLUMNS = ["nonce", "expires_at"] as const;

/** The rows a new order inserts, column by column: compiled once per row count (see insertOrder). */
const ORDER_ROWS = {
  acme_server_orders: [
    "id",
    "profile_id",
    "account_id",
    "status",
    "identifiers",
    "authz_ids",
    "expires_at",
    "error",
    "certificate_serial",
    "replaces",
    "created_at",
    "not_before",
    "not_after",
    "csr",
    "approval_id",
  ],
  acme_server_authzs: [
    "id",
    "order_id",
    "profile_id",
    "account_id",
    "identifier_type",
    "identifier_value",
    "wildcard",
    "status",
    "expires_at",
    "created_at",
  ],
  acme_server_challenges: [
    "id",
    "authz_id",
    "type",
    "token",
    "status",
    "validated_at",
    "error",
    "lease_until",
  ],
  acme_server_order_authzs: ["order_id", "authz_id"],
} as const;

type OrderTable = keyof typeof ORDER_ROWS;

/** Profiles and accounts kept in memory (SQLite; see createSqlAcmeServerStore). */
const PROFILES_CACHED = 1_000;
const ACCOUNTS_CACHED = 10_000;

/** Most nonces one statement records: SQLite binds at most 32,766 values. */
const MAX_NONCE_BATCH = 500;

/**
 * Records used nonces in one statement per event-loop turn (a group commit): every ACME request
 * spends one, and a commit of its own for each was the costliest write of an order. `on conflict
 * do nothing returning` tells each nonce inserted now from one used before, on any node; a nonce
 * twice in one batch is a replay within the turn, and only its first use counts.
 */
function nonceSpender(db: Kysely<Database>): AcmeServerStore["useNonce"] {
  type Waiter = {
    nonce: string;
    expiresAt: number;
    resolve: (fresh: boolean) => void;
    reject: (e: unknown) => void;
  };
  let waiting: Waiter[] = [];
  // Compiled once per batch size: every ACME request spends a nonce, and building the insert
  // through Kysely cost more than running it.
  const insertOf = compiledPerCount((rows) =>
    precompiledRows<{ nonce: string }>(
      db
        .insertInto("acme_server_nonces")
        .values(slotRows(NONCE_COLUMNS, rows) as unknown as Database["acme_server_nonces"][])
        .onConflict((oc) => oc.column("nonce").doNothing())
        .returning("nonce"),
      NONCE_COLUMNS,
    ),
  );

  async function flush(batch: Waiter[]) {
    const first = new Map<string, Waiter>();
    for (const w of batch) if (!first.has(w.nonce)) first.set(w.nonce, w);
    try {
      const rows = [...first.values()].map((w) => ({ nonce: w.nonce, expires_at: w.expiresAt }));
      const inserted = (await insertOf(rows.length)(db, rows)).rows;
      const fresh = new Set(inserted.map((r) => r.nonce));
      for (const w of batch) w.resolve(first.get(w.nonce) === w && fresh.has(w.nonce));
    } catch (error) {
      for (const w of batch) w.reject(error);
    }
  }

  return (nonce, expiresAt) =>
    new Promise<boolean>((resolve, reject) => {
      if (waiting.length === 0)
        setImmediate(() => {
          const all = waiting;
          waiting = [];
          for (let i = 0; i < all.length; i += MAX_NONCE_BATCH) void flush(all.slice(i, i + MAX_NONCE_BATCH));
        });
      waiting.push({ nonce, expiresAt: expiresAt.getTime(), resolve, reject });
    });
}

/** A slot where the column holds a number (a time in ms): the run binds the number. */
const numberSlot = (name: string) => slot(name) as unknown as number;

/**
 * Writes to the profile and account tables, counted per storage handle (so every store over one
 * handle sees them): the part of the profile and account cache's stamp that is this process's own.
 */
const profileAndAccountWrites = new WeakMap<StorageHandle, { count: number }>();

const conflict = (message: string) => new DomainError("Conflict", message, { reason: "conflict" });

/** The ACME server's state over both engines. */
export function createSqlAcmeServerStore(storage: StorageHandle): AcmeServerStore {
  const { db } = storage;
  const write = <T>(work: (trx: Kysely<Database>) => Promise<T>) => writeTransaction(storage, work);

  // Every ACME request reads its profile and its account. On SQLite both are served from memory
  // while nothing could have changed them: the stamp moves on with each write to their tables here
  // and with each commit by another process on the file, not with the orders and nonces every
  // request writes. On PostgreSQL other nodes write unseen (a key rollover or a deactivation must
  // hold on every node at once), so every read goes to the database.
  const ownWrites = profileAndAccountWrites.get(storage) ?? { count: 0 };
  profileAndAccountWrites.set(storage, ownWrites);
  const others = storage.othersChangeStamp;
  const stamp = others && (() => ownWrites.count + others());
  const profileCache = stamp && createReadCache<AcmeProfile>(stamp, PROFILES_CACHED);
  const accountCache = stamp && createReadCache<AcmeAccount>(stamp, ACCOUNTS_CACHED);

  /**
   * A write to the profile or account tables. The stamp moves before it starts and after it ends,
   * committed or not, so no read that overlaps it is kept.
   */
  async function writeCached<T>(work: () => Promise<T>): Promise<T> {
    ownWrites.count += 1;
    try {
      return await work();
    } finally {
      ownWrites.count += 1;
    }
  }

  async function cachedRead<T extends object>(
    cache: ReadCache<T> | undefined,
    key: string,
    read: () => Promise<T | undefined>,
  ): Promise<T | undefined> {
    const hit = cache?.get(key);
    if (hit) return hit;
    const before = cache?.stamp();
    const value = await read();
    if (cache && value && before !== undefined) cache.set(key, before, value);
    return value;
  }

  // The reads every ACME request makes (its profile, its account, the object it names), compiled
  // once: Kysely's building and compiling cost more than SQLite's lookup by key.
  const profileByName = precompiled<Database["acme_server_profiles"], "nameKey">(
    db.selectFrom("acme_server_profiles").selectAll().where("name_key", "=", slot("nameKey")),
  );
  const accountById = precompiled<Database["acme_server_accounts"], "id">(
    db.selectFrom("acme_server_accounts").selectAll().where("id", "=", slot("id")),
  );
  const orderById = precompiled<Database["acme_server_orders"], "id">(
    db.selectFrom("acme_server_orders").selectAll().where("id", "=", slot("id")),
  );
  const authzById = precompiled<Database["acme_server_authzs"], "id">(
    db.selectFrom("acme_server_authzs").selectAll().where("id", "=", slot("id")),
  );
  const challengeById = precompiled<Database["acme_server_challenges"], "id">(
    db.selectFrom("acme_server_challenges").selectAll().where("id", "=", slot("id")),
  );
  const challengesOf = precompiled<Database["acme_server_challenges"], "authzId">(
    db
      .selectFrom("acme_server_challenges")
      .selectAll()
      .where("authz_id", "=", slot("authzId"))
      .orderBy("type"),
  );

  // The statements of an order's life (rate limits, settling, a challenge's start and outcome),
  // compiled once for the same reason.
  const accountOrdersSince = precompiled<{ n: number }, "accountId" | "since">(
    db
      .selectFrom("acme_server_orders")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("account_id", "=", slot("accountId"))
      .where("created_at", ">=", numberSlot("since")),
  );
  // Through the orders' links: an order that reused an authorization named the identifier too.
  // The authorization's profile is its order's: naming it lets SQLite start from the identifier's
  // index instead of reading every order of the installation.
  const identifierOrdersSince = precompiled<{ n: number }, "profileId" | "value" | "since">(
    db
      .selectFrom("acme_server_order_authzs as oa")
      .innerJoin("acme_server_authzs as z", "z.id", "oa.authz_id")
      .innerJoin("acme_server_orders as o", "o.id", "oa.order_id")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("o.profile_id", "=", slot("profileId"))
      .where("z.profile_id", "=", slot("profileId"))
      .where("z.identifier_value", "=", slot("value"))
      .where("o.created_at", ">=", numberSlot("since")),
  );
  const authzStatusesOf = precompiled<{ status: string }, "orderId">(
    db
      .selectFrom("acme_server_order_authzs as oa")
      .innerJoin("acme_server_authzs as z", "z.id", "oa.authz_id")
      .select("z.status")
      .where("oa.order_id", "=", slot("orderId")),
  );
  const settlePending = precompiled<never, "orderId" | "next">(
    db
      .updateTable("acme_server_orders")
      .set({ status: slot("next") })
      .where("id", "=", slot("orderId"))
      .where("status", "=", "pending"),
  );
  const ordersOf = precompiled<{ order_id: string }, "authzId">(
    db.selectFrom("acme_server_order_authzs").select("order_id").where("authz_id", "=", slot("authzId")),
  );
  const startPending = precompiled<never, "id" | "leaseUntil">(
    db
      .updateTable("acme_server_challenges")
      .set({ status: "processing", lease_until: numberSlot("leaseUntil") })
      .where("id", "=", slot("id"))
      .where("status", "=", "pending"),
  );
  const finishChallenge = precompiled<{ authz_id: string }, "id" | "status" | "validatedAt" | "error">(
    db
      .updateTable("acme_server_challenges")
      .set({
        status: slot("status"),
        validated_at: numberSlot("validatedAt"),
        error: slot("error"),
        lease_until: null,
      })
      .where("id", "=", slot("id"))
      .where("status", "in", ["pending", "processing"])
      .returning("authz_id"),
  );
  const settleAuthz = precompiled<{ id: string }, "id" | "status">(
    db
      .updateTable("acme_server_authzs")
      .set({ status: slot("status") })
      .where("id", "=", slot("id"))
      .where("status", "=", "pending")
      .returning("id"),
  );

  /** newOrder's search for an authorization to reuse, compiled once per number of statuses asked for. */
  const reusableQuery = compiledPerCount((statusCount) => {
    const since = numberSlot("since");
    return precompiled<Database["acme_server_authzs"], string>(
      db
        .selectFrom("acme_server_authzs as z")
        .selectAll("z")
        .where("z.account_id", "=", slot("accountId"))
        .where("z.identifier_type", "=", slot("type"))
        .where("z.identifier_value", "=", slot("value"))
        .where(
          "z.status",
          "in",
          Array.from({ length: statusCount }, (_, i) => slot(`status${i}`)),
        )
        .where("z.expires_at", ">", numberSlot("expiresAfter"))
        .where((eb) =>
          eb.or([
            eb.and([eb("z.status", "=", "pending"), eb("z.created_at", ">=", since)]),
            eb.and([
              eb("z.status", "=", "valid"),
              eb.exists(
                eb
                  .selectFrom("acme_server_challenges as c")
                  .select("c.id")
                  .whereRef("c.authz_id", "=", "z.id")
                  .where("c.status", "=", "valid")
                  .where("c.validated_at", ">=", since),
              ),
            ]),
          ]),
        )
        .orderBy("z.created_at", "desc")
        .limit(1),
    );
  });

  async function authorization(trx: Kysely<Database>, id: string): Promise<AcmeAuthorization | undefined> {
    const row = (await authzById(trx, { id })).rows[0];
    return row && withChallenges(trx, row);
  }

  async function withChallenges(
    trx: Kysely<Database>,
    row: Database["acme_server_authzs"],
  ): Promise<AcmeAuthorization> {
    const challenges = (await challengesOf(trx, { authzId: row.id })).rows;
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

  // An order's inserts, compiled once per table and row count: Kysely's building of them was the
  // largest share of its work left on the ACME path.
  const inserts = new Map<OrderTable, ReturnType<typeof rowsInsert>>();
  const rowsInsert = (table: OrderTable) =>
    compiledPerCount((rows) =>
      precompiledRows(
        db.insertInto(table).values(slotRows(ORDER_ROWS[table], rows) as unknown as Database[typeof table][]),
        ORDER_ROWS[table],
      ),
    );
  async function insertRows<T extends OrderTable>(
    trx: Kysely<Database>,
    table: T,
    rows: Record<(typeof ORDER_ROWS)[T][number], unknown>[],
  ): Promise<void> {
    if (rows.length === 0) return;
    let insert = inserts.get(table);
    if (!insert) {
      insert = rowsInsert(table);
      inserts.set(table, insert);
    }
    await insert(rows.length)(trx, rows);
  }

  async function insertAuthorizations(
    trx: Kysely<Database>,
    order: AcmeOrder,
    authorizations: AcmeAuthorization[],
  ): Promise<void> {
    const created = order.createdAt.getTime();
    await insertRows(
      trx,
      "acme_server_authzs",
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
    );
    await insertRows(
      trx,
      "acme_server_challenges",
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
    );
  }

  /** An order is ready once every authorization is valid, invalid once any is invalid or deactivated. */
  async function settleOrder(trx: Kysely<Database>, orderId: string): Promise<void> {
    const statuses = (await authzStatusesOf(trx, { orderId })).rows;
    const next = statuses.every((s) => s.status === "valid")
      ? "ready"
      : statuses.some((s) => s.status !== "valid" && s.status !== "pending")
        ? "invalid"
        : undefined;
    if (next) await settlePending(trx, { orderId, next });
  }

  /** Settles every order an authorization serves, after its status changed. */
  async function settleOrdersOf(trx: Kysely<Database>, authzId: string): Promise<void> {
    const orders = (await ordersOf(trx, { authzId })).rows;
    for (const { order_id } of orders) await settleOrder(trx, order_id);
  }

  return {
    async insertProfile(profile) {
      try {
        await writeCached(() =>
          write((trx) => trx.insertInto("acme_server_profiles").values(profileRow(profile)).execute()),
        );
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict(`An ACME profile named ${profile.name} exists already`);
        throw error;
      }
    },

    async updateProfile(profile) {
      const { id, name_key: _, ...row } = profileRow(profile);
      await writeCached(() =>
        write((trx) => trx.updateTable("acme_server_profiles").set(row).where("id", "=", id).execute()),
      );
    },

    async getProfile(name) {
      const nameKey = name.toLowerCase();
      return cachedRead(profileCache, nameKey, async () => {
        const row = (await profileByName(db, { nameKey })).rows[0];
        return row && toProfile(row);
      });
    },

    async listProfiles() {
      const rows = await db.selectFrom("acme_server_profiles").selectAll().orderBy("name_key").execute();
      return rows.map(toProfile);
    },

    async deleteProfile(id) {
      return writeCached(() =>
        write(async (trx) => {
          // Children first: the order of deletes keeps every foreign key satisfied on both engines.
          const authzs = trx.selectFrom("acme_server_authzs").select("id").where("profile_id", "=", id);
          await trx.deleteFrom("acme_server_order_authzs").where("authz_id", "in", authzs).execute();
          await trx.deleteFrom("acme_server_challenges").where("authz_id", "in", authzs).execute();
          await trx.deleteFrom("acme_server_authzs").where("profile_id", "=", id).execute();
          await trx.deleteFrom("acme_server_orders").where("profile_id", "=", id).execute();
          await trx.deleteFrom("acme_server_accounts").where("profile_id", "=", id).execute();
          await trx.deleteFrom("acme_server_eab_keys").where("profile_id", "=", id).execute();
          const result = await trx.deleteFrom("acme_server_profiles").where("id", "=", id).executeTakeFirst();
          return Number(result.numDeletedRows) > 0;
        }),
      );
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

    useNonce: nonceSpender(db),

    async purgeNonces(now) {
      const result = await db
        .deleteFrom("acme_server_nonces")
        .where("expires_at", "<=", now.getTime())
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    async insertAccount(a) {
      try {
        await writeCached(() =>
          write(async (trx) => {
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
          }),
        );
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict("This key has an account already");
        throw error;
      }
    },

    async getAccount(id) {
      return cachedRead(accountCache, id, async () => {
        const row = (await accountById(db, { id })).rows[0];
        return row && toAccount(row);
      });
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
        await writeCached(() =>
          write((trx) =>
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
          ),
        );
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict("The new key belongs to another account already");
        throw error;
      }
    },

    async insertOrder(order, authorizations) {
      const created = order.createdAt.getTime();
      return write(async (trx) => {
        await insertRows(trx, "acme_server_orders", [
          {
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
            not_before: fromDate(order.notBefore),
            not_after: fromDate(order.notAfter),
            csr: null,
            approval_id: null,
          },
        ]);
        await insertAuthorizations(trx, order, authorizations);
        await insertRows(
          trx,
          "acme_server_order_authzs",
          order.authzIds.map((authz_id) => ({ order_id: order.id, authz_id })),
        );
        // Reused authorizations may be valid already, or have changed since they were looked up.
        await settleOrder(trx, order.id);
        const stored = (await orderById(trx, { id: order.id })).rows[0];
        if (!stored) throw new Error(`Order ${order.id} is gone from the transaction that inserted it`);
        return toOrder(stored);
      });
    },

    async findReusableAuthorization({ accountId, identifier, wildcard, statuses, since, expiresAfter }) {
      const value = wildcard ? `*.${identifier.value}` : identifier.value;
      const values: Record<string, unknown> = {
        accountId,
        type: identifier.type,
        value,
        expiresAfter: expiresAfter.getTime(),
        since: since.getTime(),
      };
      statuses.forEach((status, i) => {
        values[`status${i}`] = status;
      });
      const row = (await reusableQuery(statuses.length)(db, values)).rows[0];
      if (!row) return undefined;
      const found = await withChallenges(db, row);
      return wildcard ? { ...found, identifier: identifier } : found;
    },

    async listAccountOrders(accountId, now, limit, after) {
      let query = db
        .selectFrom("acme_server_orders")
        .selectAll()
        .where("account_id", "=", accountId)
        .where("status", "!=", "invalid")
        .where((eb) => eb.or([eb("status", "=", "valid"), eb("expires_at", ">", now.getTime())]));
      if (after)
        query = query.where((eb) =>
          eb.or([
            eb("created_at", ">", after.createdAt.getTime()),
            eb.and([eb("created_at", "=", after.createdAt.getTime()), eb("id", ">", after.id)]),
          ]),
        );
      const rows = await query.orderBy("created_at").orderBy("id").limit(limit).execute();
      return rows.map(toOrder);
    },

    async holdOrder(orderId, csr, approval) {
      return write(async (trx) => {
        const held = await trx
          .updateTable("acme_server_orders")
          .set({ status: "processing", csr, approval_id: approval.request.id })
          .where("id", "=", orderId)
          .where("status", "=", "ready")
          .executeTakeFirst();
        if (Number(held.numUpdatedRows) !== 1) return false;
        await insertApproval(trx, approval);
        return true;
      });
    },

    async takeOrder(orderId, now, leaseUntil) {
      return write(async (trx) => {
        const taken = await trx
          .updateTable("acme_server_orders")
          .set({ lease_until: leaseUntil.getTime() })
          .where("id", "=", orderId)
          .where("status", "=", "processing")
          .where((eb) => eb.or([eb("lease_until", "is", null), eb("lease_until", "<=", now.getTime())]))
          .executeTakeFirst();
        return Number(taken.numUpdatedRows) === 1;
      });
    },

    async getOrder(id) {
      const row = (await orderById(db, { id })).rows[0];
      return row && toOrder(row);
    },

    async getAuthorization(id) {
      const found = await authorization(db, id);
      if (found?.wildcard) found.identifier = { ...found.identifier, value: found.identifier.value.slice(2) };
      return found;
    },

    async getChallenge(id) {
      const row = (await challengeById(db, { id })).rows[0];
      return row && toChallenge(row);
    },

    async startChallenge(id, leaseUntil) {
      return write(async (trx) => {
        const result = await startPending(trx, { id, leaseUntil: leaseUntil.getTime() });
        return Number(result.numAffectedRows ?? 0) === 1;
      });
    },

    async claimChallenges(now, leaseUntil, limit) {
      const claimable = (q: Kysely<Database>) =>
        q
          .selectFrom("acme_server_challenges as c")
          .where("c.status", "=", "processing")
          .where((eb) => eb.or([eb("c.lease_until", "is", null), eb("c.lease_until", "<", now.getTime())]));
      // Nearly always there is nothing to claim: a read then spares a write and its audit intent.
      if (!(await claimable(db).select("c.id").limit(1).executeTakeFirst())) return [];
      return write(async (trx) => {
        const rows = await claimable(trx)
          .innerJoin("acme_server_authzs as z", "z.id", "c.authz_id")
          .innerJoin("acme_server_accounts as a", "a.id", "z.account_id")
          .selectAll("c")
          .select(["z.identifier_type", "z.identifier_value", "z.wildcard", "a.thumbprint"])
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
      return write(async (trx) => {
        const status = outcome.error ? "invalid" : "valid";
        const done = (
          await finishChallenge(trx, {
            id,
            status,
            validatedAt: outcome.error ? null : now.getTime(),
            error: outcome.error ? JSON.stringify(outcome.error) : null,
          })
        ).rows[0];
        if (!done) return false;
        const authz = (await settleAuthz(trx, { id: done.authz_id, status })).rows[0];
        if (authz) await settleOrdersOf(trx, authz.id);
        return true;
      });
    },

    async deactivateAuthorization(id) {
      await write(async (trx) => {
        const authz = await trx
          .updateTable("acme_server_authzs")
          .set({ status: "deactivated" })
          .where("id", "=", id)
          .returning("id")
          .executeTakeFirst();
        if (authz) await settleOrdersOf(trx, authz.id);
      });
    },

    async failOrder(orderId, error) {
      await write((trx) =>
        trx
          .updateTable("acme_server_orders")
          .set({ status: "invalid", error: JSON.stringify(error), lease_until: null })
          .where("id", "=", orderId)
          .where("status", "in", ["ready", "processing"])
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
      const row = (await accountOrdersSince(db, { accountId, since: since.getTime() })).rows[0];
      return Number(row?.n ?? 0);
    },

    async countIdentifierOrders(profileId, identifier, since) {
      const values = { profileId, value: identifier.value, since: since.getTime() };
      const row = (await identifierOrdersSince(db, values)).rows[0];
      return Number(row?.n ?? 0);
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
