import { randomUUID } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerFactory } from "fastify";
import type { Logger } from "pino";
import { Histogram, type Registry } from "prom-client";
import type { AccessService } from "../domain/access/access-service.js";
import type { IdentityService } from "../domain/access/identity-service.js";
import type { PrincipalService } from "../domain/access/principal-service.js";
import { createThrottle, type ThrottleLimit } from "../domain/access/throttle.js";
import type { AcmeSettingsService } from "../domain/acme/acme-settings-service.js";
import type { AcmeServerService } from "../domain/acme-server/acme-server-service.js";
import type { AlertService } from "../domain/alerts/alert-service.js";
import type { ApprovalService } from "../domain/approvals/approval-service.js";
import { type AuditScope, inAuditScope } from "../domain/audit/audit-scope.js";
import type { AuditService } from "../domain/audit/audit-service.js";
import { AUDIT_RETRY_AFTER_SECONDS, auditUnavailable } from "../domain/audit/audit-unavailable.js";
import type { AuditEntry } from "../domain/audit/model.js";
import type { CaService } from "../domain/ca/ca-service.js";
import type { CertificateService } from "../domain/certificates/certificate-service.js";
import type { ContactsService } from "../domain/certificates/contacts-service.js";
import type { IssuerService } from "../domain/certificates/issuer-service.js";
import type { SecretFormats } from "../domain/certificates/secret-formats.js";
import type { Clock } from "../domain/clock.js";
import type { DeploymentService } from "../domain/deployments/deployment-service.js";
import type { PushTargetService } from "../domain/deployments/push-target-service.js";
import type { VersionWatch } from "../domain/deployments/version-watch.js";
import type { DiscoveryService } from "../domain/discovery/discovery-service.js";
import type { EnrollmentService } from "../domain/enrollment/enrollment-service.js";
import type { ScepCodec } from "../domain/enrollment/ports.js";
import type { ProfileService } from "../domain/enrollment/profile-service.js";
import type { SmtpService } from "../domain/events/smtp-service.js";
import type { WebhookService } from "../domain/events/webhook-service.js";
import type { InventoryService } from "../domain/inventory/inventory-service.js";
import type { KeyService } from "../domain/keys/key-service.js";
import type { RemoteVaultService } from "../domain/remote-vaults/remote-vault-service.js";
import type { OverviewService } from "../domain/reports/overview-service.js";
import type { PostureService } from "../domain/reports/posture-service.js";
import type { SecretService } from "../domain/secrets/secret-service.js";
import type { SignInService } from "../domain/sign-in/sign-in-service.js";
import type { SingleSignOn } from "../domain/sign-in/single-sign-on.js";
import type { VaultService } from "../domain/vaults/vault-service.js";
import { registerAcmeServerRoutes } from "./acme/acme-routes.js";
import { type AdminRouteDeps, registerAdminRoutes } from "./admin/admin-routes.js";
import { registerAgentRoutes } from "./agent/agent-routes.js";
import { registerEstRoutes } from "./est/est-routes.js";
import { registerAccessHook } from "./keyvault/access-hook.js";
import { registerCertificateContactsRoutes } from "./keyvault/certificate-contacts-routes.js";
import { registerCertificateIssuerRoutes } from "./keyvault/certificate-issuers-routes.js";
import { registerCertificateRoutes } from "./keyvault/certificates-routes.js";
import { keyVaultError, renderKeyVaultError } from "./keyvault/errors.js";
import { registerKeyRoutes } from "./keyvault/keys-routes.js";
import { registerKeyVaultHooks } from "./keyvault/keyvault-plugin.js";
import { registerSecretRoutes } from "./keyvault/secrets-routes.js";
import type { VaultHostRules } from "./keyvault/vault-host.js";
import { registerOAuthRoutes } from "./oauth/oauth-routes.js";
import { registerOpsRoutes, UNAUDITED_PATHS } from "./ops/ops-routes.js";
import { routeOf } from "./request-context.js";
import { registerScepRoutes } from "./scep/scep-routes.js";
import type { PageRenderer } from "./ui/page-renderer.js";
import { createSessionAuth } from "./ui/session-auth.js";
import type { UiAssets } from "./ui/ui-assets.js";
import { registerUiRoutes } from "./ui/ui-routes.js";

