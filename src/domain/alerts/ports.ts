import type { VaultEvent } from "../events/model.js";
import type { Alert, AlertFilter, AlertState } from "./model.js";

/** A certificate with at least one location where it is in use now. */
export interface CertificateInUse {
  fingerprint: string;
  subject: string;
  notAfter: Date;
  /** Live locations, leaving out vault versions that a newer version of the same name superseded. */
  locations: string[];
  vaultName?: string | undefined;
  /** The private CA that issued it, when one did. */
  caName?: string | undefined;
  ownerContact?: string | undefined;
}

/** What the condition sources read; the SQL adapter answers from the inventory, outbox and agents. */
export interface AlertFacts {
  /** Certificates in use whose notAfter is before `before` (expired ones included). */
  certificatesInUse(before: Date): Promise<CertificateInUse[]>;
  /** Locations whose live certificate replaced another there at or after `since`. */
  changedLocations(since: Date): Promise<
    {
      location: string;
      fingerprint: string;
      previousFingerprint: string;
      subject: string;
      notAfter: Date;
      changedAt: Date;
      ownerContact?: string | undefined;
    }[]
  >;
  /** Vault certificates whose newest renewal event is a failure (no new version since). */
  failedRenewals(): Promise<
    {
      vaultName: string;
      name: string;
      detail: string;
      fingerprint?: string | undefined;
      subject?: string | undefined;
      notAfter?: Date | undefined;
      ownerContact?: string | undefined;
    }[]
  >;
  /** Registered agents last seen before `before`. */
  silentAgents(before: Date): Promise<{ name: string; lastSeenAt?: Date | undefined }[]>;
  /** Deployments whose last attempt failed: agent syncs and push targets. */
  failedDeliveries(): Promise<
    {
      /** `agent://{agent}/syncs/{sync}` or `push://{target}`. */
      location: string;
      /** What failed, in words: `sync web of agent web-host`. */
      what: string;
      error: string;
      version?: string | undefined;
      failedSince?: Date | undefined;
      vaultName?: string | undefined;
    }[]
  >;
  /** Unresolved findings of the inventory grading; undefined while that table does not exist. */
  openFindings(): Promise<
    | {
        fingerprint: string;
        location?: string | undefined;
        kind: string;
        ruleId?: string | undefined;
        reason: string;
        subject: string;
        notAfter?: Date | undefined;
        ownerContact?: string | undefined;
      }[]
    | undefined
  >;
}

/** A change to one alert, computed from the revision it read. */
export type AlertChange =
  | { type: "open"; alert: Alert }
  | { type: "update"; alert: Alert; fromRevision: number };

/** Alerts by their (kind, certificate, location) key, and the outbox events of their changes. */
export interface AlertStore {
  /** Alerts not resolved, of these kinds. */
  unresolved(kinds: readonly string[]): Promise<Alert[]>;
  /** The alert with this key, in whatever state. */
  findByKey(kind: string, fingerprint: string, location: string): Promise<Alert | undefined>;
  /**
   * Stores the change and its event in one transaction; false when another node got there first
   * (the key exists, or the revision moved on), and then nothing is written.
   */
  apply(change: AlertChange, event: VaultEvent | undefined): Promise<boolean>;
  get(id: string): Promise<Alert | undefined>;
  list(filter: AlertFilter): Promise<Alert[]>;
  /** Alerts in `state`, counted by kind, most first. */
  countByKind(state: AlertState): Promise<{ kind: string; count: number }[]>;
}
