import type { Agent, EndpointResult, RunDiff, RunStatus, ScanRun, ScanSchedule } from "./model.js";

export interface RunFilter {
  status?: RunStatus | undefined;
  name?: string | undefined;
  limit: number;
}

/** Scan runs, their per-endpoint results, schedules and agents. */
export interface DiscoveryStore {
  /** Stores a new run. */
  insertRun(run: ScanRun): Promise<void>;
  findRun(id: string): Promise<ScanRun | undefined>;
  /** Newest first. */
  listRuns(filter: RunFilter): Promise<ScanRun[]>;
  /**
   * Takes the oldest queued run for `agentId` (the server's own when undefined), or a running one
   * whose lease ran out, and leases it to `owner` until `until`.
   */
  claimRun(agentId: string | undefined, owner: string, now: Date, until: Date): Promise<ScanRun | undefined>;
  /** Extends the lease while the run is still running under `owner`; false when it is not (cancelled). */
  renewLease(id: string, owner: string, until: Date): Promise<boolean>;
  /** Sets total, done and failed from the stored results and the total given. */
  saveResults(id: string, results: readonly EndpointResult[], total: number): Promise<ScanRun>;
  /** Locations that already have a result in this run. */
  doneLocations(id: string): Promise<Set<string>>;
  results(
    id: string,
    options: { after?: string | undefined; limit: number; outcome?: string | undefined },
  ): Promise<EndpointResult[]>;
  /** Every successful result of a run: location and leaf fingerprint. */
  fingerprints(id: string): Promise<Map<string, string>>;
  /** Moves a queued or running run to `status` when it is not finished yet; false when it was. */
  finish(
    id: string,
    status: RunStatus,
    at: Date,
    fields: { diff?: RunDiff; error?: string },
  ): Promise<boolean>;
  /** The latest completed run of `name` created before `before`. */
  previousCompleted(name: string, before: Date, excludeId: string): Promise<ScanRun | undefined>;
  /** DNS names in certificates earlier runs saw at each of these hosts. */
  namesSeenAt(hosts: readonly string[]): Promise<Map<string, string[]>>;

  insertSchedule(schedule: ScanSchedule): Promise<void>;
  listSchedules(): Promise<ScanSchedule[]>;
  removeSchedule(name: string): Promise<boolean>;
  /** Moves a due schedule's next run time on and stores its new run, in one transaction; false if another node did. */
  fireSchedule(schedule: ScanSchedule, run: ScanRun, next: Date): Promise<boolean>;

  insertAgent(agent: Agent): Promise<void>;
  listAgents(): Promise<Agent[]>;
  findAgent(idOrName: string): Promise<Agent | undefined>;
  findAgentByPrincipal(principalId: string): Promise<Agent | undefined>;
  updateAgent(agent: Agent): Promise<void>;
  removeAgent(id: string): Promise<void>;
}

/** Reads facts the service needs from certificate DER without knowing X.509 itself. */
export interface CertificateNames {
  /** The DNS names of the certificate's subjectAltName (and CN when it is a DNS name). */
  dnsNames(der: Uint8Array): string[];
}
