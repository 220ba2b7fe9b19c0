import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { AccessService } from "../../domain/access/access-service.js";
import type {
  AccessPolicy,
  FederatedCredential,
  Principal,
  RoleAssignment,
  RoleDefinition,
} from "../../domain/access/model.js";
import type { PrincipalCredentials } from "../../domain/access/ports.js";
import type { PrincipalService } from "../../domain/access/principal-service.js";
import { badParameter } from "../../domain/errors.js";
import type { VaultService } from "../../domain/vaults/vault-service.js";

export interface AccessAdminRouteDeps {
  principals: PrincipalService;
  access: AccessService;
  vaults: VaultService;
}

const DateString = Type.String({ format: "date-time" });
const CreatePrincipalBody = Type.Object(
  {
    displayName: Type.String({ minLength: 1 }),
    kind: Type.Optional(
      Type.Union([Type.Literal("servicePrincipal"), Type.Literal("user"), Type.Literal("group")]),
    ),
    secretExpiresAt: Type.Optional(DateString),
  },
  { additionalProperties: false },
);
const UpdatePrincipalBody = Type.Object(
  { displayName: Type.Optional(Type.String({ minLength: 1 })), enabled: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
const SecretBody = Type.Object({ expiresAt: Type.Optional(DateString) }, { additionalProperties: false });
const CertificateBody = Type.Object(
  {
    /** PEM, or base64 of the DER. */
    certificate: Type.String({ minLength: 1 }),
    expiresAt: Type.Optional(DateString),
  },
  { additionalProperties: false },
);
const FederatedBody = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    issuer: Type.String({ minLength: 1 }),
    subject: Type.String({ minLength: 1 }),
    audiences: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    jwks: Type.Optional(Type.Object({ keys: Type.Array(Type.Object({})) })),
  },
  { additionalProperties: false },
);
const Patterns = Type.Optional(Type.Array(Type.String()));
const RoleBody = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    description: Type.Optional(Type.String()),
    actions: Patterns,
    notActions: Patterns,
    dataActions: Patterns,
    notDataActions: Patterns,
  },
  { additionalProperties: false },
);
const AssignmentBody = Type.Object(
  { principalId: Type.String({ minLength: 1 }), role: Type.String({ minLength: 1 }), scope: Type.String() },
  { additionalProperties: false },
);
const Permissions = Type.Optional(Type.Array(Type.String()));
const PolicyBody = Type.Object(
  { keys: Permissions, secrets: Permissions, certificates: Permissions },
  { additionalProperties: false },
);
const VaultAccessBody = Type.Object(
  {
    enableRbacAuthorization: Type.Optional(Type.Boolean()),
    networkAcls: Type.Optional(
      Type.Object(
        { ipRules: Type.Array(Type.Object({ value: Type.String() }, { additionalProperties: false })) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

const date = (value: string | undefined) => (value === undefined ? undefined : new Date(value));

export const principalView = (p: Principal) => ({
  id: p.id,
  clientId: p.clientId,
  displayName: p.displayName,
  kind: p.kind,
  enabled: p.enabled,
  createdAt: p.createdAt.toISOString(),
});

const federatedView = (f: FederatedCredential) => ({
  id: f.id,
  name: f.name,
  issuer: f.issuer,
  subject: f.subject,
  audiences: f.audiences,
  pinnedJwks: f.jwks !== undefined,
  createdAt: f.createdAt.toISOString(),
});

const detailView = (found: PrincipalCredentials, members: string[] | undefined) => ({
  ...principalView(found.principal),
  secrets: found.secrets.map((s) => ({
    id: s.id,
    hint: s.hint,
    expiresAt: s.expiresAt?.toISOString() ?? null,
    createdAt: s.createdAt.toISOString(),
  })),
  certificates: found.certificates.map((c) => ({
    id: c.id,
    thumbprint: c.thumbprintSha1.toUpperCase(),
    thumbprintSha256: c.thumbprintSha256,
    expiresAt: c.expiresAt.toISOString(),
    createdAt: c.createdAt.toISOString(),
  })),
  federatedCredentials: found.federated.map(federatedView),
  ...(members && { members }),
});

export const roleView = (r: RoleDefinition) => ({
  id: r.id,
  roleName: r.name,
  description: r.description,
  roleType: r.builtIn ? "BuiltInRole" : "CustomRole",
  permissions: [
    {
      actions: r.actions,
      notActions: r.notActions,
      dataActions: r.dataActions,
      notDataActions: r.notDataActions,
    },
  ],
});

export const assignmentView = (a: RoleAssignment) => ({
  id: a.id,
  principalId: a.principalId,
  roleDefinitionId: a.roleId,
  scope: a.scope,
  createdAt: a.createdAt.toISOString(),
});

const policyView = (p: AccessPolicy) => ({
  objectId: p.principalId,
  permissions: { keys: p.keys, secrets: p.secrets, certificates: p.certificates },
});

/** Principals, credentials, groups, roles, role assignments and per-vault access under /admin. */
export function registerAccessAdminRoutes(
  admin: FastifyInstance,
  { principals, access, vaults }: AccessAdminRouteDeps,
): void {
  type Id = { Params: { id: string } };

  const detail = async (id: string) => {
    const found = await principals.find(id);
    const members = found.principal.kind === "group" ? await access.members(found.principal.id) : undefined;
    return detailView(found, members);
  };

  admin.get("/admin/principals", { config: { operation: "PrincipalList" } }, async () => ({
    value: (await principals.list()).map(principalView),
  }));

  admin.post<{ Body: Static<typeof CreatePrincipalBody> }>(
    "/admin/principals",
    { schema: { body: CreatePrincipalBody }, config: { operation: "PrincipalCreate" } },
    async (request, reply) => {
      const b = request.body;
      const created = await principals.create(b.displayName, b.kind, date(b.secretExpiresAt));
      return reply.status(201).send({
        ...principalView(created.principal),
        ...(created.clientSecret !== undefined && {
          clientSecret: created.clientSecret,
          secretId: created.secretId,
        }),
      });
    },
  );

  admin.get<Id>("/admin/principals/:id", { config: { operation: "PrincipalGet" } }, (request) =>
    detail(request.params.id),
  );

  admin.patch<Id & { Body: Static<typeof UpdatePrincipalBody> }>(
    "/admin/principals/:id",
    { schema: { body: UpdatePrincipalBody }, config: { operation: "PrincipalUpdate" } },
    async (request) => principalView(await principals.update(request.params.id, request.body)),
  );

  admin.delete<Id>(
    "/admin/principals/:id",
    { config: { operation: "PrincipalDelete" } },
    async (request, reply) => {
      await principals.remove(request.params.id);
      return reply.status(204).send();
    },
  );

  admin.post<Id & { Body: Static<typeof SecretBody> | undefined }>(
    "/admin/principals/:id/secrets",
    { schema: { body: SecretBody }, config: { operation: "PrincipalSecretAdd" } },
    async (request, reply) => {
      const added = await principals.addSecret(request.params.id, date(request.body?.expiresAt));
      return reply.status(201).send({
        id: added.id,
        hint: added.hint,
        expiresAt: added.expiresAt?.toISOString() ?? null,
        clientSecret: added.clientSecret,
      });
    },
  );

  admin.delete<{ Params: { id: string; credential: string } }>(
    "/admin/principals/:id/secrets/:credential",
    { config: { operation: "PrincipalSecretRemove" } },
    async (request, reply) => {
      await principals.removeSecret(request.params.id, request.params.credential);
      return reply.status(204).send();
    },
  );

  admin.post<Id & { Body: Static<typeof CertificateBody> }>(
    "/admin/principals/:id/certificates",
    { schema: { body: CertificateBody }, config: { operation: "PrincipalCertificateAdd" } },
    async (request, reply) => {
      const text = request.body.certificate.trim();
      const encoded = text.startsWith("-----BEGIN") ? Buffer.from(text) : Buffer.from(text, "base64");
      const added = await principals.addCertificate(request.params.id, encoded, date(request.body.expiresAt));
      return reply.status(201).send({
        id: added.id,
        thumbprint: added.thumbprintSha1.toUpperCase(),
        thumbprintSha256: added.thumbprintSha256,
        expiresAt: added.expiresAt.toISOString(),
      });
    },
  );

  admin.delete<{ Params: { id: string; credential: string } }>(
    "/admin/principals/:id/certificates/:credential",
    { config: { operation: "PrincipalCertificateRemove" } },
    async (request, reply) => {
      await principals.removeCertificate(request.params.id, request.params.credential);
      return reply.status(204).send();
    },
  );

  admin.post<Id & { Body: Static<typeof FederatedBody> }>(
    "/admin/principals/:id/federatedcredentials",
    { schema: { body: FederatedBody }, config: { operation: "PrincipalFederatedAdd" } },
    async (request, reply) =>
      reply.status(201).send(federatedView(await principals.addFederated(request.params.id, request.body))),
  );

  admin.delete<{ Params: { id: string; credential: string } }>(
    "/admin/principals/:id/federatedcredentials/:credential",
    { config: { operation: "PrincipalFederatedRemove" } },
    async (request, reply) => {
      await principals.removeFederated(request.params.id, request.params.credential);
      return reply.status(204).send();
    },
  );

  admin.put<{ Params: { id: string; member: string } }>(
    "/admin/principals/:id/members/:member",
    { config: { operation: "GroupMemberAdd" } },
    async (request, reply) => {
      const [group, member] = await Promise.all([
        principals.find(request.params.id),
        principals.find(request.params.member),
      ]);
      await access.addMember(group.principal.id, member.principal.id);
      return reply.status(204).send();
    },
  );

  admin.delete<{ Params: { id: string; member: string } }>(
    "/admin/principals/:id/members/:member",
    { config: { operation: "GroupMemberRemove" } },
    async (request, reply) => {
      const [group, member] = await Promise.all([
        principals.find(request.params.id),
        principals.find(request.params.member),
      ]);
      await access.removeMember(group.principal.id, member.principal.id);
      return reply.status(204).send();
    },
  );

  admin.get("/admin/roles", { config: { operation: "RoleList" } }, async () => ({
    value: (await access.roles()).map(roleView),
  }));

  admin.get<Id>("/admin/roles/:id", { config: { operation: "RoleGet" } }, async (request) =>
    roleView(await access.findRole(request.params.id)),
  );

  admin.post<{ Body: Static<typeof RoleBody> }>(
    "/admin/roles",
    { schema: { body: RoleBody }, config: { operation: "RoleCreate" } },
    async (request, reply) => reply.status(201).send(roleView(await access.createRole(request.body))),
  );

  admin.delete<Id>("/admin/roles/:id", { config: { operation: "RoleDelete" } }, async (request, reply) => {
    await access.deleteRole(request.params.id);
    return reply.status(204).send();
  });

  admin.get<{ Querystring: { principalId?: string } }>(
    "/admin/roleassignments",
    { config: { operation: "RoleAssignmentList" } },
    async (request) => {
      const principalId = request.query.principalId;
      const id = principalId === undefined ? undefined : (await principals.find(principalId)).principal.id;
      return { value: (await access.assignments(id)).map(assignmentView) };
    },
  );

  admin.post<{ Body: Static<typeof AssignmentBody> }>(
    "/admin/roleassignments",
    { schema: { body: AssignmentBody }, config: { operation: "RoleAssignmentCreate" } },
    async (request, reply) => {
      const { principal } = await principals.find(request.body.principalId);
      const created = await access.assign(principal.id, request.body.role, request.body.scope);
      return reply.status(201).send(assignmentView(created));
    },
  );

  admin.delete<Id>(
    "/admin/roleassignments/:id",
    { config: { operation: "RoleAssignmentDelete" } },
    async (request, reply) => {
      await access.unassign(request.params.id);
      return reply.status(204).send();
    },
  );

  const accessView = async (name: string) => {
    const vault = await vaults.get(name);
    const settings = await access.vaultAccess(vault);
    return {
      enableRbacAuthorization: settings.enableRbacAuthorization,
      networkAcls: {
        defaultAction: settings.ipRules.length === 0 ? "Allow" : "Deny",
        ipRules: settings.ipRules.map((value) => ({ value })),
      },
      accessPolicies: (await access.policies(vault)).map(policyView),
    };
  };

  admin.get<{ Params: { name: string } }>(
    "/admin/vaults/:name/access",
    { config: { operation: "VaultAccessGet" } },
    (request) => accessView(request.params.name),
  );

  admin.patch<{ Params: { name: string }; Body: Static<typeof VaultAccessBody> }>(
    "/admin/vaults/:name/access",
    { schema: { body: VaultAccessBody }, config: { operation: "VaultAccessUpdate" } },
    async (request) => {
      const vault = await vaults.get(request.params.name);
      const b = request.body;
      await access.setVaultAccess(vault, {
        ...(b.enableRbacAuthorization !== undefined && {
          enableRbacAuthorization: b.enableRbacAuthorization,
        }),
        ...(b.networkAcls && { ipRules: b.networkAcls.ipRules.map((r) => r.value) }),
      });
      return accessView(vault.name);
    },
  );

  admin.put<{ Params: { name: string; principal: string }; Body: Static<typeof PolicyBody> }>(
    "/admin/vaults/:name/accesspolicies/:principal",
    { schema: { body: PolicyBody }, config: { operation: "AccessPolicySet" } },
    async (request) => {
      const vault = await vaults.get(request.params.name);
      const { principal } = await principals.find(request.params.principal);
      if (!request.body)
        throw badParameter("The body must list keys, secrets and/or certificates permissions");
      return policyView(await access.setPolicy(vault, principal.id, request.body));
    },
  );

  admin.delete<{ Params: { name: string; principal: string } }>(
    "/admin/vaults/:name/accesspolicies/:principal",
    { config: { operation: "AccessPolicyRemove" } },
    async (request, reply) => {
      const vault = await vaults.get(request.params.name);
      const { principal } = await principals.find(request.params.principal);
      await access.removePolicy(vault, principal.id);
      return reply.status(204).send();
    },
  );
}
