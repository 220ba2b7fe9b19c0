import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { Agent, request as httpsRequest } from "node:https";
import { rootCertificates } from "node:tls";

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export type HttpFetch = (
  url: string,
  init?: { method?: string; headers?: Record<string, string>; body?: string | Buffer },
) => Promise<HttpResponse>;

/**
 * HTTP(S) for the ACME client and DNS webhooks. Node's fetch cannot be given extra trust anchors,
 * and a private ACME server (pebble, a company's step-ca) has its own TLS CA: `ca` is added to the
 * public roots rather than replacing them, so public CAs keep working beside it.
 */
export function createHttp({
  ca,
  timeoutMs = 30_000,
}: {
  ca?: string | undefined;
  timeoutMs?: number;
} = {}): HttpFetch {
  const agent = new Agent({ keepAlive: true, ...(ca && { ca: [...rootCertificates, ca] }) });
  return (url, init = {}) =>
    new Promise((resolve, reject) => {
      const target = new URL(url);
      const request = (target.protocol === "https:" ? httpsRequest : httpRequest)(
        target,
        {
          method: init.method ?? "GET",
          headers: {
            "user-agent": "strongroom-acme/0.1",
            ...(init.body !== undefined && { "content-length": String(Buffer.byteLength(init.body)) }),
            ...init.headers,
          },
          ...(target.protocol === "https:" && { agent }),
          timeout: timeoutMs,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", reject);
          response.on("end", () =>
            resolve({
              status: response.statusCode ?? 0,
              headers: response.headers,
              body: Buffer.concat(chunks),
            }),
          );
        },
      );
      request.on("timeout", () => request.destroy(new Error(`${url} did not answer within ${timeoutMs} ms`)));
      request.on("error", reject);
      request.end(init.body);
    });
}
