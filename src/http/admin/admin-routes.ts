import { X509Certificate } from "node:crypto";
import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { AdminActions } from "../../domain/access/data-actions.js";
import type { PrincipalService } from "../../domain/access/principal-service.js";
import type { AcmeSettingsService } from "../../domain/acme/acme-settings-service.js";
import type { AlertService } from "../../domain/alerts/alert-service.js";
import type { ApprovalService } from "../../domain/approvals/approval-service.js";
import type { AuditService } from "../../domain/audit/audit-service.js";
import type { CaService } from "../../domain/ca/ca-service.js";
import type { CampaignService } from "../../domain/campaigns/campaign-service.js";
import type { DeploymentService } from "../../domain/deployments/deployment-service.js";
import type { PushTargetService } from "../../domain/deployments/push-target-service.js";
import type { DiscoveryService } from "../../domain/discovery/discovery-service.js";
import type { SmtpService } from "../../domain/events/smtp-service.js";
import type { WebhookInput, WebhookService } from "../../domain/events/webhook-service.js";
import { deliveredEventType, type WebhookSubscription } from "../../domain/events/webhooks.js";
import type { InventoryService } from "../../domain/inventory/inventory-service.js";
import type { RemoteVaultService } from "../../domain/remote-vaults/remote-vault-service.js";
import type { OverviewService } from "../../domain/reports/overview-service.js";
import type { PostureService } from "../../domain/reports/posture-service.js";
import type { GradingService } from "../../domain/rules/grading-service.js";
import type { FindingStore } from "../../domain/rules/ports.js";
import type { RulesService } from "../../domain/rules/rules-service.js";
import type { Vault } from "../../domain/vaults/model.js";
import { renderKeyVaultError } from "../keyvault/errors.js";
import { registerAccessAdminRoutes } from "./access-admin-routes.js";
import { registerAcmeAdminRoutes } from "./acme-routes.js";
import { authorizeInstallationAction } from "./admin-authorization.js";
import { registerAlertRoutes } from "./alert-routes.js";
import { registerApprovalRoutes } from "./approval-routes.js";
import { registerAuditRoutes } from "./audit-routes.js";
import { registerCaRoutes } from "./ca-routes.js";
import { registerCampaignRoutes } from "./campaign-routes.js";
import { registerDiscoveryRoutes } from "./discovery-routes.js";
import { registerInventoryRoutes } from "./inventory-routes.js";
import { registerOverviewRoutes } from "./overview-routes.js";
import { registerPushTargetRoutes } from "./push-target-routes.js";
import { registerRemoteVaultRoutes } from "./remote-vault-routes.js";
import { registerRulesRoutes } from "./rules-routes.js";
import { registerSmtpRoutes } from "./smtp-routes.js";
import { registerVaultObjectRoutes, type VaultObjectRouteDeps } from "./vault-object-routes.js";

export interface AdminRouteDeps extends VaultObjectRouteDeps {
  principals: PrincipalService;
  webhooks: WebhookService;
  acme: AcmeSettingsService;
  ca?: CaService | undefined;
  inventory?: InventoryService | undefined;
  discovery?: DiscoveryService | undefined;
  deployments?: DeploymentService | undefined;
  pushTargets?: PushTargetService | undefined;
  remoteVaults?: RemoteVaultService | undefined;
  rules?: { rules: RulesService; grading: GradingService; findings: FindingStore } | undefined;
  alerts?: AlertService | undefined;
  approvals?: ApprovalService | undefined;
  posture?: PostureService | undefined;
  overview?: OverviewService | undefined;
  campaigns?: CampaignService | undefined;
  /** The audit log's search, verification and export (its own right, not admin/read). */
  audit?: AuditService | undefined;
  /** SMTP settings and test mails. */
  smtp?: SmtpService | undefined;
}