export interface AppDeps {
  logger: Logger;
  identity: IdentityService;
  principals: PrincipalService;
  access: AccessService;
  clock: Clock;
  /** Token buckets per vault and per principal; absent limits do not throttle. */
  throttle?: { vault?: ThrottleLimit | undefined; principal?: ThrottleLimit | undefined } | undefined;
  vaults: VaultService;
  secrets: SecretService;
  /** Secret reads with outContentType (certificate secrets in PEM or PFX). */
  secretFormats: SecretFormats;
  keys: KeyService;
  certificates: CertificateService;
  issuers: IssuerService;
  contacts: ContactsService;
  webhooks: WebhookService;
  acme: AcmeSettingsService;
  ca?: CaService | undefined;
  /** The ACME server of the private CA's profiles, at /acme/{profile}/. */
  acmeServer?: AcmeServerService | undefined;
  inventory?: InventoryService | undefined;
  discovery?: DiscoveryService | undefined;
  /** Agent syncs' states (agent and admin APIs). */
  deployments?: DeploymentService | undefined;
  /** Imports of new versions into other Key Vaults (admin API). */
  pushTargets?: PushTargetService | undefined;
  /** The agents' long-poll for new certificate versions. */
  watch?: VersionWatch | undefined;
  remoteVaults?: RemoteVaultService | undefined;
  /** Organisation rules, grading and findings (admin API). */
  rules?: AdminRouteDeps["rules"];
  alerts?: AlertService | undefined;
  approvals?: ApprovalService | undefined;
  posture?: PostureService | undefined;
  /** The dashboard's overview figures (admin API). */
  overview?: OverviewService | undefined;
  /** Re-issuance campaigns (admin API). */
  campaigns?: AdminRouteDeps["campaigns"];
  /** EST and SCEP front ends of the private CA. */
  enrollment?:
    | {
        profiles: ProfileService;
        service: EnrollmentService;
        codec: ScepCodec;
        certsOnly(certificates: Buffer[]): Buffer;
      }
    | undefined;
  audit: AuditService;
  /** SMTP settings and test mails (admin API). */
  smtp?: SmtpService | undefined;
  jwks: () => unknown;
  hostRules: VaultHostRules;
  /** `https://host:port`, where tokens are issued. */
  authorityHost: string;
  vaultUrl: (name: string) => string;
  checkReady: () => Promise<void>;
  metrics?: Registry | undefined;
  /** The dashboard's built assets; undefined serves a page saying the client is not built. */
  uiAssets?: UiAssets | undefined;
  /** Renders the dashboard's pages that have server-side reads; undefined leaves every page to the browser. */
  uiRenderer?: PageRenderer | undefined;
  /** Dashboard sign-in and sessions. */
  signIn: SignInService;
  /** Dashboard single sign-on through an OpenID Connect provider, when one is configured. */
  singleSignOn?: SingleSignOn | undefined;
}

const isAudited = (request: FastifyRequest) =>
  !UNAUDITED_PATHS.has(request.url.split("?", 1)[0] ?? "") && !routeOf(request).config.unaudited;

