import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerFactory } from "fastify";
import type { Logger } from "pino";
import { toPem as pem } from "../../crypto/pem.js";
import type { CaService } from "../../domain/ca/ca-service.js";
import { FULL_CRL } from "../../domain/ca/model.js";

export interface PkiAppDeps {
  logger: Logger;
  ca: Pick<CaService, "crl" | "caCertificate">;
}

/** Nothing here takes a body: OCSP requests are answered by ocsp-handler.ts before the app. */
const BODY_LIMIT_BYTES = 1024;

/** `name.ext` → [name, ext] for ext in `exts`; undefined otherwise. */
function split(file: string, exts: readonly string[]): [string, string] | undefined {
  const dot = file.lastIndexOf(".");
  const ext = file.slice(dot + 1);
  return dot > 0 && exts.includes(ext) ? [file.slice(0, dot), ext] : undefined;
}

/**
 * The public, unauthenticated PKI surface on plain HTTP: CA certificates (AIA caIssuers) and CRLs
 * (CDP). Nothing here is audited per request: relying parties poll it.
 */
export function buildPkiApp(deps: PkiAppDeps, serverFactory?: FastifyServerFactory): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1024 },
    return503OnClosing: true,
    ...(serverFactory && { serverFactory }),
  }) as unknown as FastifyInstance;

  const notFound = (reply: FastifyReply, what: string) =>
    reply.status(404).type("text/plain").send(`${what} not found\n`);

  app.get<{ Params: { file: string } }>("/pki/ca/:file", async (request, reply) => {
    const parts = split(request.params.file, ["crt", "cer", "pem"]);
    const der = parts && (await deps.ca.caCertificate(parts[0]));
    if (!parts || !der) return notFound(reply, "CA certificate");
    // RFC 5280 §4.2.2.1: caIssuers over HTTP is a DER certificate, application/pkix-cert.
    return parts[1] === "pem"
      ? reply.type("application/x-pem-file").send(pem("CERTIFICATE", der))
      : reply.type("application/pkix-cert").send(der);
  });

  async function sendCrl(reply: FastifyReply, caId: string, shard: number, ext: string) {
    const crl = await deps.ca.crl(caId, shard);
    if (!crl) return notFound(reply, "CRL");
    const maxAge = Math.max(0, Math.floor((crl.nextUpdate.getTime() - Date.now()) / 1000));
    reply.header("cache-control", `public, max-age=${maxAge}`);
    reply.header("last-modified", crl.thisUpdate.toUTCString());
    return ext === "pem"
      ? reply.type("application/x-pem-file").send(pem("X509 CRL", crl.der))
      : reply.type("application/pkix-crl").send(crl.der);
  }

  app.get<{ Params: { file: string } }>("/pki/crl/:file", async (request, reply) => {
    const parts = split(request.params.file, ["crl", "pem"]);
    if (!parts) return notFound(reply, "CRL");
    return sendCrl(reply, parts[0], FULL_CRL, parts[1]);
  });

  app.get<{ Params: { id: string; file: string } }>("/pki/crl/:id/:file", async (request, reply) => {
    const parts = split(request.params.file, ["crl", "pem"]);
    if (!parts || !/^\d{1,4}$/.test(parts[0])) return notFound(reply, "CRL");
    return sendCrl(reply, request.params.id, Number(parts[0]), parts[1]);
  });

  app.setNotFoundHandler((_request, reply) => notFound(reply, "Resource"));
  app.setErrorHandler((error, request, reply) => {
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    if (status >= 500) request.log.error({ err: error }, "PKI request failed");
    return reply
      .status(status)
      .type("text/plain")
      .send(status >= 500 ? "Internal error\n" : `${(error as Error).message}\n`);
  });
  return app;
}
