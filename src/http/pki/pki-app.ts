import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerFactory } from "fastify";
import type { Logger } from "pino";
import type { CaService } from "../../domain/ca/ca-service.js";
import { FULL_CRL } from "../../domain/ca/model.js";
import type { OcspAnswer } from "../../domain/ca/ocsp-responder.js";
import { toPem as pem } from "../pem.js";

export interface PkiAppDeps {
  logger: Logger;
  ca: Pick<CaService, "crl" | "caCertificate">;
  ocsp: { respond(request: Buffer): Promise<OcspAnswer> };
  /** RFC 6960 §4.2.1 status-only responses (malformedRequest…), pre-encoded. */
  ocspFailure(status: "malformedRequest" | "internalError" | "unauthorized"): Buffer;
}

/** OCSP requests are a few hundred bytes; anything much larger is not one. */
const BODY_LIMIT_BYTES = 16 * 1024;

/** `name.ext` → [name, ext] for ext in `exts`; undefined otherwise. */
function split(file: string, exts: readonly string[]): [string, string] | undefined {
  const dot = file.lastIndexOf(".");
  const ext = file.slice(dot + 1);
  return dot > 0 && exts.includes(ext) ? [file.slice(0, dot), ext] : undefined;
}

/**
 * The public, unauthenticated PKI surface on plain HTTP: CA certificates (AIA caIssuers), CRLs
 * (CDP) and the OCSP responder. Nothing here is audited per request: relying parties poll it.
 */
export function buildPkiApp(deps: PkiAppDeps, serverFactory?: FastifyServerFactory): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1024 },
    return503OnClosing: true,
    ...(serverFactory && { serverFactory }),
  }) as unknown as FastifyInstance;

  app.addContentTypeParser("application/ocsp-request", { parseAs: "buffer" }, (_request, body, done) =>
    done(null, body),
  );

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

  async function answer(reply: FastifyReply, request: Buffer | undefined, cacheable: boolean) {
    reply.type("application/ocsp-response");
    if (!request || request.length === 0) return reply.send(deps.ocspFailure("malformedRequest"));
    const result = await deps.ocsp.respond(request).catch((error: unknown) => {
      reply.log.error({ err: error }, "OCSP response failed");
      return { ok: false, status: "internalError" } as const;
    });
    if (!result.ok) return reply.send(deps.ocspFailure(result.status));
    // RFC 5019 §6.2: GET answers are cacheable by HTTP caches until nextUpdate.
    if (cacheable && result.maxAgeSeconds > 0)
      reply.header("cache-control", `max-age=${result.maxAgeSeconds}, public, no-transform, must-revalidate`);
    return reply.send(result.der);
  }

  // RFC 6960 §A.1: POST carries the DER request; GET carries it base64 and URL-encoded in the path.
  app.post("/ocsp", async (request, reply) =>
    answer(reply, Buffer.isBuffer(request.body) ? request.body : undefined, false),
  );
  app.get<{ Params: { "*": string } }>("/ocsp/*", async (request, reply) => {
    let der: Buffer | undefined;
    try {
      der = Buffer.from(decodeURIComponent(request.params["*"]), "base64");
    } catch {
      der = undefined;
    }
    return answer(reply, der, true);
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