/** The request's audit row as far as it is known, with `status` as answered (0 before the answer). */
function auditEntry(request: FastifyRequest, status: number): AuditEntry {
  const route = routeOf(request);
  const config = route.config;
  const vaultContext = request.vaultContext;
  const params = request.params as { name?: string; version?: string } | undefined;
  return {
    time: new Date(),
    requestId: request.id,
    principalId: request.caller?.principalId,
    clientId: request.caller?.clientId,
    vault: vaultContext?.vault.name,
    operation: config.operation ?? (request.is404 ? "UnknownRoute" : `${request.method} ${route.url}`),
    objectId:
      vaultContext && config.collection && params?.name
        ? `${vaultContext.baseUrl}/${config.collection}/${params.name}`
        : undefined,
    version: params?.version || undefined,
    outcome: status === 0 ? "pending" : status >= 400 ? "failure" : "success",
    status,
    clientAddress: request.ip,
    detail: request.auditDetail,
  };
}

/** Largest request body: a 25 KiB secret or a certificate import fits many times over. */
const BODY_LIMIT_BYTES = 1024 * 1024;

/** Builds the whole HTTP surface without listening; `serverFactory` lets server.ts supply the TLS server. */
export function buildApp(deps: AppDeps, serverFactory?: FastifyServerFactory): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger,
    genReqId: () => randomUUID(),
    bodyLimit: BODY_LIMIT_BYTES,
    // The SDK asks for the latest version as "/keys/k/" and operations on it as "/keys/k//sign".
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 256 },
    return503OnClosing: true,
    // Key Vault refuses a number where a string belongs; ajv would quietly turn 5 into "5".
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
    ...(serverFactory && { serverFactory }),
  }) as unknown as FastifyInstance;

  app.decorateRequest("caller", undefined);
  app.decorateRequest("vaultContext", undefined);
  app.decorateRequest("auditDetail", undefined);
  app.decorateRequest("auditScope", undefined);
  app.decorateRequest("idlePoll", false);
  app.decorateRequest("route", undefined as unknown as FastifyRequest["route"]);

  // The Azure SDK sends Content-Type: application/json with an empty body on its first, challenge-only
  // request and on body-less POSTs; an empty body is "no body", not malformed JSON.
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    if (body === "") return done(null, undefined);
    parseJson(request, body as string, done);
  });

  // Hooks that never wait are callback-style: an async hook costs a promise on every request.
  app.addHook("onRequest", (request, reply, done) => {
    routeOf(request);
    reply.header("x-ms-request-id", request.id);
    const clientRequestId = request.headers["x-ms-client-request-id"];
    if (typeof clientRequestId === "string") reply.header("x-ms-client-request-id", clientRequestId);
    done();
  });

  // A request that may change state carries an audit scope to the stores: each write transaction
  // then commits only with its intent row. Reads skip it, so the hot GET path pays nothing here.
  app.addHook("preHandler", (request, _reply, done) => {
    const reads = request.method === "GET" || request.method === "HEAD";
    if ((reads && !routeOf(request).config.writes) || !isAudited(request)) return done();
    const scope: AuditScope = { entry: () => auditEntry(request, 0), intents: 0 };
    request.auditScope = scope;
    inAuditScope(scope, done);
  });

  app.addHook("onSend", async (request, reply, payload) => {
    if (!isAudited(request)) return payload;
    if (request.idlePoll && reply.statusCode < 400 && (request.auditScope?.intents ?? 0) === 0)
      return payload;
    try {
      // The row is committed before the body leaves: whoever got the data has a row.
      await deps.audit.record(auditEntry(request, reply.statusCode));
    } catch (error) {
      request.log.error({ err: error }, "audit record failed");
      // A change whose intent row committed with it stays answered as it happened; anything else
      // is refused, so no caller gets data or a success the log does not show.
      if ((request.auditScope?.intents ?? 0) > 0) return payload;
      reply.code(503).header("retry-after", AUDIT_RETRY_AFTER_SECONDS).type("application/json");
      return JSON.stringify(keyVaultError(auditUnavailable(error)));
    }
    return payload;
  });

  if (deps.metrics) {
    const duration = new Histogram({
      name: "strongroom_http_request_duration_seconds",
      help: "HTTP request duration by route and status",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [deps.metrics],
    });
    // One labelled series per method, route and status, looked up by a plain string: prom-client
    // would otherwise hash the label object on every observation.
    const series = new Map<string, { observe(seconds: number): void }>();
    app.addHook("onResponse", (request, reply, done) => {
      const route = routeOf(request).url ?? "unknown";
      const key = `${request.method} ${route} ${reply.statusCode}`;
      let child = series.get(key);
      if (!child) {
        child = duration.labels({ method: request.method, route, status: reply.statusCode });
        series.set(key, child);
      }
      child.observe(reply.elapsedTime / 1000);
      done();
    });
  }

  const authority = `${deps.authorityHost}/${deps.identity.tenantId}`;
  registerOpsRoutes(app, { checkReady: deps.checkReady, metrics: deps.metrics });
  const sessions = createSessionAuth(deps.signIn, deps.identity.tenantId);
  registerUiRoutes(app, {
    assets: deps.uiAssets,
    renderer: deps.uiRenderer,
    signIn: deps.signIn,
    sessions,
    singleSignOn: deps.singleSignOn,
  });
  registerOAuthRoutes(app, { identity: deps.identity, authority, jwks: deps.jwks });
  registerAdminRoutes(app, {
    identity: deps.identity,
    principals: deps.principals,
    access: deps.access,
    vaults: deps.vaults,
    certificates: deps.certificates,
    keys: deps.keys,
    secrets: deps.secrets,
    issuers: deps.issuers,
    contacts: deps.contacts,
    webhooks: deps.webhooks,
    acme: deps.acme,
    remoteVaults: deps.remoteVaults,
    rules: deps.rules,
    vaultUrl: deps.vaultUrl,
    ca: deps.ca,
    inventory: deps.inventory,
    discovery: deps.discovery,
    deployments: deps.deployments,
    pushTargets: deps.pushTargets,
    alerts: deps.alerts,
    approvals: deps.approvals,
    posture: deps.posture,
    overview: deps.overview,
    campaigns: deps.campaigns,
    audit: deps.audit,
    smtp: deps.smtp,
    sessions,
  });
  if (deps.acmeServer) registerAcmeServerRoutes(app, { acme: deps.acmeServer });
  if (deps.discovery) {
    registerAgentRoutes(app, {
      identity: deps.identity,
      access: deps.access,
      discovery: deps.discovery,
      deployments: deps.deployments,
      watch: deps.watch,
      hostRules: deps.hostRules,
    });
  }

  if (deps.enrollment) {
    const { profiles, service, codec, certsOnly } = deps.enrollment;
    registerEstRoutes(app, { profiles, enrollment: service, identity: deps.identity, certsOnly });
    registerScepRoutes(app, {
      profiles,
      enrollment: service,
      codec,
      tenantId: deps.identity.tenantId,
      certsOnly,
    });
  }

  app.register(async (keyvault) => {
    registerKeyVaultHooks(keyvault, {
      identity: deps.identity,
      vaults: deps.vaults,
      hostRules: deps.hostRules,
      authority,
      resource: `https://${deps.hostRules.dnsSuffix}`,
    });
    registerAccessHook(keyvault, {
      access: deps.access,
      clock: deps.clock,
      issuer: deps.identity.issuer,
      vaultThrottle: deps.throttle?.vault && createThrottle(deps.throttle.vault),
      principalThrottle: deps.throttle?.principal && createThrottle(deps.throttle.principal),
    });
    registerSecretRoutes(keyvault, deps.secrets, deps.secretFormats);
    registerKeyRoutes(keyvault, deps.keys);
    registerCertificateRoutes(keyvault, deps.certificates);
    registerCertificateIssuerRoutes(keyvault, deps.issuers);
    registerCertificateContactsRoutes(keyvault, deps.contacts);
  });

  app.setErrorHandler(renderKeyVaultError);
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      error: {
        code: "NotFound",
        message: `No operation ${request.method} ${request.url.split("?", 1)[0]} exists`,
      },
    }),
  );
  return app;
}