const Settings = {
  sku: Type.Optional(Type.Union([Type.Literal("standard"), Type.Literal("premium")])),
  softDeleteRetentionDays: Type.Optional(Type.Integer({ minimum: 7, maximum: 90 })),
  purgeProtection: Type.Optional(Type.Boolean()),
  requireCompleteChain: Type.Optional(Type.Boolean()),
  nearExpiryDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 365 })),
};
const WebhookBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1 })),
    endpoint: Type.Optional(Type.String({ minLength: 1 })),
    eventTypes: Type.Optional(Type.Array(Type.String())),
    vaults: Type.Optional(Type.Array(Type.String())),
    subjectBeginsWith: Type.Optional(Type.String()),
    schema: Type.Optional(Type.String()),
    secret: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
const CreateVaultBody = Type.Object({ name: Type.String(), ...Settings }, { additionalProperties: false });
const UpdateVaultBody = Type.Object(Settings, { additionalProperties: false });

/** The management API under /admin: Key Vault's error format, bearer tokens from this installation. */
export function registerAdminRoutes(app: FastifyInstance, deps: AdminRouteDeps): void {
  const {
    identity,
    principals,
    access,
    vaults,
    certificates,
    webhooks,
    acme,
    vaultUrl,
    ca,
    inventory,
    discovery,
    deployments,
    pushTargets,
    remoteVaults,
    rules,
    alerts,
    approvals,
    posture,
    overview,
    campaigns,
    audit,
    smtp,
    sessions,
  } = deps;
  const view = (v: Vault) => ({
    name: v.name,
    id: v.id,
    vaultUrl: vaultUrl(v.name),
    sku: v.sku,
    softDeleteRetentionDays: v.softDeleteRetentionDays,
    purgeProtection: v.purgeProtection,
    requireCompleteChain: v.requireCompleteChain,
    nearExpiryDays: v.nearExpiryDays,
    createdAt: v.createdAt.toISOString(),
    updatedAt: v.updatedAt.toISOString(),
  });

  if (approvals) registerApprovalRoutes(app, { identity, access, sessions, approvals });
  registerVaultObjectRoutes(app, deps);
  if (audit) registerAuditRoutes(app, { identity, access, sessions, audit });
  app.register(async (admin) => {
    admin.setErrorHandler(renderKeyVaultError);
    admin.addHook("onRequest", async (request) => {
      const action = request.method === "GET" ? AdminActions.read : AdminActions.write;
      await authorizeInstallationAction(request, { identity, access, sessions }, "admin API", action);
    });

    registerAccessAdminRoutes(admin, { principals, access, vaults });
    if (ca) registerCaRoutes(admin, { ca, vaults, certificates });
    if (inventory) registerInventoryRoutes(admin, { inventory });
    if (discovery) registerDiscoveryRoutes(admin, { discovery, deployments });
    if (remoteVaults) registerRemoteVaultRoutes(admin, { remoteVaults });
    if (pushTargets) registerPushTargetRoutes(admin, { pushTargets });
    if (rules) registerRulesRoutes(admin, rules);
    if (alerts && posture) registerAlertRoutes(admin, { alerts, posture });
    if (overview) registerOverviewRoutes(admin, { overview });
    if (campaigns) registerCampaignRoutes(admin, { campaigns });
    if (smtp) registerSmtpRoutes(admin, { smtp });

    admin.get("/admin/vaults", { config: { operation: "VaultList" } }, async () => ({
      value: (await vaults.list()).map(view),
    }));

    admin.post<{ Body: Static<typeof CreateVaultBody> }>(
      "/admin/vaults",
      { schema: { body: CreateVaultBody }, config: { operation: "VaultCreate" } },
      async (request, reply) => {
        const { name, ...settings } = request.body;
        return reply.status(201).send(view(await vaults.create(name, settings)));
      },
    );

    admin.get<{ Params: { name: string } }>(
      "/admin/vaults/:name",
      { config: { operation: "VaultGet" } },
      async (request) => view(await vaults.get(request.params.name)),
    );

    admin.patch<{ Params: { name: string }; Body: Static<typeof UpdateVaultBody> }>(
      "/admin/vaults/:name",
      { schema: { body: UpdateVaultBody }, config: { operation: "VaultUpdate" } },
      async (request) => view(await vaults.update(request.params.name, request.body)),
    );

    // What Key Vault's API has no field for: whether an imported chain reaches a root.
    admin.get<{ Params: { name: string; certificate: string } }>(
      "/admin/vaults/:name/certificates/:certificate",
      { config: { operation: "CertificateInspect" } },
      async (request) => {
        const vault = await vaults.get(request.params.name);
        const c = await certificates.get(vault, request.params.certificate);
        const leaf = new X509Certificate(c.cer);
        return {
          name: c.name,
          version: c.version,
          subject: leaf.subject,
          issuer: leaf.issuer,
          serialNumber: leaf.serialNumber,
          notBefore: new Date(leaf.validFrom).toISOString(),
          notAfter: new Date(leaf.validTo).toISOString(),
          thumbprint: c.thumbprint.toString("hex"),
          chainLength: 1 + c.chain.length,
          chain: c.chainVerdict,
        };
      },
    );

    const webhookView = (s: WebhookSubscription) => ({
      id: s.id,
      name: s.name,
      endpoint: s.endpoint,
      eventTypes: s.eventTypes.map(deliveredEventType),
      vaults: s.vaults,
      ...(s.subjectBeginsWith !== undefined && { subjectBeginsWith: s.subjectBeginsWith }),
      schema: s.schema,
      signed: s.sealedSecret !== undefined,
      status: s.status,
      createdAt: s.createdAt.toISOString(),
      updatedAt: s.updatedAt.toISOString(),
    });

    admin.get("/admin/webhooks", { config: { operation: "WebhookList" } }, async () => ({
      value: (await webhooks.list()).map(webhookView),
    }));
    admin.post<{ Body: WebhookInput }>(
      "/admin/webhooks",
      { schema: { body: WebhookBody }, config: { operation: "WebhookCreate" } },
      async (request, reply) => reply.status(201).send(webhookView(await webhooks.create(request.body))),
    );
    admin.get<{ Params: { id: string } }>(
      "/admin/webhooks/:id",
      { config: { operation: "WebhookGet" } },
      async (request) => webhookView(await webhooks.get(request.params.id)),
    );
    admin.patch<{ Params: { id: string }; Body: WebhookInput }>(
      "/admin/webhooks/:id",
      { schema: { body: WebhookBody }, config: { operation: "WebhookUpdate" } },
      async (request) => webhookView(await webhooks.update(request.params.id, request.body)),
    );
    admin.delete<{ Params: { id: string } }>(
      "/admin/webhooks/:id",
      { config: { operation: "WebhookDelete" } },
      async (request, reply) => {
        await webhooks.remove(request.params.id);
        return reply.status(204).send();
      },
    );
    admin.get<{ Params: { id: string } }>(
      "/admin/webhooks/:id/deadletters",
      { config: { operation: "WebhookDeadLetters" } },
      async (request) => ({
        value: (await webhooks.deadLetters(request.params.id)).map((d) => ({
          eventId: d.event.id,
          eventType: deliveredEventType(d.event.type),
          vault: d.event.vaultName,
          objectName: d.event.objectName,
          attempts: d.attempts,
          lastError: d.lastError,
        })),
      }),
    );
    // A write, though it changes nothing stored: it makes this server send a request to the endpoint.
    admin.post<{ Params: { id: string } }>(
      "/admin/webhooks/:id/test",
      { config: { operation: "WebhookTest" } },
      async (request) => webhooks.sendTest(request.params.id),
    );
    admin.post<{ Params: { id: string } }>(
      "/admin/webhooks/:id/deadletters/replay",
      { config: { operation: "WebhookReplay" } },
      async (request) => ({ replayed: await webhooks.replay(request.params.id) }),
    );

    registerAcmeAdminRoutes(admin, { acme, vaults });

    admin.delete<{ Params: { name: string } }>(
      "/admin/vaults/:name",
      { config: { operation: "VaultDelete" } },
      async (request, reply) => {
        await vaults.remove(request.params.name);
        return reply.status(204).send();
      },
    );
  });
}
