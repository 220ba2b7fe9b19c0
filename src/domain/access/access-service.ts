import type { Clock } from "../clock.js";
import { badParameter, DomainError } from "../errors.js";
import { newId } from "../ids.js";
import { noPeers, type Peers } from "../peers.js";
import type { Vault } from "../vaults/model.js";
import { type PrincipalGrants, resolveGrants } from "./authorize.js";
import { POLICY_PERMISSIONS, type PolicyCollection } from "./data-actions.js";
import {
  type AccessPolicy,
  DEFAULT_VAULT_ACCESS,
  type Principal,
  type RoleAssignment,
  type RoleDefinition,
  type VaultAccessSettings,
} from "./model.js";
import type { AccessStore, PrincipalStore } from "./ports.js";
import { BUILT_IN_ROLES } from "./roles.js";
import { canonicalScope } from "./scopes.js";

export interface AccessServiceDeps {
  store: AccessStore;
  principals: Pick<PrincipalStore, "findById">;
  clock: Clock;
  /**
   * How long resolved rights may be reused. Changes made through this service apply at once in
   * this process; other nodes sharing the database see them within this time.
   */
  cacheMs?: number;
  /** Other workers of this server, told of every change so they drop their cached rights too. */
  peers?: Peers;
}

export type AccessService = ReturnType<typeof createAccessService>;

export interface RoleInput {
  name: string;
  description?: string | undefined;
  actions?: string[] | undefined;
  notActions?: string[] | undefined;
  dataActions?: string[] | undefined;
  notDataActions?: string[] | undefined;
}

export type PolicyInput = Partial<Record<PolicyCollection, string[]>>;

interface Cached<T> {
  value: T;
  until: number;
}

const IPV4_OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4_RULE = new RegExp(`^${IPV4_OCTET}(\\.${IPV4_OCTET}){3}(\\/(3[0-2]|[12]?\\d))?$`);

function validatePatterns(field: string, patterns: string[] | undefined): string[] {
  const list = patterns ?? [];
  for (const p of list) {
    if (typeof p !== "string" || !/^(Microsoft\.KeyVault|Strongroom)\/[A-Za-z*/]+$/.test(p)) {
      throw badParameter(
        `${field} entry "${String(p)}" is invalid: use Key Vault data actions such as Microsoft.KeyVault/vaults/secrets/getSecret/action, with * wildcards`,
      );
    }
  }
  return list;
}

