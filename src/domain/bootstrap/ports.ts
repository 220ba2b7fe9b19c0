import type { AdminCredentials } from "./model.js";

/** Installation-wide values written once at first start (tenant id, token signing key…). */
export interface SettingsStore {
  get(key: string): Promise<{ value: string; sealed?: Buffer } | undefined>;
  /** Writes the value unless the key already exists; returns what is stored afterwards. */
  putIfAbsent(key: string, value: string, sealed?: Buffer): Promise<{ value: string; sealed?: Buffer }>;
  /** Writes the value, replacing what was there. */
  put(key: string, value: string): Promise<void>;
}

/** This node's copy of the administrator's credentials (`<data-dir>/admin.json`). */
export interface CredentialsFile {
  /** The saved credentials, or undefined when there are none yet. */
  read(): AdminCredentials | undefined;
  /** Replaces the file as a whole: a reader sees the old credentials or the new, never half of them. */
  write(credentials: AdminCredentials): void;
  readonly path: string;
}
