import { X509Certificate } from "node:crypto";
import type { AgentSync, DeploymentStatus } from "../../domain/deployments/model.js";
import type { Agent, EndpointResult, ScanRun, ScanSchedule } from "../../domain/discovery/model.js";

const iso = (d: Date | undefined) => d?.toISOString();

export function runView(run: ScanRun, agents: ReadonlyMap<string, string> = new Map()) {
  return {
    id: run.id,
    name: run.name,
    kind: run.spec.kind,
    status: run.status,
    agent: run.agentId && (agents.get(run.agentId) ?? run.agentId),
    total: run.total,
    done: run.done,
    failed: run.failed,
    remaining: Math.max(0, run.total - run.done),
    createdAt: iso(run.createdAt),
    startedAt: iso(run.startedAt),
    finishedAt: iso(run.finishedAt),
    error: run.error,
    spec: run.spec,
    diff: run.diff && {
      previousRunId: run.diff.previousRunId,
      counts: { new: run.diff.new.length, changed: run.diff.changed.length, gone: run.diff.gone.length },
      new: run.diff.new,
      changed: run.diff.changed,
      gone: run.diff.gone,
    },
  };
}

/** A presented certificate: its facts for people, its DER for tools. */
function certificateView(der: Uint8Array) {
  const bytes = Buffer.from(der);
  try {
    const c = new X509Certificate(bytes);
    return {
      subject: c.subject,
      issuer: c.issuer,
      serialNumber: c.serialNumber,
      notBefore: new Date(c.validFrom).toISOString(),
      notAfter: new Date(c.validTo).toISOString(),
      fingerprintSha256: c.fingerprint256.replaceAll(":", "").toLowerCase(),
      der: bytes.toString("base64"),
    };
  } catch {
    return { der: bytes.toString("base64") };
  }
}

export function resultView(r: EndpointResult) {
  return {
    location: r.location,
    outcome: r.outcome,
    error: r.error,
    tlsVersion: r.tlsVersion,
    cipher: r.cipher,
    fingerprintSha256: r.fingerprint,
    detail: r.detail,
    seenAt: r.seenAt.toISOString(),
    chain: r.chain.map(certificateView),
  };
}

export const scheduleView = (s: ScanSchedule, agents: ReadonlyMap<string, string> = new Map()) => ({
  id: s.id,
  name: s.name,
  kind: s.spec.kind,
  agent: s.agentId && (agents.get(s.agentId) ?? s.agentId),
  intervalSeconds: s.intervalMs / 1000,
  nextRunAt: s.nextRunAt.toISOString(),
  createdAt: s.createdAt.toISOString(),
  spec: s.spec,
});

/** Where a deployment stands, times as ISO 8601; shared by agent syncs and push targets. */
export const deploymentStatusView = (d: DeploymentStatus) => ({
  state: d.state,
  error: d.error,
  version: d.version,
  deliveredVersion: d.deliveredVersion,
  deliveredAt: iso(d.deliveredAt),
  failedSince: iso(d.failedSince),
});

/** One of an agent's syncs as the agent last reported it. */
export const syncView = (s: AgentSync) => ({
  name: s.name,
  source: s.source,
  ...deploymentStatusView(s),
  paths: s.paths,
  reportedAt: s.reportedAt.toISOString(),
});

/**
 * An agent, with the progress and errors of the latest scan of its own file roots, and its syncs,
 * when given.
 */
export const agentView = (a: Agent, fileScan?: ScanRun, syncs?: readonly AgentSync[]) => ({
  id: a.id,
  name: a.name,
  principalId: a.principalId,
  hostname: a.hostname,
  version: a.version,
  createdAt: a.createdAt.toISOString(),
  registeredAt: iso(a.registeredAt),
  lastSeenAt: iso(a.lastSeenAt),
  fileScan: fileScan && {
    runId: fileScan.id,
    status: fileScan.status,
    done: fileScan.done,
    failed: fileScan.failed,
    startedAt: iso(fileScan.startedAt),
    finishedAt: iso(fileScan.finishedAt),
    error: fileScan.error,
    roots: fileScan.spec.kind === "files" ? fileScan.spec.roots : [],
  },
  syncs: syncs?.map(syncView),
});
