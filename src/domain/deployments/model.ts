/**
 * Where a deployment stands: `in-sync` when the version it last saw is the one delivered, `pending`
 * while a newer version is on its way, `failed` when the last attempt failed (the reason says why).
 */
export type DeploymentState = "in-sync" | "pending" | "failed";

export const DEPLOYMENT_STATES: readonly DeploymentState[] = ["in-sync", "pending", "failed"];

/** What every deployment shows, an agent's sync or a push target. */
export interface DeploymentStatus {
  state: DeploymentState;
  /** Why the last attempt failed; absent unless `failed`. */
  error?: string | undefined;
  /** The newest version the deployment knows of. */
  version?: string | undefined;
  deliveredVersion?: string | undefined;
  deliveredAt?: Date | undefined;
  /** When the deployment went from working to failed; kept while it keeps failing. */
  failedSince?: Date | undefined;
}

/** One sync of an agent, as the agent last reported it. */
export interface AgentSync extends DeploymentStatus {
  agentId: string;
  /** The sync's name in the agent's configuration (`{sync}/{certificate}` for a tag selector's). */
  name: string;
  /** What it reads: the certificate's URL, or a tag selector over a vault. */
  source: string;
  /** The absolute paths of the files it writes on the agent's host. */
  paths: string[];
  reportedAt: Date;
}

/** What an agent reports about one of its syncs. */
export interface SyncReport {
  source: string;
  state: DeploymentState;
  error?: string | undefined;
  version?: string | undefined;
  paths: string[];
  /** Present when this report is of a delivery: what was written, leaf first, and when. */
  delivered?: { version: string; at: Date; chain: Uint8Array[] } | undefined;
}

/** Imports every new version of a vault certificate into a remote vault. */
export interface PushTarget extends DeploymentStatus {
  id: string;
  name: string;
  vaultName: string;
  certificate: string;
  /** The remote vault (its URL and credential) imported into. */
  remoteVaultId: string;
  /** Its name, as read with the target (not stored twice). */
  remoteVaultName?: string | undefined;
  /** The certificate's name there. */
  targetCertificate: string;
  createdAt: Date;
  updatedAt: Date;
}
