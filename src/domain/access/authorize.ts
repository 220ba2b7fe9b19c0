import { ALL_ADMIN_ACTIONS, ALL_DATA_ACTIONS, DataActions, type RouteAccess } from "./data-actions.js";
import type {
  AccessPolicy,
  Principal,
  RoleAssignment,
  RoleDefinition,
  VaultAccessSettings,
} from "./model.js";
import type { GrantSources } from "./ports.js";
import { grantedActions } from "./roles.js";

/** What a rule granted, keyed for constant-time lookup: scope → action → the rule, as audited. */
type RuleIndex = Map<string, Map<string, string>>;

/** One principal's effective rights, resolved once from its assignments, groups and policies. */
export interface PrincipalGrants {
  principal: Principal;
  rbac: RuleIndex;
  /** vault id → `collection/permission` → the access policy that grants it. */
  policies: RuleIndex;
}

/** An allow or deny and the rule that decided it, for the audit log. */
export type Decision =
  | { allowed: true; rule: string }
  | { allowed: false; rule: string; reason: "ForbiddenByRbac" | "ForbiddenByPolicy" };

/**
 * Reading a certificate means reading the key and secret Key Vault keeps under the same name, so
 * an assignment on a certificate carries its read rights over to them; nothing else crosses over.
 */
const CERTIFICATE_PARTS_READ = new Set<string>([
  DataActions.keysRead,
  DataActions.secretsGet,
  DataActions.secretsReadMetadata,
]);

function add(index: RuleIndex, scope: string, action: string, rule: string) {
  let actions = index.get(scope);
  if (!actions) {
    actions = new Map();
    index.set(scope, actions);
  }
  // The first rule found stays: assignments are read oldest first, so audits name a stable rule.
  if (!actions.has(action)) actions.set(action, rule);
}

/** Resolves a principal's assignments (direct and through groups) and policies into lookup tables. */
export function resolveGrants(
  sources: GrantSources,
  roleById: (id: string) => RoleDefinition | undefined,
): PrincipalGrants {
  const { principal, groups } = sources;
  const groupName = (id: string) => groups.find((g) => g.id === id)?.displayName ?? id;
  const via = (holderId: string) => (holderId === principal.id ? "" : ` via group "${groupName(holderId)}"`);
  const rbac: RuleIndex = new Map();
  const assignments = [...sources.assignments].sort(
    (a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id),
  );
  for (const assignment of assignments) {
    const role = roleById(assignment.roleId);
    if (!role) continue;
    const rule = ruleText(role, assignment, via(assignment.principalId));
    const actions = [
      ...grantedActions(role.dataActions, role.notDataActions, ALL_DATA_ACTIONS),
      ...grantedActions(role.actions, role.notActions, ALL_ADMIN_ACTIONS),
    ];
    for (const action of actions) add(rbac, assignment.scope, action, rule);
    const certificate = /^(\/vaults\/[^/]+)\/certificates\/([^/]+)$/.exec(assignment.scope);
    if (certificate) {
      for (const action of actions) {
        if (!CERTIFICATE_PARTS_READ.has(action)) continue;
        add(
          rbac,
          `${certificate[1]}/secrets/${certificate[2]}`,
          action,
          `${rule} (certificate's own secret/key)`,
        );
        add(
          rbac,
          `${certificate[1]}/keys/${certificate[2]}`,
          action,
          `${rule} (certificate's own secret/key)`,
        );
      }
    }
  }
  const policies: RuleIndex = new Map();
  for (const policy of sources.policies) {
    const holder =
      policy.principalId === principal.id ? "the principal" : `group "${groupName(policy.principalId)}"`;
    const rule = `access policy of ${holder}`;
    for (const permission of policyPermissions(policy)) add(policies, policy.vaultId, permission, rule);
  }
  return { principal, rbac, policies };
}

function ruleText(role: RoleDefinition, assignment: RoleAssignment, via: string): string {
  return `role "${role.name}" at ${assignment.scope} (assignment ${assignment.id})${via}`;
}

function policyPermissions(policy: AccessPolicy): string[] {
  return [
    ...policy.keys.map((p) => `keys/${p.toLowerCase()}`),
    ...policy.secrets.map((p) => `secrets/${p.toLowerCase()}`),
    ...policy.certificates.map((p) => `certificates/${p.toLowerCase()}`),
  ];
}

/** A data-plane request as the authorizer sees it. */
export interface DataPlaneRequest {
  access: RouteAccess;
  vaultId: string;
  /** Lower-case vault name, as scopes spell it. */
  vaultName: string;
  collection?: "secrets" | "keys" | "certificates" | undefined;
  /** The addressed object's name, for object-scoped assignments. */
  objectName?: string | undefined;
}

/**
 * The single authorization decision point of the data plane: deny unless a role assignment at the
 * installation, the vault or the object grants the route's data action (RBAC vaults), or the
 * vault's access policy for the principal or one of its groups holds the route's permission.
 */
export function authorizeDataPlane(
  grants: PrincipalGrants,
  settings: VaultAccessSettings,
  request: DataPlaneRequest,
): Decision {
  const { access } = request;
  if (!settings.enableRbacAuthorization) {
    const rule = access.permission && grants.policies.get(request.vaultId)?.get(access.permission);
    if (rule) return { allowed: true, rule: `${rule} grants ${access.permission}` };
    return {
      allowed: false,
      rule: `no access policy grants ${access.permission ?? access.dataAction}`,
      reason: "ForbiddenByPolicy",
    };
  }
  const action = access.dataAction;
  const vaultScope = `/vaults/${request.vaultName}`;
  const rule =
    grants.rbac.get("/")?.get(action) ??
    grants.rbac.get(vaultScope)?.get(action) ??
    (request.collection && request.objectName !== undefined
      ? grants.rbac
          .get(`${vaultScope}/${request.collection}/${request.objectName.toLowerCase()}`)
          ?.get(action)
      : undefined);
  if (rule) return { allowed: true, rule };
  return { allowed: false, rule: `no role assignment grants ${action}`, reason: "ForbiddenByRbac" };
}

/**
 * The decision for an action on something that lives at several scopes at once (an approval request
 * of a certificate: `/`, its vault, the certificate): allowed when any of them grants it.
 */
export function authorizeAtAny(grants: PrincipalGrants, action: string, scopes: readonly string[]): Decision {
  for (const scope of scopes) {
    const rule = grants.rbac.get(scope)?.get(action);
    if (rule) return { allowed: true, rule };
  }
  return {
    allowed: false,
    rule: `no role assignment grants ${action} at ${scopes.join(", ")}`,
    reason: "ForbiddenByRbac",
  };
}

/** Whether some assignment, at any scope, grants the action: who may see a list it is filtered for. */
export function authorizeAnywhere(grants: PrincipalGrants, action: string): Decision {
  for (const actions of grants.rbac.values()) {
    const rule = actions.get(action);
    if (rule) return { allowed: true, rule };
  }
  return { allowed: false, rule: `no role assignment grants ${action}`, reason: "ForbiddenByRbac" };
}

/** The admin API's decision: its actions are granted only at the installation scope. */
export function authorizeAdmin(grants: PrincipalGrants, action: string): Decision {
  const rule = grants.rbac.get("/")?.get(action);
  if (rule) return { allowed: true, rule };
  return { allowed: false, rule: `no role assignment grants ${action} at /`, reason: "ForbiddenByRbac" };
}
