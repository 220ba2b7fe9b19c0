import type { Clock } from "../clock.js";
import { badParameter } from "../errors.js";
import { fileLocation, type ObservationSink } from "../inventory/observation.js";
import { type AgentSync, DEPLOYMENT_STATES, type SyncReport } from "./model.js";
import type { DeploymentStore } from "./ports.js";

const SYNC_NAME = /^[A-Za-z0-9][A-Za-z0-9._@/-]{0,199}$/;
const MAX_PATHS = 64;

export type DeploymentService = ReturnType<typeof createDeploymentService>;

/**
 * Deliveries as the server sees them: agents report each sync's state, the server keeps the last
 * report per agent and sync, and every delivered file becomes a `file://{agent}/{path}` location of
 * the certificate in the inventory. The alerts read the failed ones (`delivery-failed`).
 */
export function createDeploymentService({
  store,
  sink,
  clock,
}: {
  store: DeploymentStore;
  sink?: Pick<ObservationSink, "observe"> | undefined;
  clock: Clock;
}) {
  function check(name: string, report: SyncReport) {
    if (!SYNC_NAME.test(name))
      throw badParameter(
        `Sync name "${name}" must be 1-200 letters, digits, dots, hyphens, underscores, @ or /`,
      );
    if (!DEPLOYMENT_STATES.includes(report.state))
      throw badParameter(`state must be one of ${DEPLOYMENT_STATES.join(", ")}`);
    if (report.paths.length > MAX_PATHS) throw badParameter(`A sync writes at most ${MAX_PATHS} files`);
    for (const path of report.paths)
      if (!path.startsWith("/")) throw badParameter(`Path "${path}" must be absolute`);
    if (report.delivered && report.delivered.chain.length === 0)
      throw badParameter("A delivery report needs the delivered certificate");
  }

  return {
    /** Keeps what an agent says about one of its syncs; a delivery also goes to the inventory. */
    async report(agent: { id: string; name: string }, name: string, report: SyncReport): Promise<AgentSync> {
      check(name, report);
      const now = clock.now();
      const before = await store.findSync(agent.id, name);
      const failed = report.state === "failed";
      const sync: AgentSync = {
        agentId: agent.id,
        name,
        source: report.source,
        state: report.state,
        error: failed ? (report.error ?? "the agent gave no reason") : undefined,
        version: report.version ?? before?.version,
        deliveredVersion: report.delivered?.version ?? before?.deliveredVersion,
        deliveredAt: report.delivered?.at ?? before?.deliveredAt,
        paths: report.paths,
        failedSince: failed ? (before?.failedSince ?? now) : undefined,
        reportedAt: now,
      };
      await store.putSync(sync);
      const delivered = report.delivered;
      if (delivered && sink) {
        const [der, ...chain] = delivered.chain as [Uint8Array, ...Uint8Array[]];
        await sink.observe(
          report.paths.map((path) => ({
            der,
            chain,
            location: fileLocation(agent.name, path),
            source: "file" as const,
            seenAt: delivered.at,
            detail: { sync: name, version: delivered.version },
          })),
        );
      }
      return sync;
    },

    /** An agent's syncs, or every agent's. */
    syncs: (agentId?: string) => store.syncs(agentId),
  };
}
