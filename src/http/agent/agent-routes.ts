import { createHash } from "node:crypto";
import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AccessService } from "../../domain/access/access-service.js";
import { AdminActions } from "../../domain/access/data-actions.js";
import type { IdentityService } from "../../domain/access/identity-service.js";
import type { DeploymentService } from "../../domain/deployments/deployment-service.js";
import type { VersionWatch, WatchedCertificate } from "../../domain/deployments/version-watch.js";
import type { DiscoveryService } from "../../domain/discovery/discovery-service.js";
import type { Agent, EndpointResult } from "../../domain/discovery/model.js";
import { badParameter } from "../../domain/errors.js";
import { authorizeInstallationAction } from "../admin/admin-authorization.js";
import { renderKeyVaultError } from "../keyvault/errors.js";
import { type VaultHostRules, vaultNameForHost } from "../keyvault/vault-host.js";

/** A batch of up to 500 results with chains; larger than the API's usual 1 MiB. */
const RESULTS_BODY_LIMIT = 32 * 1024 * 1024;

const Heartbeat = Type.Object(
  {
    hostname: Type.Optional(Type.String({ maxLength: 255 })),
    version: Type.Optional(Type.String({ maxLength: 64 })),
    starting: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const Result = Type.Object(
  {
    location: Type.String({ minLength: 1, maxLength: 4096 }),
    outcome: Type.Union(
      ["ok", "refused", "timeout", "handshake", "error", "unread"].map((o) => Type.Literal(o)),
    ),
    error: Type.Optional(Type.String({ maxLength: 1000 })),
    chain: Type.Array(Type.String({ contentEncoding: "base64" }), { maxItems: 32 }),
    tlsVersion: Type.Optional(Type.String({ maxLength: 32 })),
    cipher: Type.Optional(Type.String({ maxLength: 128 })),
    detail: Type.Optional(
      Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()])),
    ),
    seenAt: Type.String({ format: "date-time" }),
  },
  { additionalProperties: false },
);
const Results = Type.Object(
  { total: Type.Integer({ minimum: 0 }), results: Type.Array(Result, { maxItems: 500 }) },
  { additionalProperties: false },
);
const Hosts = Type.Object(
  { hosts: Type.Array(Type.String(), { maxItems: 500 }) },
  { additionalProperties: false },
);
const Complete = Type.Object(
  { error: Type.Optional(Type.String({ maxLength: 1000 })) },
  { additionalProperties: false },
);

const FileScan = Type.Object(
  {
    roots: Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { minItems: 1, maxItems: 100 }),
    exclude: Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { maxItems: 1000 }),
    maxDepth: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
  },
  { additionalProperties: false },
);

const SyncReportBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    source: Type.String({ minLength: 1, maxLength: 2048 }),
    state: Type.Union(["in-sync", "pending", "failed"].map((s) => Type.Literal(s))),
    error: Type.Optional(Type.String({ maxLength: 2000 })),
    version: Type.Optional(Type.String({ maxLength: 200 })),
    paths: Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { maxItems: 64 }),
    delivered: Type.Optional(
      Type.Object(
        {
          version: Type.String({ minLength: 1, maxLength: 200 }),
          at: Type.String({ format: "date-time" }),
          chain: Type.Array(Type.String({ contentEncoding: "base64" }), { minItems: 1, maxItems: 32 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/** How long a watch is held open at most: below the agent's 30 s request timeout and most proxies' 60 s. */
const MAX_WATCH_SECONDS = 25;

/**
 * A watched certificate from its Key Vault URL: `https://{vault host}/certificates/{name}`, or
 * `…/certificates/` for every certificate of the vault (a tag selector's).
 */
function watchedOf(url: string, hostRules: VaultHostRules): WatchedCertificate {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badParameter(`certificate ${url} is not a URL`);
  }
  const match = /^\/certificates\/([^/]*)\/?$/.exec(parsed.pathname);
  const vaultName = vaultNameForHost(parsed.host, hostRules);
  if (!match || vaultName === undefined)
    throw badParameter(`certificate ${url} is not a certificate of a vault this server holds`);
  const name = decodeURIComponent(match[1] as string);
  return { vaultName, name: name === "" ? undefined : name };
}

declare module "fastify" {
  interface FastifyRequest {
    agent?: Agent;
  }
}

const agentOf = (request: FastifyRequest) => request.agent as Agent;

function toResult(agent: Agent, kind: "tls" | "files", r: Static<typeof Result>): EndpointResult {
  const scheme = kind === "files" ? `file://${agent.name}/` : "tls://";
  if (!r.location.startsWith(scheme)) {
    throw badParameter(
      `Location ${r.location} is not one this run can report (it must start with ${scheme})`,
    );
  }
  const chain = r.chain.map((b64) => new Uint8Array(Buffer.from(b64, "base64")));
  const seenAt = new Date(r.seenAt);
  if (Number.isNaN(seenAt.getTime())) throw badParameter(`seenAt "${r.seenAt}" is not a date`);
  return {
    location: r.location,
    outcome: r.outcome as EndpointResult["outcome"],
    error: r.error,
    chain,
    // Computed here, not taken from the agent: the inventory keys records by it.
    fingerprint: chain[0] && createHash("sha256").update(chain[0]).digest("hex"),
    tlsVersion: r.tlsVersion,
    cipher: r.cipher,
    detail: r.detail,
    seenAt,
  };
}

/**
 * The API agents call over HTTPS (`/agent/v1`): heartbeats, their assignments and the results of
 * them, their syncs' states, and the watch that tells them of new versions. Only a principal registered as an agent and holding the agent role gets in, and
 * it sees only its own runs.
 */
export function registerAgentRoutes(
  app: FastifyInstance,
  deps: {
    identity: IdentityService;
    access: AccessService;
    discovery: DiscoveryService;
    deployments?: DeploymentService | undefined;
    watch?: VersionWatch | undefined;
    hostRules: VaultHostRules;
  },
): void {
  const { identity, access, discovery, deployments, watch, hostRules } = deps;
  app.register(async (api) => {
    api.setErrorHandler(renderKeyVaultError);
    api.addHook("onRequest", async (request) => {
      const caller = await authorizeInstallationAction(
        request,
        { identity, access },
        "agent API",
        AdminActions.discoveryAgent,
      );
      request.agent = await discovery.agentFor(caller.principalId);
    });

    api.post<{ Body: Static<typeof Heartbeat> }>(
      "/agent/v1/heartbeat",
      { schema: { body: Heartbeat }, config: { operation: "AgentHeartbeat" } },
      async (request) => {
        const { agent, changed } = await discovery.heartbeat(agentOf(request), request.body);
        // A heartbeat that only moves the last-seen time is kept out of the audit log like an idle
        // poll: every agent sends one every 30 s.
        request.idlePoll = !changed;
        return { name: agent.name, lastSeenAt: agent.lastSeenAt?.toISOString() };
      },
    );

    // The next queued run for this agent, leased to it; 204 when there is none.
    api.post<{ Querystring: { leaseSeconds?: string } }>(
      "/agent/v1/assignments/claim",
      { config: { operation: "AgentClaim" } },
      async (request, reply) => {
        const agent = agentOf(request);
        const run = await discovery.claim(agent.id, `agent:${agent.name}`, 60_000);
        if (!run) {
          request.idlePoll = true;
          return reply.status(204).send();
        }
        return { id: run.id, name: run.name, spec: run.spec };
      },
    );

    // The agent's own roots: a run for it to claim like any assignment; 201 when newly queued.
    api.post<{ Body: Static<typeof FileScan> }>(
      "/agent/v1/file-scans",
      { schema: { body: FileScan }, config: { operation: "AgentQueueFileScan" } },
      async (request, reply) => {
        const { run, queued } = await discovery.queueAgentFileScan(agentOf(request), request.body);
        return reply.status(queued ? 201 : 200).send({ id: run.id, name: run.name, status: run.status });
      },
    );

    api.post<{ Params: { id: string }; Body: Static<typeof Hosts> }>(
      "/agent/v1/runs/:id/known-names",
      { schema: { body: Hosts }, config: { operation: "AgentKnownNames" } },
      async (request) => {
        await discovery.runOfAgent(agentOf(request), request.params.id);
        return { names: Object.fromEntries(await discovery.knownNames(request.body.hosts)) };
      },
    );

    api.get<{ Params: { id: string } }>(
      "/agent/v1/runs/:id/done",
      { config: { operation: "AgentDoneLocations" } },
      async (request) => {
        await discovery.runOfAgent(agentOf(request), request.params.id);
        return { locations: [...(await discovery.doneLocations(request.params.id))] };
      },
    );

    // Answers whether to go on: false once the run was cancelled.
    api.post<{ Params: { id: string }; Body: Static<typeof Results> }>(
      "/agent/v1/runs/:id/results",
      { bodyLimit: RESULTS_BODY_LIMIT, schema: { body: Results }, config: { operation: "AgentResults" } },
      async (request) => {
        const agent = agentOf(request);
        const run = await discovery.runOfAgent(agent, request.params.id);
        if (run.status !== "running") return { continue: false, status: run.status };
        const results = request.body.results.map((r) => toResult(agent, run.spec.kind, r));
        if (results.length > 0) await discovery.record(run, results, request.body.total);
        const going = await discovery.renewLease(run.id, `agent:${agent.name}`, 60_000);
        return { continue: going };
      },
    );

    if (deployments) {
      // What one of the agent's syncs did last: in sync, pending, or failed and why.
      api.post<{ Body: Static<typeof SyncReportBody> }>(
        "/agent/v1/syncs",
        { schema: { body: SyncReportBody }, config: { operation: "AgentSyncReport" } },
        async (request) => {
          const { name, delivered, ...rest } = request.body;
          const at = delivered && new Date(delivered.at);
          if (at && Number.isNaN(at.getTime())) throw badParameter(`delivered.at is not a date`);
          const sync = await deployments.report(agentOf(request), name, {
            ...rest,
            state: rest.state as "in-sync" | "pending" | "failed",
            delivered: delivered &&
              at && {
                version: delivered.version,
                at,
                chain: delivered.chain.map((b64) => new Uint8Array(Buffer.from(b64, "base64"))),
              },
          });
          return { name: sync.name, state: sync.state, reportedAt: sync.reportedAt.toISOString() };
        },
      );
    }

    if (watch) {
      // Long-poll: answers when a watched certificate gets a new version after `since`, or after
      // `timeoutSeconds` with none. Without `since` it answers at once with where to start.
      api.get<{ Querystring: { since?: string; certificate?: string | string[]; timeoutSeconds?: string } }>(
        "/agent/v1/watch",
        { config: { operation: "AgentWatch" } },
        async (request, reply) => {
          const { since, certificate, timeoutSeconds } = request.query;
          const urls = certificate === undefined ? [] : [certificate].flat();
          if (urls.length === 0 || urls.length > 500)
            throw badParameter("name 1 to 500 certificates to watch (certificate=…)");
          const watched = urls.map((u) => watchedOf(u, hostRules));
          if (since === undefined) return { seq: await watch.latest(), versions: [] };
          if (!/^\d{1,15}$/.test(since)) throw badParameter("since must be an outbox position");
          const seconds = timeoutSeconds === undefined ? MAX_WATCH_SECONDS : Number(timeoutSeconds);
          if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_WATCH_SECONDS)
            throw badParameter(`timeoutSeconds must be 0 to ${MAX_WATCH_SECONDS}`);
          const gone = new AbortController();
          // The response closes before it is sent only when the agent hung up.
          reply.raw.once("close", () => gone.abort());
          const answer = await watch.wait(watched, Number(since), seconds * 1000, gone.signal);
          request.idlePoll = answer.versions.length === 0;
          return answer;
        },
      );
    }

    api.post<{ Params: { id: string }; Body: Static<typeof Complete> }>(
      "/agent/v1/runs/:id/complete",
      { schema: { body: Complete }, config: { operation: "AgentComplete" } },
      async (request) => {
        const run = await discovery.runOfAgent(agentOf(request), request.params.id);
        const ended = await discovery.complete(
          run,
          request.body.error === undefined ? {} : { error: request.body.error },
        );
        return { status: ended.status };
      },
    );
  });
}
