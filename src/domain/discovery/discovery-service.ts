import type { AccessService } from "../access/access-service.js";
import type { PrincipalService } from "../access/principal-service.js";
import type { Clock } from "../clock.js";
import { badParameter, DomainError } from "../errors.js";
import { newId } from "../ids.js";
import { createDerMap } from "../inventory/der-map.js";
import type { LocationDetail, Observation, ObservationSink } from "../inventory/observation.js";
import type {
  Agent,
  DiffEntry,
  EndpointResult,
  FileScanSpec,
  RunDiff,
  RunStatus,
  ScanRun,
  ScanSchedule,
  ScanSpec,
} from "./model.js";
import type { CertificateNames, DiscoveryStore } from "./ports.js";
import { countAddresses, endpoints, type TargetInput, tlsScanSpec } from "./targets.js";

/** The least-privilege role of every agent: its own assignments and results, nothing else. */
export const AGENT_ROLE = "Strongroom Discovery Agent";

export interface DiscoveryLimits {
  /** Addresses one scan may cover; larger CIDR blocks and ranges are refused. */
  maxAddresses: number;
}

export interface DiscoveryServiceDeps {
  store: DiscoveryStore;
  /** The inventory; undefined where none is wired, and then scans only keep their own results. */
  sink?: ObservationSink | undefined;
  names: CertificateNames;
  principals: Pick<PrincipalService, "create" | "remove">;
  access: Pick<AccessService, "assign">;
  clock: Clock;
  limits: DiscoveryLimits;
}

export interface ScanInput {
  name?: string | undefined;
  kind?: "tls" | "files" | undefined;
  targets?: readonly (string | TargetInput)[] | undefined;
  ports?: readonly (string | number)[] | undefined;
  exclude?: readonly string[] | undefined;
  sni?: readonly string[] | undefined;
  knownNames?: boolean | undefined;
  starttls?: Readonly<Record<string, string>> | undefined;
  concurrency?: number | undefined;
  timeoutMs?: number | undefined;
  ratePerSecond?: number | undefined;
  roots?: readonly string[] | undefined;
  maxDepth?: number | undefined;
  /** The agent's name or id; the server scans itself when absent. */
  agent?: string | undefined;
}

export type DiscoveryService = ReturnType<typeof createDiscoveryService>;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const MIN_INTERVAL_MS = 60_000;

function fileScanSpec(input: ScanInput): FileScanSpec {
  const roots = [...(input.roots ?? [])];
  if (roots.length === 0) throw badParameter("A file scan needs at least one root directory");
  for (const root of roots) {
    if (!root.startsWith("/")) throw badParameter(`Root "${root}" must be an absolute path`);
  }
  if (input.maxDepth !== undefined && (!Number.isInteger(input.maxDepth) || input.maxDepth < 0)) {
    throw badParameter("maxDepth must be a whole number of 0 or more");
  }
  return { kind: "files", roots, exclude: [...(input.exclude ?? [])], maxDepth: input.maxDepth };
}

/** The run name of an agent's own file scans; `@` keeps it apart from names people give scans. */
export const agentFileScanName = (agent: Pick<Agent, "name">) => `files@${agent.name}`;

/** Compares the certificate at each location with the previous run's. */
export function diffRuns(previous: ReadonlyMap<string, string>, current: ReadonlyMap<string, string>) {
  const diff: Omit<RunDiff, "previousRunId"> = { new: [], changed: [], gone: [] };
  for (const [location, fingerprint] of current) {
    const before = previous.get(location);
    if (before === undefined) diff.new.push({ location, fingerprint });
    else if (before !== fingerprint) diff.changed.push({ location, fingerprint, previous: before });
  }
  for (const [location, fingerprint] of previous) {
    if (!current.has(location)) diff.gone.push({ location, previous: fingerprint } satisfies DiffEntry);
  }
  return diff;
}

/**
 * Network and file discovery as jobs: runs with progress kept per endpoint, schedules, cancellation,
 * a diff against the previous run, and agents that run scans where the server cannot reach.
 * Everything found goes to the inventory as observations.
 */
