import type { FastifyInstance } from "fastify";
import type { Registry } from "prom-client";

export interface OpsRouteDeps {
  /** Resolves when the database answers; rejects otherwise. */
  checkReady: () => Promise<void>;
  metrics?: Registry | undefined;
}

/** Liveness, readiness and Prometheus metrics; not audited, since probes poll them constantly. */
export function registerOpsRoutes(app: FastifyInstance, { checkReady, metrics }: OpsRouteDeps): void {
  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async (request, reply) => {
    try {
      await checkReady();
      return { status: "ready" };
    } catch (error) {
      request.log.warn({ err: error }, "readiness check failed");
      return reply.status(503).send({ status: "unavailable", reason: "the database does not answer" });
    }
  });

  if (metrics) {
    app.get("/metrics", async (_request, reply) =>
      reply.header("content-type", metrics.contentType).send(await metrics.metrics()),
    );
  }
}

export const UNAUDITED_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);
