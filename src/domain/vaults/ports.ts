import type { VaultEvent } from "../events/model.js";
import type { Vault } from "./model.js";

export interface VaultStore {
  /** Inserts a vault; throws Conflict when the name is taken. */
  insert(vault: Vault): Promise<void>;
  /** Replaces the mutable settings of an existing vault. */
  update(vault: Vault): Promise<void>;
  findByName(name: string): Promise<Vault | undefined>;
  list(): Promise<Vault[]>;
  /** Removes the vault and everything in it, and stores `events`, in one transaction. */
  remove(id: string, events: readonly VaultEvent[]): Promise<void>;
}