export function createDiscoveryService({
  store,
  sink,
  names,
  principals,
  access,
  clock,
  limits,
}: DiscoveryServiceDeps) {
  async function agentOf(idOrName: string | undefined): Promise<Agent | undefined> {
    if (idOrName === undefined) return undefined;
    const agent = await store.findAgent(idOrName);
    if (!agent) throw new DomainError("NotFound", `No agent named ${idOrName}`, { reason: "AgentNotFound" });
    return agent;
  }

  function specOf(input: ScanInput): ScanSpec {
    if ((input.kind ?? "tls") === "files") return fileScanSpec(input);
    if (input.kind !== undefined && input.kind !== "tls") throw badParameter(`kind must be tls or files`);
    const spec = tlsScanSpec({ ...input, targets: input.targets ?? [] });
    countAddresses(spec, limits.maxAddresses);
    // Malformed exclusions and names fail here, before anything is stored.
    endpoints(spec).next();
    return spec;
  }

  function nameOf(input: ScanInput, spec: ScanSpec): string {
    if (input.name !== undefined) {
      if (!NAME.test(input.name)) {
        throw badParameter(
          `Scan name "${input.name}" must be 1-63 letters, digits, dots, hyphens or underscores`,
        );
      }
      return input.name;
    }
    const scope = spec.kind === "tls" ? spec.targets.map((t) => t.address).join(",") : spec.roots.join(",");
    return `${spec.kind}:${scope}`.slice(0, 200);
  }

  function newRun(name: string, spec: ScanSpec, agent: Agent | undefined, scheduleId?: string): ScanRun {
    if (spec.kind === "files" && !agent) {
      throw badParameter("A file scan runs on an agent's host: name the agent");
    }
    return {
      id: newId(),
      name,
      spec,
      agentId: agent?.id,
      scheduleId,
      status: "queued",
      total: 0,
      done: 0,
      failed: 0,
      createdAt: clock.now(),
    };
  }

  async function get(id: string): Promise<ScanRun> {
    const run = await store.findRun(id);
    if (!run) throw new DomainError("NotFound", `No scan run ${id}`, { reason: "ScanNotFound" });
    return run;
  }

  // Field by field: spreading optionals (`...(x && { x })`) cost more per result than the rest of
  // making its observation.
  function detailOf(r: EndpointResult): LocationDetail {
    const detail: Record<string, string | number | boolean | null> = {};
    if (r.tlsVersion) detail.tlsVersion = r.tlsVersion;
    if (r.cipher) detail.cipher = r.cipher;
    return r.detail ? Object.assign(detail, r.detail) : detail;
  }

  function observations(results: readonly EndpointResult[], source: "tls" | "file"): Observation[] {
    return results
      .filter((r) => r.outcome === "ok" && r.chain.length > 0)
      .map((r) => ({
        der: r.chain[0] as Uint8Array,
        chain: r.chain.slice(1),
        location: r.location,
        source,
        seenAt: r.seenAt,
        detail: detailOf(r),
      }));
  }

  return {
    /** Queues a scan run; the server's discovery job or the named agent picks it up. */
    async scan(input: ScanInput): Promise<ScanRun> {
      const spec = specOf(input);
      const run = newRun(nameOf(input, spec), spec, await agentOf(input.agent));
      await store.insertRun(run);
      return run;
    },

    get,
    list: (filter: { status?: RunStatus; name?: string; limit?: number | undefined } = {}) =>
      store.listRuns({ ...filter, limit: Math.min(Math.max(filter.limit ?? 100, 1), 1000) }),

    async results(
      id: string,
      options: { after?: string; limit?: number | undefined; outcome?: string } = {},
    ) {
      await get(id);
      return store.results(id, { ...options, limit: Math.min(Math.max(options.limit ?? 1000, 1), 10_000) });
    },

    /** Stops a queued or running run; results kept so far stay. */
    async cancel(id: string): Promise<ScanRun> {
      const run = await get(id);
      if (!(await store.finish(id, "cancelled", clock.now(), {}))) {
        throw new DomainError("Conflict", `Scan run ${id} has already ended (${run.status})`);
      }
      return get(id);
    },

    /** Takes the next run for the server (no agent) or for `agentId`, leased to `owner`. */
    claim: (agentId: string | undefined, owner: string, leaseMs: number) => {
      const now = clock.now();
      return store.claimRun(agentId, owner, now, new Date(now.getTime() + leaseMs));
    },

    renewLease: (id: string, owner: string, leaseMs: number) =>
      store.renewLease(id, owner, new Date(clock.now().getTime() + leaseMs)),

    doneLocations: (id: string) => store.doneLocations(id),

    /** DNS names earlier runs saw at these hosts: the SNI names a scan tries when asked to. */
    knownNames: (hosts: readonly string[]) => store.namesSeenAt(hosts),

    /** Keeps a batch of results and sends what they found to the inventory. */
    async record(run: ScanRun, results: readonly EndpointResult[], total: number): Promise<ScanRun> {
      // A fleet behind one certificate sends the same leaf from every endpoint: it is parsed once per
      // batch, not once per endpoint (parsing was a fifth of a batch's cost over the bench fleet).
      const named = createDerMap<string>();
      const dnsNamesOf = (leaf: Uint8Array) => named.valueOf(leaf, () => names.dnsNames(leaf).join(","));
      const withNames = results.map((r) =>
        r.chain[0] ? { ...r, detail: { ...r.detail, dnsNames: dnsNamesOf(r.chain[0]) } } : r,
      );
      const saved = await store.saveResults(run.id, withNames, total);
      await sink?.observe(observations(results, run.spec.kind === "files" ? "file" : "tls"));
      return saved;
    },

    /**
     * Ends a run: compares it with the previous completed run of the same name and tells the
     * inventory which locations are gone. A cancelled or failed run compares nothing: half a scan
     * would report everything it did not reach as gone.
     */
    async complete(run: ScanRun, outcome: { error?: string } = {}): Promise<ScanRun> {
      const at = clock.now();
      if (outcome.error !== undefined) {
        await store.finish(run.id, "failed", at, { error: outcome.error });
        return get(run.id);
      }
      const previous = await store.previousCompleted(run.name, run.createdAt, run.id);
      const current = await store.fingerprints(run.id);
      const diff: RunDiff = {
        previousRunId: previous?.id,
        ...diffRuns(previous ? await store.fingerprints(previous.id) : new Map(), current),
      };
      if (await store.finish(run.id, "completed", at, { diff })) {
        if (diff.gone.length > 0)
          await sink?.forget(
            diff.gone.map((g) => g.location),
            at,
          );
      }
      return get(run.id);
    },

    /** Runs a scan every `intervalMs`, the first one now. */
    async schedule(input: ScanInput & { name: string; intervalMs: number }): Promise<ScanSchedule> {
      if (!Number.isInteger(input.intervalMs) || input.intervalMs < MIN_INTERVAL_MS) {
        throw badParameter(`A schedule's interval must be at least ${MIN_INTERVAL_MS / 1000} seconds`);
      }
      const spec = specOf(input);
      const name = nameOf(input, spec);
      const agent = await agentOf(input.agent);
      newRun(name, spec, agent);
      if ((await store.listSchedules()).some((s) => s.name === name)) {
        throw new DomainError("Conflict", `A schedule named ${name} exists already`);
      }
      const schedule: ScanSchedule = {
        id: newId(),
        name,
        spec,
        agentId: agent?.id,
        intervalMs: input.intervalMs,
        nextRunAt: clock.now(),
        createdAt: clock.now(),
      };
      await store.insertSchedule(schedule);
      return schedule;
    },

    schedules: () => store.listSchedules(),

    async unschedule(name: string): Promise<void> {
      if (!(await store.removeSchedule(name))) {
        throw new DomainError("NotFound", `No schedule named ${name}`, { reason: "ScheduleNotFound" });
      }
    },

    /** Queues a run for every schedule that is due; returns how many. */
    async fireDueSchedules(): Promise<number> {
      const now = clock.now();
      let fired = 0;
      for (const schedule of await store.listSchedules()) {
        if (schedule.nextRunAt > now) continue;
        const agent = schedule.agentId ? await store.findAgent(schedule.agentId) : undefined;
        const run = newRun(schedule.name, schedule.spec, agent, schedule.id);
        // A node that slept through several intervals queues one run, not one per missed interval.
        const next = new Date(
          Math.max(schedule.nextRunAt.getTime() + schedule.intervalMs, now.getTime() + 1),
        );
        if (await store.fireSchedule(schedule, run, next)) fired++;
      }
      return fired;
    },

    /**
     * Registers an agent under a principal of its own that holds only the agent role. The client
     * secret is returned once; the agent uses it to get tokens like any other client.
     */
    async registerAgent(name: string): Promise<{ agent: Agent; clientId: string; clientSecret: string }> {
      if (!NAME.test(name)) {
        throw badParameter(`Agent name "${name}" must be 1-63 letters, digits, dots, hyphens or underscores`);
      }
      if (await store.findAgent(name))
        throw new DomainError("Conflict", `An agent named ${name} exists already`);
      const { principal, clientSecret } = await principals.create(`agent:${name}`);
      if (clientSecret === undefined) throw new Error("the agent principal was created without a secret");
      try {
        await access.assign(principal.id, AGENT_ROLE, "/");
        const agent: Agent = { id: newId(), name, principalId: principal.id, createdAt: clock.now() };
        await store.insertAgent(agent);
        return { agent, clientId: principal.clientId, clientSecret };
      } catch (error) {
        await principals.remove(principal.id);
        throw error;
      }
    },

    agents: () => store.listAgents(),

    async agent(idOrName: string): Promise<Agent> {
      return (await agentOf(idOrName)) as Agent;
    },

    /** Removes the agent and its principal, so its credentials stop working at once. */
    async removeAgent(idOrName: string): Promise<void> {
      const agent = (await agentOf(idOrName)) as Agent;
      await store.removeAgent(agent.id);
      await principals.remove(agent.principalId);
    },

    /** The agent a caller is; Forbidden for any other principal. */
    async agentFor(principalId: string): Promise<Agent> {
      const agent = await store.findAgentByPrincipal(principalId);
      if (!agent) throw new DomainError("Forbidden", "The caller is not a registered discovery agent");
      return agent;
    },

    /**
     * What an agent says about itself when it starts (registration) and then periodically. `changed`
     * is false when only the time it was last seen moved: a liveness signal, not a change of record.
     */
    async heartbeat(
      agent: Agent,
      info: { hostname?: string; version?: string; starting?: boolean },
    ): Promise<{ agent: Agent; changed: boolean }> {
      const now = clock.now();
      const next: Agent = {
        ...agent,
        ...(info.hostname !== undefined && { hostname: info.hostname.slice(0, 255) }),
        ...(info.version !== undefined && { version: info.version.slice(0, 64) }),
        ...(info.starting && { registeredAt: now }),
        lastSeenAt: now,
      };
      await store.updateAgent(next);
      const changed =
        info.starting === true || next.hostname !== agent.hostname || next.version !== agent.version;
      return { agent: next, changed };
    },

    /**
     * Queues a scan of an agent's own file roots under the name `files@{agent}`, so each run is
     * compared with the last one of the same host and files no longer there are marked gone. While
     * one is queued or running, that one is returned instead of a second.
     */
    async queueAgentFileScan(
      agent: Agent,
      input: Pick<ScanInput, "roots" | "exclude" | "maxDepth">,
    ): Promise<{ run: ScanRun; queued: boolean }> {
      const spec = fileScanSpec(input);
      const name = agentFileScanName(agent);
      for (const status of ["running", "queued"] as const) {
        const [open] = await store.listRuns({ name, status, limit: 1 });
        if (open) return { run: open, queued: false };
      }
      const run = newRun(name, spec, agent);
      await store.insertRun(run);
      return { run, queued: true };
    },

    /** The latest run of an agent's own file roots: its progress and errors, for the agent's status. */
    async agentFileScan(agent: Agent): Promise<ScanRun | undefined> {
      const [latest] = await store.listRuns({ name: agentFileScanName(agent), limit: 1 });
      return latest;
    },

    /** A run as its agent may see it: Forbidden when it belongs to someone else. */
    async runOfAgent(agent: Agent, id: string): Promise<ScanRun> {
      const run = await get(id);
      if (run.agentId !== agent.id)
        throw new DomainError("Forbidden", `Scan run ${id} is not assigned to this agent`);
      return run;
    },
  };
}
