import { randomUUID } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerFactory } from "fastify";
import type { Logger } from "pino";
import { Histogram, type Registry } from "prom-client";
import type { AccessService } from "../domain/access/access-service.js";
import type { IdentityService } from "../domain/access/identity-service.js";
import type { PrincipalService } from "../domain/access/principal-service.js";
import { createThrottle, type ThrottleLimit } from "../domain/access/throttle.js";
import type { AcmeSettingsService } from "../domain/acme/acme-settings-service.js";
import type { AuditService } from "../domain/audit/audit-service.js";
import type { CaService } from "../domain/ca/ca-service.js";
import type { CertificateService } from "../domain/certificates/certificate-service.js";
import type { SecretFormats } from "../domain/certificates/secret-formats.js";
import type { Clock } from "../domain/clock.js";
import type { WebhookService } from "../domain/events/webhook-service.js";
import type { InventoryService } from "../domain/inventory/inventory-service.js";
import type { KeyService } from "../domain/keys/key-service.js";
import type { RemoteVaultService } from "../domain/remote-vaults/remote-vault-service.js";
import type { SecretService } from "../domain/secrets/secret-service.js";
import type { VaultService } from "../domain/vaults/vault-service.js";
import { registerAdminRoutes } from "./admin/admin-routes.js";
import { registerAccessHook } from "./keyvault/access-hook.js";
import { registerCertificateRoutes } from "./keyvault/certificates-routes.js";
import { renderKeyVaultError } from "./keyvault/errors.js";
import { registerKeyRoutes } from "./keyvault/keys-routes.js";
import { registerKeyVaultHooks } from "./keyvault/keyvault-plugin.js";
import { registerSecretRoutes } from "./keyvault/secrets-routes.js";
import type { VaultHostRules } from "./keyvault/vault-host.js";
import { registerOAuthRoutes } from "./oauth/oauth-routes.js";
import { registerOpsRoutes, UNAUDITED_PATHS } from "./ops/ops-routes.js";
import { routeOf } from "./request-context.js";

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
  webhooks: WebhookService;
  acme: AcmeSettingsService;
  ca?: CaService | undefined;
  inventory?: InventoryService | undefined;
  remoteVaults?: RemoteVaultService | undefined;
  audit: AuditService;
  jwks: () => unknown;
  hostRules: VaultHostRules;
  /** `https://host:port`, where tokens are issued. */
  authorityHost: string;
  vaultUrl: (name: string) => string;
  checkReady: () => Promise<void>;
  metrics?: Registry | undefined;
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

  app.addHook("onSend", async (request, reply, payload) => {
    if (UNAUDITED_PATHS.has(request.url.split("?", 1)[0] ?? "")) return payload;
    const route = routeOf(request);
    const config = route.config;
    const vaultContext = request.vaultContext;
    const params = request.params as { name?: string; version?: string } | undefined;
    const failed = reply.statusCode >= 400;
    try {
      await deps.audit.record({
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
        outcome: failed ? "failure" : "success",
        status: reply.statusCode,
        clientAddress: request.ip,
        detail: request.auditDetail,
      });
    } catch (error) {
      request.log.error({ err: error }, "audit record failed");
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
  registerOAuthRoutes(app, { identity: deps.identity, authority, jwks: deps.jwks });
  registerAdminRoutes(app, {
    identity: deps.identity,
    principals: deps.principals,
    access: deps.access,
    vaults: deps.vaults,
    certificates: deps.certificates,
    webhooks: deps.webhooks,
    acme: deps.acme,
    remoteVaults: deps.remoteVaults,
    vaultUrl: deps.vaultUrl,
    ca: deps.ca,
    inventory: deps.inventory,
  });

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
