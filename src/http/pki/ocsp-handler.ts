import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { OcspAnswer, OcspFailure } from "../../domain/ca/ocsp-responder.js";

export interface OcspHandlerDeps {
  ocsp: { respond(request: Buffer): Promise<OcspAnswer> };
  /** RFC 6960 §4.2.1 status-only responses, pre-encoded. */
  failure(status: OcspFailure): Buffer;
  logger: Pick<Logger, "error">;
}

/** OCSP requests are a few hundred bytes; anything much larger is not one. */
const MAX_REQUEST_BYTES = 16 * 1024;

/**
 * The OCSP responder on node:http directly, ahead of Fastify: it is the one hot path of the PKI
 * listener (relying parties ask for every connection they check), and an answer from the cache is
 * a parse, a map lookup and a write. Returns false for requests that are not OCSP, for the app.
 */
export function createOcspHandler(deps: OcspHandlerDeps) {
  function send(res: ServerResponse, der: Buffer, cacheSeconds: number) {
    const headers: Record<string, string | number> = {
      "content-type": "application/ocsp-response",
      "content-length": der.length,
    };
    // RFC 5019 §6.2: GET answers may be cached by HTTP caches until nextUpdate.
    if (cacheSeconds > 0)
      headers["cache-control"] = `max-age=${cacheSeconds}, public, no-transform, must-revalidate`;
    res.writeHead(200, headers);
    res.end(der);
  }

  function answer(res: ServerResponse, request: Buffer | undefined, cacheable: boolean) {
    if (!request || request.length === 0) return send(res, deps.failure("malformedRequest"), 0);
    deps.ocsp.respond(request).then(
      (result) =>
        result.ok
          ? send(res, result.der, cacheable ? result.maxAgeSeconds : 0)
          : send(res, deps.failure(result.status), 0),
      (error: unknown) => {
        deps.logger.error({ err: error }, "OCSP response failed");
        send(res, deps.failure("internalError"), 0);
      },
    );
  }

  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = req.url ?? "";
    // RFC 6960 §A.1: POST carries the DER request; GET carries it base64 and URL-encoded in the path.
    if (req.method === "POST" && (url === "/ocsp" || url === "/ocsp/")) {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_REQUEST_BYTES) chunks.push(chunk);
      });
      req.on("end", () => answer(res, size <= MAX_REQUEST_BYTES ? Buffer.concat(chunks) : undefined, false));
      return true;
    }
    if (req.method === "GET" && url.startsWith("/ocsp/")) {
      let request: Buffer | undefined;
      try {
        request = Buffer.from(decodeURIComponent(url.slice("/ocsp/".length)), "base64");
      } catch {
        request = undefined;
      }
      answer(res, request, true);
      return true;
    }
    return false;
  };
}
