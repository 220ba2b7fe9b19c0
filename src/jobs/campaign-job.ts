import type { CaService } from "../domain/ca/ca-service.js";
import type { CampaignItem, CampaignOptions } from "../domain/campaigns/model.js";
import type { CampaignStore } from "../domain/campaigns/ports.js";
import type { CertificateService } from "../domain/certificates/certificate-service.js";
import type { PolicyInput } from "../domain/certificates/policy.js";
import { sleep as abortableSleep, type Clock } from "../domain/clock.js";
import { DomainError } from "../domain/errors.js";
import type { Job } from "../domain/jobs/ports.js";
import type { Vault } from "../domain/vaults/model.js";

export interface CampaignJobDeps {
  store: CampaignStore;
  certificates: Pick<CertificateService, "create" | "get" | "pollOperation" | "updatePolicy">;
  ca: Pick<CaService, "findIssuedForVersion" | "revoke">;
  vaults: () => Promise<Vault[]>;
  clock: Clock;
  intervalMs?: number;
  /**
   * A claim older than this belongs to a node that died mid-item (kill -9): another node, or this
   * one restarted, takes it again. Too short and a slow issuer's item is taken twice (still made
   * once: see `replace`); too long and a crash holds the item back that long.
   */
  staleClaimMs?: number;
  /** How rate limits wait; tests pass their own. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** How often a running campaign's state is read again, so a pause or cancel takes effect. */
const STATE_EVERY_ITEMS = 50;

function policyChange(options: CampaignOptions): PolicyInput | undefined {
  if (!options.issuer && !options.keyType) return undefined;
  return {
    ...(options.issuer && { issuer: { name: options.issuer } }),
    ...(options.keyType && {
      key: {
        kty: options.keyType,
        ...(options.keySize !== undefined && { keySize: options.keySize }),
        ...(options.curve !== undefined && { curve: options.curve }),
        reuseKey: false,
      },
    }),
  };
}

/**
 * Runs the items of running campaigns: each certificate gets its new version through its policy
 * (changed first to the campaign's issuer or key), then the old one is revoked when the campaign
 * asks. Each item is claimed before anything is issued; an item taken again after its claimer died
 * finds the version that claimer made (created after the first claim) and only settles, so nothing
 * is issued or revoked twice.
 */
export function createCampaignJob({
  store,
  certificates,
  ca,
  vaults,
  clock,
  intervalMs = 60_000,
  staleClaimMs = 60_000,
  sleep = abortableSleep,
}: CampaignJobDeps): Job {
  async function revokeOld(vault: Vault, name: string, version: string, options: CampaignOptions) {
    if (!options.revokeReason) return undefined;
    let issued: Awaited<ReturnType<CaService["findIssuedForVersion"]>>;
    try {
      issued = await ca.findIssuedForVersion(vault.id, name, version);
    } catch (error) {
      if (error instanceof DomainError && error.code === "NotFound")
        return "not issued by the private CA: revoke it with its issuer";
      throw error;
    }
    if (issued.status === "revoked") return `revoked already (${issued.reason})`;
    await ca.revoke(issued, options.revokeReason);
    return `revoked (${options.revokeReason})`;
  }

  /** Makes the new version unless the item's first claimer made it already; returns its version. */
  async function replace(vault: Vault, item: CampaignItem, name: string, options: CampaignOptions) {
    const latest = await certificates.get(vault, name);
    // A version made after the item was first claimed is that claimer's; one made before it (an
    // AutoRenew since the campaign selected it) is not, and is replaced too. Both times come from
    // node clocks, so nodes whose clocks disagree by more than a claim's span could misjudge it.
    const firstClaimedAt = item.firstClaimedAt?.getTime() ?? Number.POSITIVE_INFINITY;
    if (latest.version !== item.fromVersion && latest.createdAt.getTime() >= firstClaimedAt)
      return latest.version;
    const change = policyChange(options);
    if (change) await certificates.updatePolicy(vault, name, change);
    const created = await certificates.create(vault, name, {});
    const operation =
      created.status === "inProgress" ? await certificates.pollOperation(vault, name) : created;
    if (operation.status === "failed")
      throw new Error(operation.error?.message ?? "the issuer failed the request");
    if (operation.status === "inProgress")
      throw new Error(
        "the issuer answers later; retry the campaign once the certificate's operation completes",
      );
    return (await certificates.get(vault, name)).version;
  }

  async function runItem(byName: Map<string, Vault>, item: CampaignItem, options: CampaignOptions) {
    const { vaultName, certificateName, fromVersion } = item;
    try {
      const vault = vaultName && byName.get(vaultName);
      if (!vault || !certificateName || !fromVersion)
        throw new Error(`vault ${vaultName ?? "(none)"} no longer exists`);
      const toVersion = await replace(vault, item, certificateName, options);
      const revocation = await revokeOld(vault, certificateName, fromVersion, options);
      await store.settle(item.campaignId, item.fingerprint, {
        state: "done",
        toVersion,
        revocation,
        at: clock.now(),
      });
      return "done" as const;
    } catch (error) {
      await store.settle(item.campaignId, item.fingerprint, {
        state: "failed",
        error: (error as Error).message,
        at: clock.now(),
      });
      return "failed" as const;
    }
  }

  return {
    name: "campaigns",
    intervalMs,
    async run(signal) {
      const counts = { done: 0, failed: 0 };
      const running = (await store.list()).filter((c) => c.state === "running");
      if (running.length === 0) return "no campaign running";
      const byName = new Map((await vaults()).map((v) => [v.name.toLowerCase(), v]));
      for (const campaign of running) {
        const gapMs = campaign.options.ratePerSecond ? 1000 / campaign.options.ratePerSecond : 0;
        for (let n = 1; !signal.aborted; n++) {
          if (n % STATE_EVERY_ITEMS === 0 && (await store.find(campaign.id))?.state !== "running") break;
          const now = clock.now();
          const item = await store.claim(campaign.id, now, new Date(now.getTime() - staleClaimMs));
          if (!item) {
            const left = await store.counts(campaign.id);
            if (left.pending + left.claimed === 0)
              await store.transition(campaign.id, ["running"], "finished", clock.now());
            break;
          }
          counts[await runItem(byName, item, campaign.options)]++;
          if (gapMs > 0) await sleep(gapMs, signal);
        }
      }
      return `campaigns: ${counts.done} replaced, ${counts.failed} failed`;
    },
  };
}
