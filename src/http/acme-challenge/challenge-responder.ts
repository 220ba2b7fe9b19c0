import { createServer } from "node:http";
import Fastify, { type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { AcmeStore } from "../../domain/acme/ports.js";
import { listenOnAll } from "../server.js";

export interface ChallengeResponder {
  port: number;
  close(): Promise<void>;
}

// RFC 8555 §8.3: tokens are base64url; anything else is not ours to look up.
const TOKEN = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * The http-01 answers (RFC 8555 §8.3) over plain HTTP on every address, as CAs validate on port 80
 * without TLS; read from the database so whichever node the CA reaches can answer.
 */
export async function startChallengeResponder(
  store: Pick<AcmeStore, "getChallenge">,
  logger: Logger,
  hosts: readonly string[],
  port: number,
): Promise<ChallengeResponder> {
  const listening = await listenOnAll(() => createServer(), hosts, port);
  const servers = [listening.primary, ...listening.others];
  const app = Fastify({
    loggerInstance: logger,
    serverFactory: (handler) => {
      for (const server of servers) server.on("request", handler);
      return listening.primary;
    },
  }) as unknown as FastifyInstance;
  app.get<{ Params: { token: string } }>("/.well-known/acme-challenge/:token", async (request, reply) => {
    const { token } = request.params;
    const keyAuthorization = TOKEN.test(token) ? await store.getChallenge(token) : undefined;
    if (keyAuthorization === undefined)
      return reply.status(404).type("text/plain").send("no such challenge\n");
    return reply.type("application/octet-stream").send(keyAuthorization);
  });
  await app.ready();
  return {
    port: listening.port,
    async close() {
      // Fastify closes only the server it listened on, and it listened on none.
      await Promise.all(
        servers.map((s) => {
          s.closeIdleConnections();
          return new Promise<void>((resolve) => s.close(() => resolve()));
        }),
      );
      await app.close();
    },
  };
}
