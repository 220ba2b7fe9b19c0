import type { RemoteVault, RemoteVaultSync } from "./model.js";

/** Where remote vaults, their sealed credentials and the locations their last sync saw are kept. */
export interface RemoteVaultStore {
  /** Stores a new remote vault; false when the name (case-insensitive) is taken. */
  insert(vault: RemoteVault): Promise<boolean>;
  get(name: string): Promise<RemoteVault | undefined>;
  list(): Promise<RemoteVault[]>;
  /** The locations the last successful sync saw. */
  locations(id: string): Promise<string[]>;
  /**
   * Records a sync's outcome; with `locations`, replaces the seen set in the same transaction. False,
   * with nothing written, when the vault is no longer there.
   */
  recordSync(id: string, sync: RemoteVaultSync, locations?: readonly string[]): Promise<boolean>;
  /** Removes the vault and its seen locations; false when it was not there. */
  remove(id: string): Promise<boolean>;
}
