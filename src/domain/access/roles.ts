import type { RoleDefinition } from "./model.js";

const V = "Microsoft.KeyVault/vaults";

const role = (
  id: string,
  name: string,
  description: string,
  dataActions: string[],
  actions: string[] = [],
): RoleDefinition => ({
  id,
  name,
  description,
  builtIn: true,
  actions,
  notActions: [],
  dataActions,
  notDataActions: [],
});

/**
 * Azure's built-in Key Vault data-plane roles, with their ids, names and data actions as Azure
 * publishes them (docs: "Azure built-in roles for Security"), plus Strongroom's own administrator
 * role for the admin API.
 */
export const BUILT_IN_ROLES: readonly RoleDefinition[] = Object.freeze([
  role(
    "00482a5a-887f-4fb3-b363-3b7fe8e74483",
    "Key Vault Administrator",
    "Perform all data plane operations on a key vault and all objects in it, including certificates, keys, and secrets.",
    [`${V}/*`],
  ),
  role(
    "21090545-7ca7-4776-b22c-e363652d74d2",
    "Key Vault Reader",
    "Read metadata of key vaults and its certificates, keys, and secrets. Cannot read sensitive values such as secret contents or key material.",
    [`${V}/*/read`, `${V}/secrets/readMetadata/action`],
  ),
  role(
    "a4417e6f-fecd-4de8-b567-7b0420556985",
    "Key Vault Certificates Officer",
    "Perform any action on the certificates of a key vault, except manage permissions.",
    [`${V}/certificatecas/*`, `${V}/certificates/*`, `${V}/certificatecontacts/write`],
  ),
  role("db79e9a7-68ee-4b58-9aeb-b90e7c24fcba", "Key Vault Certificate User", "Read certificate contents.", [
    `${V}/certificates/read`,
    `${V}/secrets/getSecret/action`,
    `${V}/secrets/readMetadata/action`,
    `${V}/keys/read`,
  ]),
  role(
    "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
    "Key Vault Crypto Officer",
    "Perform any action on the keys of a key vault, except manage permissions.",
    [`${V}/keys/*`, `${V}/keyrotationpolicies/*`],
  ),
  role(
    "12338af0-0e69-4776-bea7-57ae8d297424",
    "Key Vault Crypto User",
    "Perform cryptographic operations using keys.",
    [
      `${V}/keys/read`,
      `${V}/keys/update/action`,
      `${V}/keys/backup/action`,
      `${V}/keys/encrypt/action`,
      `${V}/keys/decrypt/action`,
      `${V}/keys/wrap/action`,
      `${V}/keys/unwrap/action`,
      `${V}/keys/sign/action`,
      `${V}/keys/verify/action`,
    ],
  ),
  role(
    "e147488a-f6f5-4113-8e2d-b22465e65bf6",
    "Key Vault Crypto Service Encryption User",
    "Read metadata of keys and perform wrap/unwrap operations.",
    [`${V}/keys/read`, `${V}/keys/wrap/action`, `${V}/keys/unwrap/action`],
  ),
  role(
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    "Key Vault Secrets Officer",
    "Perform any action on the secrets of a key vault, except manage permissions.",
    [`${V}/secrets/*`],
  ),
  role(
    "4633458b-17de-408a-b874-0445c86b69e6",
    "Key Vault Secrets User",
    "Read secret contents including secret portion of a certificate with private key.",
    [`${V}/secrets/getSecret/action`, `${V}/secrets/readMetadata/action`],
  ),
  role(
    "5f1c1f0a-6d3e-4c55-9d57-2f7b9f3a0a01",
    "Strongroom Administrator",
    "Manage vaults, principals, roles, role assignments, access policies and webhooks through the admin API.",
    [],
    ["Strongroom/*"],
  ),
  role(
    "3b8f5d1e-7a2c-4e9b-b6d4-1c0e9f8a7d52",
    "Strongroom Reader",
    "Read everything the admin API and the dashboard show except the audit log; change nothing.",
    [],
    ["Strongroom/admin/read"],
  ),
  role(
    "9d3c6a2e-4f1b-4c8e-a7d5-2b6e8f0c1a93",
    "Strongroom Discovery Agent",
    "Report as a discovery agent: heartbeats, its own scan assignments and their results. No vault data and no admin API.",
    [],
    ["Strongroom/discovery/agent"],
  ),
  role(
    "3b8f2d41-7c6e-4a09-9e15-d24c7a6b5f80",
    "Certificate Approver",
    "Read and decide (approve or deny) the approval requests of its scope: the installation, a vault, one certificate or a CA. Grants nothing else.",
    [],
    ["Strongroom/approvals/read", "Strongroom/approvals/decide"],
  ),
  role(
    "6e2a9c4b-1d7f-4b3e-8a05-c9f2d6b1e874",
    "Strongroom Auditor",
    "Search, verify and export the audit log. Grants nothing else.",
    [],
    ["Strongroom/audit/read"],
  ),
]);

/**
 * Azure's wildcard match: `*` stands for any run of characters (slashes included) and comparison
 * ignores case.
 */
export function actionMatches(pattern: string, action: string): boolean {
  const p = pattern.toLowerCase();
  const a = action.toLowerCase();
  const star = p.indexOf("*");
  if (star < 0) return p === a;
  const parts = p.split("*");
  let at = 0;
  for (const [i, part] of parts.entries()) {
    if (i === 0) {
      if (!a.startsWith(part)) return false;
      at = part.length;
      continue;
    }
    if (i === parts.length - 1) return a.length - at >= part.length && a.endsWith(part);
    const found = a.indexOf(part, at);
    if (found < 0) return false;
    at = found + part.length;
  }
  return true;
}

/** The concrete actions among `known` that a role grants: any of its patterns, none of its exclusions. */
export function grantedActions(
  patterns: readonly string[],
  exclusions: readonly string[],
  known: readonly string[],
): string[] {
  return known.filter(
    (action) =>
      patterns.some((p) => actionMatches(p, action)) && !exclusions.some((p) => actionMatches(p, action)),
  );
}
