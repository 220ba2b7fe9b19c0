import { createHash } from "node:crypto";
import type { RevocationReason } from "../ca/model.js";
import type { InventoryQuery } from "../inventory/model.js";

/** `draft` until run; `finished` once no item is pending or in hand. */
export type CampaignState = "draft" | "running" | "paused" | "cancelled" | "finished";

/**
 * What a campaign means to do with one certificate it selected. `revoke-old`: an older version of a
 * vault certificate whose newest selected version another item replaces; it is only revoked (with
 * the campaign's reason), so a certificate gets one new version however many of its versions match.
 */
export type ItemAction = "new-version" | "revoke-old" | "task";

/**
 * `claimed`: a node has it in hand; `task`: Strongroom cannot replace it itself, a person must
 * (its locations say where).
 */
export type ItemState = "pending" | "claimed" | "done" | "failed" | "task";

/** What a campaign changes beside making the new version. */
export interface CampaignOptions {
  /** The vault issuer the new versions come from (the policy is changed to it first). */
  issuer?: string | undefined;
  /** A new key for the new versions: `EC` with `curve`, or `RSA` with `keySize`. */
  keyType?: "EC" | "RSA" | undefined;
  keySize?: number | undefined;
  curve?: string | undefined;
  /** Revoke the old certificate with this reason once its replacement is stored. */
  revokeReason?: RevocationReason | undefined;
  /** At most this many certificates per second (none: as fast as the issuer goes). */
  ratePerSecond?: number | undefined;
}

export interface Campaign {
  id: string;
  name: string;
  query: InventoryQuery;
  options: CampaignOptions;
  state: CampaignState;
  createdAt: Date;
  startedAt?: Date | undefined;
  finishedAt?: Date | undefined;
}

export interface CampaignItem {
  campaignId: string;
  /** The inventory record's SHA-256: one item per certificate. */
  fingerprint: string;
  subject: string;
  action: ItemAction;
  /** For `new-version`: the vault certificate whose version `fromVersion` is replaced. */
  vaultName?: string | undefined;
  certificateName?: string | undefined;
  fromVersion?: string | undefined;
  /** For `task`: where the certificate is in use. */
  locations: string[];
  state: ItemState;
  attempts: number;
  /**
   * The claim tokens of attempts that died holding the item (their claim went stale): HSM keys they
   * made under `campaignKeyId(token, fingerprint)` were never stored, and are destroyed before the
   * item is worked again.
   */
  abandonedClaims?: string[] | undefined;
  /** When a node first took it in hand: a version made after this is the campaign's own. */
  firstClaimedAt?: Date | undefined;
  toVersion?: string | undefined;
  /** Whether the old certificate was revoked, or why not. */
  revocation?: string | undefined;
  error?: string | undefined;
  doneAt?: Date | undefined;
}

export interface CampaignProgress {
  total: number;
  done: number;
  failed: number;
  /** Pending or in hand. */
  remaining: number;
  tasks: number;
  /** Items done per second since the first was done. */
  ratePerSecond: number;
  /** Seconds until the remaining are done at that rate; absent before the rate is known. */
  etaSeconds?: number | undefined;
}

/**
 * The HSM id of the key an attempt makes for an item: derived from the claim token, which the claim
 * stores before any key is made, so that the key of an attempt that died before its commit can be
 * found again and destroyed by the attempt that takes the item over.
 */
export function campaignKeyId(claimToken: string, fingerprint: string): Buffer {
  return createHash("sha256").update(`campaign-key\0${claimToken}\0${fingerprint}`).digest().subarray(0, 16);
}
