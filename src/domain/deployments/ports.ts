import type { AgentSync, DeploymentStatus, PushTarget } from "./model.js";

/** Agent syncs and push targets with their state. */
export interface DeploymentStore {
  findSync(agentId: string, name: string): Promise<AgentSync | undefined>;
  /** Inserts or replaces the sync's row. */
  putSync(sync: AgentSync): Promise<void>;
  /** An agent's syncs by name; every agent's when `agentId` is undefined. */
  syncs(agentId?: string): Promise<AgentSync[]>;

  /** Stores a new push target; false when the name is taken. */
  insertPushTarget(target: PushTarget): Promise<boolean>;
  /** By id or name. */
  findPushTarget(idOrName: string): Promise<PushTarget | undefined>;
  pushTargets(): Promise<PushTarget[]>;
  /** Records a push target's new state. */
  setPushState(id: string, status: DeploymentStatus, at: Date): Promise<void>;
  removePushTarget(id: string): Promise<boolean>;
}
