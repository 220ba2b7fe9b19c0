import type { AccessPolicy, RoleAssignment, RoleDefinition } from "../domain/access/model.js";
import type { AccessStore } from "../domain/access/ports.js";
import { DomainError } from "../domain/errors.js";
import type { StorageHandle } from "./database.js";
import type { Database } from "./schema.js";
import { toPrincipal } from "./sql-principal-store.js";
import { fromBool, isUniqueViolation, toBool, writeTransaction } from "./transactions.js";

const toAssignment = (r: Database["role_assignments"]): RoleAssignment => ({
  id: r.id,
  principalId: r.principal_id,
  roleId: r.role_id,
  scope: r.scope,
  createdAt: new Date(r.created_at),
});

const toPolicy = (r: Database["access_policies"]): AccessPolicy => ({
  vaultId: r.vault_id,
  principalId: r.principal_id,
  keys: JSON.parse(r.keys) as string[],
  secrets: JSON.parse(r.secrets) as string[],
  certificates: JSON.parse(r.certificates) as string[],
});

const toRole = (r: Database["role_definitions"]): RoleDefinition => ({
  id: r.id,
  name: r.name,
  description: r.description,
  builtIn: false,
  actions: JSON.parse(r.actions) as string[],
  notActions: JSON.parse(r.not_actions) as string[],
  dataActions: JSON.parse(r.data_actions) as string[],
  notDataActions: JSON.parse(r.not_data_actions) as string[],
  createdAt: new Date(r.created_at),
});

const deleted = (result: { numDeletedRows: bigint }[]) => (result[0]?.numDeletedRows ?? 0n) > 0n;

export function createSqlAccessStore(storage: StorageHandle): AccessStore {
  const { db } = storage;
  return {
    async grantSources(principalId) {
      const row = await db
        .selectFrom("principals")
        .selectAll()
        .where("id", "=", principalId)
        .executeTakeFirst();
      if (!row) return undefined;
      const groups = await db
        .selectFrom("group_members")
        .innerJoin("principals", "principals.id", "group_members.group_id")
        .selectAll("principals")
        .where("group_members.member_id", "=", principalId)
        .execute();
      const holders = [principalId, ...groups.filter((g) => toBool(g.enabled)).map((g) => g.id)];
      const [assignments, policies] = await Promise.all([
        db.selectFrom("role_assignments").selectAll().where("principal_id", "in", holders).execute(),
        db.selectFrom("access_policies").selectAll().where("principal_id", "in", holders).execute(),
      ]);
      return {
        principal: toPrincipal(row),
        groups: groups.map(toPrincipal),
        assignments: assignments.map(toAssignment),
        policies: policies.map(toPolicy),
      };
    },
    async customRoles() {
      return (await db.selectFrom("role_definitions").selectAll().orderBy("name_key").execute()).map(toRole);
    },
    async insertRole(role) {
      try {
        await writeTransaction(storage, (trx) =>
          trx
            .insertInto("role_definitions")
            .values({
              id: role.id,
              name_key: role.name.toLowerCase(),
              name: role.name,
              description: role.description,
              actions: JSON.stringify(role.actions),
              not_actions: JSON.stringify(role.notActions),
              data_actions: JSON.stringify(role.dataActions),
              not_data_actions: JSON.stringify(role.notDataActions),
              created_at: (role.createdAt ?? new Date(0)).getTime(),
            })
            .execute(),
        );
      } catch (error) {
        if (isUniqueViolation(error))
          throw new DomainError("Conflict", `A role named ${role.name} exists already`);
        throw error;
      }
    },
    async removeRole(id) {
      return writeTransaction(storage, async (trx) => {
        const used = await trx
          .selectFrom("role_assignments")
          .select("id")
          .where("role_id", "=", id)
          .executeTakeFirst();
        if (used) throw new DomainError("Conflict", `Role ${id} is still assigned (assignment ${used.id})`);
        return deleted(await trx.deleteFrom("role_definitions").where("id", "=", id).execute());
      });
    },
    async insertAssignment(a) {
      try {
        await writeTransaction(storage, (trx) =>
          trx
            .insertInto("role_assignments")
            .values({
              id: a.id,
              principal_id: a.principalId,
              role_id: a.roleId,
              scope: a.scope,
              created_at: a.createdAt.getTime(),
            })
            .execute(),
        );
      } catch (error) {
        if (isUniqueViolation(error)) {
          throw new DomainError("Conflict", `That role is already assigned to the principal at ${a.scope}`);
        }
        throw error;
      }
    },
    async removeAssignment(id) {
      return deleted(
        await writeTransaction(storage, (trx) =>
          trx.deleteFrom("role_assignments").where("id", "=", id).execute(),
        ),
      );
    },
    async listAssignments({ principalId }) {
      let query = db.selectFrom("role_assignments").selectAll();
      if (principalId !== undefined) query = query.where("principal_id", "=", principalId);
      return (await query.orderBy("created_at").orderBy("id").execute()).map(toAssignment);
    },
    async addMember(groupId, memberId) {
      try {
        await writeTransaction(storage, (trx) =>
          trx.insertInto("group_members").values({ group_id: groupId, member_id: memberId }).execute(),
        );
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
      }
    },
    async removeMember(groupId, memberId) {
      return deleted(
        await writeTransaction(storage, (trx) =>
          trx
            .deleteFrom("group_members")
            .where("group_id", "=", groupId)
            .where("member_id", "=", memberId)
            .execute(),
        ),
      );
    },
    async members(groupId) {
      const rows = await db
        .selectFrom("group_members")
        .select("member_id")
        .where("group_id", "=", groupId)
        .orderBy("member_id")
        .execute();
      return rows.map((r) => r.member_id);
    },
    async putPolicy(p) {
      const values = {
        keys: JSON.stringify(p.keys),
        secrets: JSON.stringify(p.secrets),
        certificates: JSON.stringify(p.certificates),
      };
      await writeTransaction(storage, (trx) =>
        trx
          .insertInto("access_policies")
          .values({ vault_id: p.vaultId, principal_id: p.principalId, ...values })
          .onConflict((oc) => oc.columns(["vault_id", "principal_id"]).doUpdateSet(values))
          .execute(),
      );
    },
    async removePolicy(vaultId, principalId) {
      return deleted(
        await writeTransaction(storage, (trx) =>
          trx
            .deleteFrom("access_policies")
            .where("vault_id", "=", vaultId)
            .where("principal_id", "=", principalId)
            .execute(),
        ),
      );
    },
    async policies(vaultId) {
      return (
        await db
          .selectFrom("access_policies")
          .selectAll()
          .where("vault_id", "=", vaultId)
          .orderBy("principal_id")
          .execute()
      ).map(toPolicy);
    },
    async vaultAccess(vaultId) {
      const row = await db
        .selectFrom("vault_access")
        .selectAll()
        .where("vault_id", "=", vaultId)
        .executeTakeFirst();
      return row
        ? {
            enableRbacAuthorization: toBool(row.enable_rbac_authorization),
            ipRules: JSON.parse(row.ip_rules) as string[],
          }
        : undefined;
    },
    async putVaultAccess(vaultId, s) {
      const values = {
        enable_rbac_authorization: fromBool(s.enableRbacAuthorization),
        ip_rules: JSON.stringify(s.ipRules),
      };
      await writeTransaction(storage, (trx) =>
        trx
          .insertInto("vault_access")
          .values({ vault_id: vaultId, ...values })
          .onConflict((oc) => oc.column("vault_id").doUpdateSet(values))
          .execute(),
      );
    },
  };
}