export function createAccessService({
  store,
  principals,
  clock,
  cacheMs = 5000,
  peers = noPeers,
}: AccessServiceDeps) {
  const builtInById = new Map(BUILT_IN_ROLES.map((r) => [r.id, r]));
  let custom: Cached<Map<string, RoleDefinition>> | undefined;
  const grants = new Map<string, Cached<PrincipalGrants | undefined>>();
  const vaults = new Map<string, Cached<VaultAccessSettings>>();

  const fresh = <T>(entry: Cached<T> | undefined): entry is Cached<T> =>
    entry !== undefined && entry.until > clock.now().getTime();

  function forget(): void {
    grants.clear();
    vaults.clear();
    custom = undefined;
  }
  peers.onChange((change) => {
    if (change.kind === "access") forget();
  });

  /** Drops every cached right here and in the other workers; resolves once they all have. */
  async function invalidate(): Promise<void> {
    forget();
    await peers.announce({ kind: "access" });
  }

  async function customRoles(): Promise<Map<string, RoleDefinition>> {
    if (fresh(custom)) return custom.value;
    const value = new Map((await store.customRoles()).map((r) => [r.id, r]));
    custom = { value, until: clock.now().getTime() + cacheMs };
    return value;
  }

  async function roles(): Promise<RoleDefinition[]> {
    return [...BUILT_IN_ROLES, ...(await customRoles()).values()];
  }

  async function findRole(idOrName: string): Promise<RoleDefinition> {
    const key = idOrName.toLowerCase();
    const role = (await roles()).find((r) => r.id === idOrName || r.name.toLowerCase() === key);
    if (!role)
      throw new DomainError("NotFound", `Role ${idOrName} does not exist`, { reason: "RoleNotFound" });
    return role;
  }

  async function principal(id: string): Promise<Principal> {
    const found = await principals.findById(id);
    if (!found) {
      throw new DomainError("NotFound", `Principal ${id} does not exist`, { reason: "PrincipalNotFound" });
    }
    return found.principal;
  }

  return {
    invalidate,

    /** The principal's resolved rights when cached and fresh at `nowMs`: the hot path's lookup, no I/O. */
    peekGrants(principalId: string, nowMs: number): Cached<PrincipalGrants | undefined> | undefined {
      const entry = grants.get(principalId);
      return entry !== undefined && entry.until > nowMs ? entry : undefined;
    },

    /** Resolves and caches a principal's rights; undefined when the principal no longer exists. */
    async loadGrants(principalId: string): Promise<PrincipalGrants | undefined> {
      const [sources, custom] = await Promise.all([store.grantSources(principalId), customRoles()]);
      const value = sources
        ? resolveGrants(sources, (id) => builtInById.get(id) ?? custom.get(id))
        : undefined;
      grants.set(principalId, { value, until: clock.now().getTime() + cacheMs });
      return value;
    },

    peekVaultAccess(vaultId: string, nowMs: number): VaultAccessSettings | undefined {
      const entry = vaults.get(vaultId);
      return entry !== undefined && entry.until > nowMs ? entry.value : undefined;
    },

    async loadVaultAccess(vaultId: string): Promise<VaultAccessSettings> {
      const value = (await store.vaultAccess(vaultId)) ?? DEFAULT_VAULT_ACCESS;
      vaults.set(vaultId, { value, until: clock.now().getTime() + cacheMs });
      return value;
    },

    roles,
    findRole,

    async createRole(input: RoleInput): Promise<RoleDefinition> {
      const name = input.name?.trim();
      if (!name) throw badParameter("A role needs a name");
      if (BUILT_IN_ROLES.some((r) => r.name.toLowerCase() === name.toLowerCase())) {
        throw new DomainError("Conflict", `${name} is a built-in role`);
      }
      const role: RoleDefinition = {
        id: newId(),
        name,
        description: input.description ?? "",
        builtIn: false,
        actions: validatePatterns("actions", input.actions),
        notActions: validatePatterns("notActions", input.notActions),
        dataActions: validatePatterns("dataActions", input.dataActions),
        notDataActions: validatePatterns("notDataActions", input.notDataActions),
        createdAt: clock.now(),
      };
      if (role.actions.length === 0 && role.dataActions.length === 0) {
        throw badParameter("A role must grant at least one action or data action");
      }
      await store.insertRole(role);
      await invalidate();
      return role;
    },

    async deleteRole(idOrName: string): Promise<void> {
      const role = await findRole(idOrName);
      if (role.builtIn) throw badParameter(`${role.name} is a built-in role and cannot be deleted`);
      await store.removeRole(role.id);
      await invalidate();
    },

    async assign(principalId: string, roleIdOrName: string, scope: string): Promise<RoleAssignment> {
      const [holder, role] = await Promise.all([principal(principalId), findRole(roleIdOrName)]);
      const assignment: RoleAssignment = {
        id: newId(),
        principalId: holder.id,
        roleId: role.id,
        scope: canonicalScope(scope),
        createdAt: clock.now(),
      };
      await store.insertAssignment(assignment);
      await invalidate();
      return assignment;
    },

    async unassign(assignmentId: string): Promise<void> {
      if (!(await store.removeAssignment(assignmentId))) {
        throw new DomainError("NotFound", `Role assignment ${assignmentId} does not exist`, {
          reason: "RoleAssignmentNotFound",
        });
      }
      await invalidate();
    },

    assignments: (principalId?: string) => store.listAssignments({ principalId }),

    async addMember(groupId: string, memberId: string): Promise<void> {
      const [group, member] = await Promise.all([principal(groupId), principal(memberId)]);
      if (group.kind !== "group") throw badParameter(`${group.displayName} is not a group`);
      // One level of groups keeps "who may do what" answerable from one row per membership.
      if (member.kind === "group") throw badParameter("Groups cannot be members of groups");
      await store.addMember(group.id, member.id);
      await invalidate();
    },

    async removeMember(groupId: string, memberId: string): Promise<void> {
      if (!(await store.removeMember(groupId, memberId))) {
        throw new DomainError("NotFound", `${memberId} is not a member of group ${groupId}`);
      }
      await invalidate();
    },

    members: (groupId: string) => store.members(groupId),

    async setPolicy(vault: Vault, principalId: string, input: PolicyInput): Promise<AccessPolicy> {
      const holder = await principal(principalId);
      const list = (collection: PolicyCollection): string[] => {
        const known: readonly string[] = POLICY_PERMISSIONS[collection];
        const wanted = (input[collection] ?? []).map((p) => p.toLowerCase());
        if (wanted.includes("all")) return [...known];
        for (const p of wanted) {
          if (!known.includes(p)) {
            throw badParameter(`"${p}" is not a ${collection} permission; use ${known.join(", ")} or all`);
          }
        }
        return [...new Set(wanted)];
      };
      const policy: AccessPolicy = {
        vaultId: vault.id,
        principalId: holder.id,
        keys: list("keys"),
        secrets: list("secrets"),
        certificates: list("certificates"),
      };
      await store.putPolicy(policy);
      await invalidate();
      return policy;
    },

    async removePolicy(vault: Vault, principalId: string): Promise<void> {
      if (!(await store.removePolicy(vault.id, principalId))) {
        throw new DomainError("NotFound", `Vault ${vault.name} has no access policy for ${principalId}`);
      }
      await invalidate();
    },

    policies: (vault: Vault) => store.policies(vault.id),

    async vaultAccess(vault: Vault): Promise<VaultAccessSettings> {
      return (await store.vaultAccess(vault.id)) ?? DEFAULT_VAULT_ACCESS;
    },

    async setVaultAccess(vault: Vault, changes: Partial<VaultAccessSettings>): Promise<VaultAccessSettings> {
      const current = (await store.vaultAccess(vault.id)) ?? DEFAULT_VAULT_ACCESS;
      const next: VaultAccessSettings = { ...current, ...changes };
      for (const rule of next.ipRules) {
        if (!IPV4_RULE.test(rule)) {
          throw badParameter(
            `ipRules entry "${rule}" is not an IPv4 address or CIDR range such as 10.0.0.0/8`,
          );
        }
      }
      await store.putVaultAccess(vault.id, next);
      await invalidate();
      return next;
    },
  };
}
