import type {
  AcmeIssuerSettings,
  AcmeOrder,
  ChallengeSettings,
  PresentedChallenge,
} from "../domain/acme/model.js";
import { type AcmeStore, renewalKey } from "../domain/acme/ports.js";
import type { StorageHandle } from "./database.js";
import type { Database } from "./schema.js";
import { writeTransaction } from "./transactions.js";

type SettingsRow = Database["acme_issuer_settings"];

const toSettings = (r: SettingsRow): AcmeIssuerSettings => ({
  vaultId: r.vault_id,
  issuerName: r.issuer_name,
  directoryUrl: r.directory_url,
  contacts: JSON.parse(r.contacts) as string[],
  challenge: JSON.parse(r.challenge) as ChallengeSettings,
  createdAt: new Date(Number(r.created_at)),
  updatedAt: new Date(Number(r.updated_at)),
});

const toOrder = (row: Database["acme_orders"]): AcmeOrder => ({
  requestId: row.request_id,
  vaultId: row.vault_id,
  issuerName: row.issuer_name,
  orderUrl: row.order_url,
  presented: JSON.parse(row.presented) as PresentedChallenge[],
  createdAt: new Date(Number(row.created_at)),
});

export function createSqlAcmeStore(storage: StorageHandle): AcmeStore {
  const { db } = storage;
  const getAccount = async (vaultId: string, issuerName: string, directoryUrl: string) => {
    const row = await db
      .selectFrom("acme_accounts")
      .selectAll()
      .where("vault_id", "=", vaultId)
      .where("issuer_key", "=", issuerName.toLowerCase())
      .where("directory_url", "=", directoryUrl)
      .executeTakeFirst();
    return (
      row && {
        vaultId: row.vault_id,
        issuerName,
        directoryUrl: row.directory_url,
        sealedKey: Buffer.from(row.sealed_key),
        accountUrl: row.account_url ?? undefined,
      }
    );
  };

  return {
    getAccount,

    async getSettings(vaultId, issuerName) {
      const row = await db
        .selectFrom("acme_issuer_settings")
        .selectAll()
        .where("vault_id", "=", vaultId)
        .where("issuer_key", "=", issuerName.toLowerCase())
        .executeTakeFirst();
      return row && toSettings(row);
    },

    async listSettings(vaultId) {
      const rows = await db
        .selectFrom("acme_issuer_settings")
        .selectAll()
        .where("vault_id", "=", vaultId)
        .orderBy("issuer_key")
        .execute();
      return rows.map(toSettings);
    },

    async putSettings(s) {
      const row = {
        vault_id: s.vaultId,
        issuer_key: s.issuerName.toLowerCase(),
        issuer_name: s.issuerName,
        directory_url: s.directoryUrl,
        contacts: JSON.stringify(s.contacts),
        challenge: JSON.stringify(s.challenge),
        created_at: s.createdAt.getTime(),
        updated_at: s.updatedAt.getTime(),
      };
      const { vault_id, issuer_key, created_at, ...changes } = row;
      // A change of an issuer's settings is audited: it commits with its intent row.
      await writeTransaction(storage, (trx) =>
        trx
          .insertInto("acme_issuer_settings")
          .values(row)
          .onConflict((oc) => oc.columns(["vault_id", "issuer_key"]).doUpdateSet(changes))
          .execute(),
      );
    },

    async deleteSettings(vaultId, issuerName) {
      const result = await writeTransaction(storage, (trx) =>
        trx
          .deleteFrom("acme_issuer_settings")
          .where("vault_id", "=", vaultId)
          .where("issuer_key", "=", issuerName.toLowerCase())
          .executeTakeFirst(),
      );
      return Number(result.numDeletedRows) > 0;
    },

    async putAccountIfAbsent(account) {
      const issuerKey = account.issuerName.toLowerCase();
      await db
        .insertInto("acme_accounts")
        .values({
          vault_id: account.vaultId,
          issuer_key: issuerKey,
          directory_url: account.directoryUrl,
          sealed_key: account.sealedKey,
          account_url: account.accountUrl ?? null,
          created_at: Date.now(),
        })
        .onConflict((oc) => oc.columns(["vault_id", "issuer_key", "directory_url"]).doNothing())
        .execute();
      const stored = await getAccount(account.vaultId, account.issuerName, account.directoryUrl);
      if (!stored) throw new Error("The ACME account vanished after it was written");
      return stored;
    },

    async setAccountUrl(account, accountUrl) {
      await db
        .updateTable("acme_accounts")
        .set({ account_url: accountUrl })
        .where("vault_id", "=", account.vaultId)
        .where("issuer_key", "=", account.issuerName.toLowerCase())
        .where("directory_url", "=", account.directoryUrl)
        .execute();
    },

    async getOrder(requestId) {
      const row = await db
        .selectFrom("acme_orders")
        .selectAll()
        .where("request_id", "=", requestId)
        .executeTakeFirst();
      return row && toOrder(row);
    },

    async abandonedOrders(placedBefore, limit) {
      const rows = await db
        .selectFrom("acme_orders")
        .selectAll()
        .where("created_at", "<", placedBefore.getTime())
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom("certificate_operations")
                .select("certificate_operations.request_id")
                .whereRef("certificate_operations.request_id", "=", "acme_orders.request_id")
                .where("certificate_operations.status", "=", "inProgress"),
            ),
          ),
        )
        .orderBy("created_at")
        .limit(limit)
        .execute();
      return rows.map(toOrder);
    },

    async putOrder(order) {
      const row = {
        request_id: order.requestId,
        vault_id: order.vaultId,
        issuer_name: order.issuerName,
        order_url: order.orderUrl,
        presented: JSON.stringify(order.presented),
        created_at: order.createdAt.getTime(),
      };
      await db
        .insertInto("acme_orders")
        .values(row)
        .onConflict((oc) =>
          oc.column("request_id").doUpdateSet({ order_url: row.order_url, presented: row.presented }),
        )
        .execute();
    },

    async deleteOrder(requestId) {
      await db.deleteFrom("acme_orders").where("request_id", "=", requestId).execute();
    },

    async getChallenge(token) {
      const row = await db
        .selectFrom("acme_challenges")
        .select("key_authorization")
        .where("token", "=", token)
        .executeTakeFirst();
      return row?.key_authorization;
    },

    async putChallenge(token, keyAuthorization, at) {
      await db
        .insertInto("acme_challenges")
        .values({ token, key_authorization: keyAuthorization, created_at: at.getTime() })
        .onConflict((oc) => oc.column("token").doUpdateSet({ key_authorization: keyAuthorization }))
        .execute();
    },

    async deleteChallenge(token) {
      await db.deleteFrom("acme_challenges").where("token", "=", token).execute();
    },

    async putRenewalInfo(info) {
      const row = {
        vault_id: info.vaultId,
        name_key: info.name.toLowerCase(),
        version: info.version,
        issuer_key: info.issuerName.toLowerCase(),
        renewal_info_url: info.renewalInfoUrl,
        renew_at: info.renewAt?.getTime() ?? null,
        next_check_at: info.nextCheckAt.getTime(),
      };
      await db
        .insertInto("acme_renewal_info")
        .values(row)
        .onConflict((oc) =>
          oc
            .columns(["vault_id", "name_key", "version"])
            .doUpdateSet({ renew_at: row.renew_at, next_check_at: row.next_check_at }),
        )
        .execute();
    },

    async pruneRenewalInfo() {
      const result = await db
        .deleteFrom("acme_renewal_info")
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom("objects")
                .select("objects.name_key")
                .whereRef("objects.vault_id", "=", "acme_renewal_info.vault_id")
                .where("objects.collection", "=", "certificates")
                .whereRef("objects.name_key", "=", "acme_renewal_info.name_key")
                .whereRef("objects.latest_version", "=", "acme_renewal_info.version")
                .where("objects.deleted_at", "is", null),
            ),
          ),
        )
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    async dueRenewalInfo(now, limit) {
      const rows = await db
        .selectFrom("acme_renewal_info")
        .selectAll()
        .where("next_check_at", "<=", now.getTime())
        .orderBy("next_check_at")
        .limit(limit)
        .execute();
      return rows.map((r) => ({
        vaultId: r.vault_id,
        name: r.name_key,
        version: r.version,
        issuerName: r.issuer_key,
        renewalInfoUrl: r.renewal_info_url,
        renewAt: r.renew_at === null ? undefined : new Date(Number(r.renew_at)),
        nextCheckAt: new Date(Number(r.next_check_at)),
      }));
    },

    async renewalTimes(versions) {
      const times = new Map<string, Date>();
      if (versions.length === 0) return times;
      const rows = await db
        .selectFrom("acme_renewal_info")
        .select(["vault_id", "name_key", "version", "renew_at"])
        .where("version", "in", [...new Set(versions.map((v) => v.version))])
        .where("renew_at", "is not", null)
        .execute();
      for (const r of rows) {
        times.set(
          renewalKey({ vaultId: r.vault_id, name: r.name_key, version: r.version }),
          new Date(Number(r.renew_at)),
        );
      }
      return times;
    },
  };
}
