import { Readable } from "node:stream";
import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { AlertService } from "../../domain/alerts/alert-service.js";
import { type AlertFilter, alertData } from "../../domain/alerts/model.js";
import type { PostureService } from "../../domain/reports/posture-service.js";
import { QueryNumber, queryNumber } from "./query-number.js";

const ListQuery = Type.Object(
  {
    state: Type.Optional(Type.String()),
    kind: Type.Optional(Type.String()),
    fingerprint: Type.Optional(Type.String({ pattern: "^[0-9a-fA-F]{64}$" })),
    limit: Type.Optional(QueryNumber),
  },
  { additionalProperties: false },
);
const NoteBody = Type.Object(
  { note: Type.Optional(Type.String({ maxLength: 1000 })) },
  { additionalProperties: false },
);

/**
 * Alerts (`/admin/alerts`) and posture reports (`/admin/reports/posture`), inside the admin scope:
 * its auth hook audits each request, and acknowledging or resolving commits with its audit row.
 */
export function registerAlertRoutes(
  admin: FastifyInstance,
  { alerts, posture }: { alerts: AlertService; posture: PostureService },
): void {
  const by = (request: { caller?: { principalId: string } | undefined }) =>
    request.caller?.principalId ?? "unknown";
  admin.get<{ Querystring: Static<typeof ListQuery> }>(
    "/admin/alerts",
    { schema: { querystring: ListQuery }, config: { operation: "AlertList" } },
    async (request) => {
      const { limit, ...filters } = request.query;
      const filter = { ...filters, limit: queryNumber(limit, "limit", { min: 1, max: 10_000 }) };
      return { value: (await alerts.list(filter as AlertFilter)).map(alertData) };
    },
  );
  admin.get<{ Params: { id: string } }>(
    "/admin/alerts/:id",
    { config: { operation: "AlertGet" } },
    async (request) => alertData(await alerts.get(request.params.id)),
  );
  admin.post<{ Params: { id: string }; Body: Static<typeof NoteBody> }>(
    "/admin/alerts/:id/acknowledge",
    { schema: { body: Type.Optional(NoteBody) }, config: { operation: "AlertAcknowledge" } },
    async (request) =>
      alertData(await alerts.acknowledge(request.params.id, by(request), request.body?.note)),
  );
  admin.post<{ Params: { id: string }; Body: Static<typeof NoteBody> }>(
    "/admin/alerts/:id/resolve",
    { schema: { body: Type.Optional(NoteBody) }, config: { operation: "AlertResolve" } },
    async (request) => alertData(await alerts.resolve(request.params.id, by(request), request.body?.note)),
  );
  admin.get<{ Querystring: { format?: string } }>(
    "/admin/reports/posture",
    {
      schema: {
        querystring: Type.Object({ format: Type.Optional(Type.String()) }, { additionalProperties: false }),
      },
      config: { operation: "PostureReport" },
    },
    async (request, reply) => {
      const { contentType, body } = await posture.render(request.query.format);
      return reply.type(contentType).send(Readable.from(body));
    },
  );
}
