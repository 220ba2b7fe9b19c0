import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { DeploymentService } from "../../domain/deployments/deployment-service.js";
import type { DiscoveryService } from "../../domain/discovery/discovery-service.js";
import type { Agent, RunStatus } from "../../domain/discovery/model.js";
import { badParameter } from "../../domain/errors.js";
import { agentView, resultView, runView, scheduleView } from "./discovery-wire.js";

const PortList = Type.Array(Type.Union([Type.Integer(), Type.String({ minLength: 1 })]), { maxItems: 1000 });

const ScanFields = {
  name: Type.Optional(Type.String({ minLength: 1 })),
  kind: Type.Optional(Type.Union([Type.Literal("tls"), Type.Literal("files")])),
  targets: Type.Optional(
    Type.Array(
      Type.Union([
        Type.String({ minLength: 1 }),
        Type.Object(
          {
            address: Type.String({ minLength: 1 }),
            ports: Type.Optional(PortList),
            sni: Type.Optional(Type.Array(Type.String(), { maxItems: 100 })),
          },
          { additionalProperties: false },
        ),
      ]),
      { maxItems: 10_000 },
    ),
  ),
  ports: Type.Optional(PortList),
  exclude: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { maxItems: 10_000 })),
  sni: Type.Optional(Type.Array(Type.String(), { maxItems: 100 })),
  knownNames: Type.Optional(Type.Boolean()),
  starttls: Type.Optional(Type.Record(Type.String(), Type.String())),
  concurrency: Type.Optional(Type.Integer()),
  timeoutMs: Type.Optional(Type.Integer()),
  ratePerSecond: Type.Optional(Type.Integer()),
  roots: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { maxItems: 100 })),
  maxDepth: Type.Optional(Type.Integer()),
  agent: Type.Optional(Type.String({ minLength: 1 })),
};
const ScanBody = Type.Object(ScanFields, { additionalProperties: false });
const ScheduleBody = Type.Object(
  { ...ScanFields, name: Type.String({ minLength: 1 }), intervalSeconds: Type.Integer({ minimum: 1 }) },
  { additionalProperties: false },
);
const AgentBody = Type.Object({ name: Type.String({ minLength: 1 }) }, { additionalProperties: false });
const STATUSES = ["queued", "running", "completed", "cancelled", "failed"];

const limitOf = (text: string | undefined) => {
  if (text === undefined) return undefined;
  if (!/^\d{1,5}$/.test(text)) throw badParameter("limit must be a whole number");
  return Number(text);
};

/**
 * Network and file discovery under /admin/discovery: scan runs with progress and their results,
 * cancellation, schedules and agents with their syncs. Registered inside the admin scope (its auth hook).
 */
export function registerDiscoveryRoutes(
  admin: FastifyInstance,
  { discovery, deployments }: { discovery: DiscoveryService; deployments?: DeploymentService | undefined },
) {
  const agentNames = async () => new Map((await discovery.agents()).map((a) => [a.id, a.name]));

  admin.post<{ Body: Static<typeof ScanBody> }>(
    "/admin/discovery/scans",
    { schema: { body: ScanBody }, config: { operation: "DiscoveryScanCreate" } },
    async (request, reply) =>
      reply.status(201).send(runView(await discovery.scan(request.body), await agentNames())),
  );

  admin.get<{ Querystring: { status?: string; name?: string; limit?: string } }>(
    "/admin/discovery/scans",
    { config: { operation: "DiscoveryScanList" } },
    async (request) => {
      const { status, name, limit } = request.query;
      if (status !== undefined && !STATUSES.includes(status)) {
        throw badParameter(`status must be one of ${STATUSES.join(", ")}`);
      }
      const names = await agentNames();
      const runs = await discovery.list({
        ...(status && { status: status as RunStatus }),
        ...(name && { name }),
        ...(limit !== undefined && { limit: limitOf(limit) }),
      });
      return { value: runs.map((r) => runView(r, names)) };
    },
  );

  admin.get<{ Params: { id: string } }>(
    "/admin/discovery/scans/:id",
    { config: { operation: "DiscoveryScanGet" } },
    async (request) => runView(await discovery.get(request.params.id), await agentNames()),
  );

  admin.get<{ Params: { id: string }; Querystring: { after?: string; limit?: string; outcome?: string } }>(
    "/admin/discovery/scans/:id/results",
    { config: { operation: "DiscoveryScanResults" } },
    async (request) => {
      const { after, limit, outcome } = request.query;
      const page = await discovery.results(request.params.id, {
        ...(after !== undefined && { after }),
        ...(outcome !== undefined && { outcome }),
        ...(limit !== undefined && { limit: limitOf(limit) }),
      });
      const requested = limitOf(limit) ?? 1000;
      const last = page.at(-1);
      return {
        value: page.map(resultView),
        ...(last && page.length >= requested && { nextAfter: last.location }),
      };
    },
  );

  admin.post<{ Params: { id: string } }>(
    "/admin/discovery/scans/:id/cancel",
    { config: { operation: "DiscoveryScanCancel" } },
    async (request) => runView(await discovery.cancel(request.params.id), await agentNames()),
  );

  admin.get("/admin/discovery/schedules", { config: { operation: "DiscoveryScheduleList" } }, async () => {
    const names = await agentNames();
    return { value: (await discovery.schedules()).map((s) => scheduleView(s, names)) };
  });

  admin.post<{ Body: Static<typeof ScheduleBody> }>(
    "/admin/discovery/schedules",
    { schema: { body: ScheduleBody }, config: { operation: "DiscoveryScheduleCreate" } },
    async (request, reply) => {
      const { intervalSeconds, ...scan } = request.body;
      const schedule = await discovery.schedule({ ...scan, intervalMs: intervalSeconds * 1000 });
      return reply.status(201).send(scheduleView(schedule, await agentNames()));
    },
  );

  admin.delete<{ Params: { name: string } }>(
    "/admin/discovery/schedules/:name",
    { config: { operation: "DiscoveryScheduleDelete" } },
    async (request, reply) => {
      await discovery.unschedule(request.params.name);
      return reply.status(204).send();
    },
  );

  const withStatus = async (agent: Agent) =>
    agentView(agent, await discovery.agentFileScan(agent), await deployments?.syncs(agent.id));

  admin.get("/admin/discovery/agents", { config: { operation: "DiscoveryAgentList" } }, async () => ({
    value: await Promise.all((await discovery.agents()).map(withStatus)),
  }));

  // The client secret is in this answer only; it is kept hashed.
  admin.post<{ Body: Static<typeof AgentBody> }>(
    "/admin/discovery/agents",
    { schema: { body: AgentBody }, config: { operation: "DiscoveryAgentCreate" } },
    async (request, reply) => {
      const { agent, clientId, clientSecret } = await discovery.registerAgent(request.body.name);
      return reply.status(201).send({ ...agentView(agent), clientId, clientSecret });
    },
  );

  admin.get<{ Params: { name: string } }>(
    "/admin/discovery/agents/:name",
    { config: { operation: "DiscoveryAgentGet" } },
    async (request) => withStatus(await discovery.agent(request.params.name)),
  );

  admin.delete<{ Params: { name: string } }>(
    "/admin/discovery/agents/:name",
    { config: { operation: "DiscoveryAgentDelete" } },
    async (request, reply) => {
      await discovery.removeAgent(request.params.name);
      return reply.status(204).send();
    },
  );
}
