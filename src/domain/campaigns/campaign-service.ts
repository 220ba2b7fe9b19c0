import { REVOCATION_REASONS } from "../ca/model.js";
import type { Clock } from "../clock.js";
import { badParameter, DomainError } from "../errors.js";
import { newId } from "../ids.js";
import type { InventoryService } from "../inventory/inventory-service.js";
import type { InventoryQuery } from "../inventory/model.js";
import { oneNewVersionEach, planItem } from "./campaign-plan.js";
import type { Campaign, CampaignItem, CampaignOptions, CampaignProgress, CampaignState } from "./model.js";
import type { CampaignStore } from "./ports.js";
import type { ReissueChange } from "./reissue.js";

export type CampaignService = ReturnType<typeof createCampaignService>;

export interface CampaignServiceDeps {
  store: CampaignStore;
  inventory: Pick<InventoryService, "list">;
  clock: Clock;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const PAGE = 1000;

/** Refuses an issuer or key change a re-issue cannot make (400, saying what is supported). */
export function checkReissueOptions(options: ReissueChange): void {
  if (options.issuer !== undefined && options.issuer.trim() === "")
    throw badParameter("The re-issue's issuer must name a vault issuer");
  if (options.keyType !== undefined && options.keyType !== "EC" && options.keyType !== "RSA")
    throw badParameter(`Key type ${String(options.keyType)} is not supported; use EC or RSA`);
  if (
    options.keyType === "RSA" &&
    options.keySize !== undefined &&
    ![2048, 3072, 4096].includes(options.keySize)
  )
    throw badParameter(`RSA key size ${options.keySize} is not supported; use 2048, 3072 or 4096`);
  if (options.curve !== undefined && !["P-256", "P-384", "P-521"].includes(options.curve))
    throw badParameter(`Curve ${options.curve} is not supported; use P-256, P-384 or P-521`);
}

function checkOptions(options: CampaignOptions): void {
  checkReissueOptions(options);
  if (options.revokeReason !== undefined && !(options.revokeReason in REVOCATION_REASONS))
    throw badParameter(
      `Revocation reason ${options.revokeReason} is unknown; use one of ${Object.keys(REVOCATION_REASONS).join(", ")}`,
    );
  if (options.revokeReason === "certificateHold")
    throw badParameter("A campaign revokes for good; certificateHold is not a campaign's reason");
  if (
    options.ratePerSecond !== undefined &&
    (!Number.isFinite(options.ratePerSecond) || options.ratePerSecond <= 0)
  )
    throw badParameter("The rate limit must be a positive number of certificates per second");
}

/** One line saying exactly what running the campaign does to the item. */
export function describeStep(item: CampaignItem, options: CampaignOptions): string {
  if (item.action === "task") {
    // A `ca://` location records that a CA here signed it, not a place it is used.
    const used = item.locations.filter((l) => !l.startsWith("ca://"));
    const signedHere = item.locations.filter((l) => l.startsWith("ca://"));
    if (used.length > 0) return `replace by hand where it is used: ${used.join(", ")}`;
    return signedHere.length > 0
      ? `replace by hand: the CA signed it from a certificate request (${signedHere.join(", ")}), so whoever sent the request holds its key; no place it is used is known`
      : "replace by hand: no live location is known";
  }
  if (item.action === "revoke-old") {
    const older = `older version ${item.fromVersion} of ${item.vaultName}/${item.certificateName}, replaced by the new version this campaign makes of its newest`;
    return options.revokeReason ? `${older}: revoke it (${options.revokeReason})` : `${older}: nothing to do`;
  }
  const parts = [`new version of ${item.vaultName}/${item.certificateName} replacing ${item.fromVersion}`];
  if (options.issuer) parts.push(`from issuer ${options.issuer}`);
  if (options.keyType)
    parts.push(`with a new ${options.keyType} ${options.curve ?? options.keySize ?? ""}`.trimEnd() + " key");
  if (options.revokeReason) parts.push(`then revoke the old (${options.revokeReason})`);
  return parts.join(", ");
}

/**
 * Re-issuance campaigns: certificates chosen by an inventory query, replaced in bulk by the
 * campaign job (see src/jobs/campaign-job.ts), with pause, resume, cancel and retry.
 */
export function createCampaignService({ store, inventory, clock }: CampaignServiceDeps) {
  async function select(campaignId: string, query: InventoryQuery): Promise<CampaignItem[]> {
    const planned: { item: CampaignItem; notBefore: Date }[] = [];
    let cursor: string | undefined;
    do {
      const page = await inventory.list({ ...query, limit: PAGE, cursor });
      for (const record of page.items)
        planned.push({ item: planItem(campaignId, record), notBefore: record.notBefore });
      cursor = page.next;
    } while (cursor);
    return oneNewVersionEach(planned);
  }

  async function get(name: string): Promise<Campaign> {
    const found = await store.findByName(name);
    if (!found) throw new DomainError("NotFound", `There is no campaign named ${name}`);
    return found;
  }

  async function move(name: string, from: readonly CampaignState[], to: CampaignState): Promise<Campaign> {
    const campaign = await get(name);
    if (!(await store.transition(campaign.id, from, to, clock.now())))
      throw new DomainError(
        "Conflict",
        `Campaign ${name} is ${(await get(name)).state}; it must be ${from.join(" or ")} to become ${to}`,
      );
    return get(name);
  }

  async function progress(campaign: Campaign): Promise<CampaignProgress> {
    const c = await store.counts(campaign.id);
    const remaining = campaign.state === "cancelled" ? 0 : c.pending + c.claimed;
    const spanMs = c.firstDoneAt && c.lastDoneAt ? c.lastDoneAt.getTime() - c.firstDoneAt.getTime() : 0;
    const ratePerSecond = spanMs > 0 ? ((c.done - 1) * 1000) / spanMs : 0;
    return {
      total: c.pending + c.claimed + c.done + c.failed + c.task,
      done: c.done,
      failed: c.failed,
      remaining,
      tasks: c.task,
      ratePerSecond,
      ...(ratePerSecond > 0 && { etaSeconds: Math.ceil(remaining / ratePerSecond) }),
    };
  }

  return {
    /** Selects the certificates now and stores the campaign as a draft with one item each. */
    async create(name: string, query: InventoryQuery, options: CampaignOptions = {}): Promise<Campaign> {
      if (!NAME.test(name))
        throw badParameter(
          `Campaign name ${JSON.stringify(name)} must be 1-63 letters, digits, dots, dashes or underscores`,
        );
      checkOptions(options);
      if (await store.findByName(name)) throw new DomainError("Conflict", `Campaign ${name} exists already`);
      const campaign: Campaign = {
        id: newId(),
        name,
        query: { ...query, cursor: undefined, limit: undefined },
        options,
        state: "draft",
        createdAt: clock.now(),
      };
      await store.create(campaign, await select(campaign.id, query));
      return campaign;
    },

    get,
    list: () => store.list(),

    /** Exactly what running the campaign would do to each certificate, a page at a time. */
    async dryRun(name: string, limit = PAGE, after?: string) {
      const campaign = await get(name);
      const page = await store.items(campaign.id, Math.min(Math.max(1, limit), PAGE), after);
      return {
        campaign,
        items: page.items.map((item) => ({ ...item, step: describeStep(item, campaign.options) })),
        ...(page.next && { next: page.next }),
      };
    },

    run: (name: string) => move(name, ["draft"], "running"),
    pause: (name: string) => move(name, ["running"], "paused"),
    resume: (name: string) => move(name, ["paused"], "running"),
    cancel: (name: string) => move(name, ["draft", "running", "paused"], "cancelled"),

    /** Puts the failed certificates back in line; those done stay done. */
    async retry(name: string): Promise<{ campaign: Campaign; retried: number }> {
      const campaign = await get(name);
      if (campaign.state === "cancelled")
        throw new DomainError("Conflict", `Campaign ${name} is cancelled; its failures are not retried`);
      const retried = await store.retryFailed(campaign.id);
      // A finished campaign with failures put back runs again.
      if (retried > 0) await store.transition(campaign.id, ["finished"], "running", clock.now());
      return { campaign: await get(name), retried };
    },

    async status(name: string): Promise<{ campaign: Campaign; progress: CampaignProgress }> {
      const campaign = await get(name);
      return { campaign, progress: await progress(campaign) };
    },

    /** A page of the items with their outcome (failures with their error). */
    async items(name: string, limit = PAGE, after?: string) {
      const campaign = await get(name);
      return store.items(campaign.id, Math.min(Math.max(1, limit), PAGE), after);
    },
  };
}
