/** How the last sync of a remote vault went. */
export interface RemoteVaultSync {
  at: Date;
  status: "ok" | "failed";
  /** Why it failed, as the connector put it (never credential material). */
  error?: string | undefined;
  /** Certificates seen by the last successful sync. */
  certificates: number;
  /** Locations that sync found gone since the one before. */
  gone: number;
}

/** A vault elsewhere whose certificates Strongroom reads into its inventory. */
export interface RemoteVault {
  id: string;
  name: string;
  /** Which connector reads it, e.g. `azure-key-vault`. */
  kind: string;
  url: string;
  settings: Record<string, string>;
  /** The credential's secret fields as JSON, sealed under the master key for `remote-vaults/{id}`. */
  sealedSecret: Buffer;
  /** Names of the secret fields held, so they can be shown without their values. */
  secretFields: string[];
  createdAt: Date;
  updatedAt: Date;
  lastSync?: RemoteVaultSync | undefined;
}
