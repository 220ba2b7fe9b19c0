import { type CaService, issuedVersionKey } from "../domain/ca/ca-service.js";
import type { IssuedCertificate, RevocationReason } from "../domain/ca/model.js";
import {
  type Campaign,
  type CampaignItem,
  type CampaignOptions,
  campaignKeyId,
} from "../domain/campaigns/model.js";
import type { CampaignStore, Claim, SettledItem } from "../domain/campaigns/ports.js";
import { completedVersion, policyChange, reissueVaultCertificate } from "../domain/campaigns/reissue.js";
import type { CertificateService, Reissue } from "../domain/certificates/certificate-service.js";
import { sleep as abortableSleep, type Clock } from "../domain/clock.js";
import { DomainError } from "../domain/errors.js";
import type { Job } from "../domain/jobs/ports.js";
import type { Vault } from "../domain/vaults/model.js";

export interface CampaignJobDeps {
  store: CampaignStore;
  certificates: Pick<
    CertificateService,
    | "create"
    | "get"
    | "getPolicy"
    | "pollOperation"
    | "updatePolicy"
    | "prepareNewVersions"
    | "discard"
    | "discardUnstored"
  >;
  ca: Pick<
    CaService,
    "findIssuedForVersion" | "findIssuedForVersions" | "revoke" | "revocation" | "published" | "republish"
  >;
  vaults: () => Promise<Vault[]>;
  clock: Clock;
  intervalMs?: number;
  /**
   * A claim older than this belongs to an attempt that died mid-batch (kill -9): another node, or
   * this one restarted, takes it again under a new token, and the dead attempt could store nothing.
   * Too short and a slow batch is taken over while it works (its commit is then refused and the
   * work redone); too long and a crash holds its items back that long.
   */
  staleClaimMs?: number;
  /** Items claimed and committed together: one transaction and one claim per this many. */
  batchSize?: number;
  /**
   * How often at the most, while a campaign revokes, the revoking CAs' CRLs are made again (and
   * once more at the end of each run). OCSP answers from the database at once; a CRL lists every
   * revoked certificate, so remaking it per batch would cost the square of the campaign's size. The
   * wait also grows with what the last remake took (`CRL_SHARE`), so a CRL of a hundred thousand
   * entries is not rebuilt every few seconds.
   */
  crlEveryMs?: number;
  /** How rate limits wait; tests pass their own. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /**
   * Batches in flight at once. One batch's transaction holds the main thread (SQLite) or waits on
   * the database (PostgreSQL) while the next one's keys and signatures are made; with one at a time
   * the pool and the database idle in turn. A campaign with a rate limit runs one at a time.
   */
  lanes?: number;
}

const DEFAULT_BATCH = 256;
/**
 * At most this share of a campaign's time goes to remaking CRLs: after a remake that took d ms the
 * next waits at least d / CRL_SHARE. The CRL served then lags the revocations by that long (20 s
 * when a remake takes a second), never by more than the run: the last remake follows its last batch.
 */
const CRL_SHARE = 0.05;

const failed = (item: CampaignItem, error: unknown, at: Date): SettledItem => ({
  item,
  outcome: { state: "failed", error: (error as Error).message, at },
});

/**
 * Runs the items of running campaigns in claimed batches. For an issuer of this installation (the
 * private CA) each item's new version is signed in memory, and the whole batch — every new version
 * with its key, secret and policy, the CA's records, the old certificates' revocations, the items'
 * outcomes and an audit row per item — commits in one transaction that first checks the batch's
 * claim token: a batch whose claim was taken over stores nothing, so nothing is done twice. Items
 * whose issuer answers later (ACME) or whose creates wait for approval go one by one through the
 * certificate's policy, as a client's create would.
 */
export function createCampaignJob({
  store,
  certificates,
  ca,
  vaults,
  clock,
  intervalMs = 60_000,
  staleClaimMs = 60_000,
  batchSize = DEFAULT_BATCH,
  crlEveryMs = 10_000,
  sleep = abortableSleep,
  lanes = 1,
}: CampaignJobDeps): Job {
  /** The old certificate's revocation (not stored yet) and what the item records of it. */
  function revocationFrom(issued: IssuedCertificate | undefined, reason: RevocationReason | undefined) {
    if (!reason) return {};
    if (!issued) return { note: "not issued by the private CA: revoke it with its issuer" };
    // The campaign service refuses certificateHold: a campaign revokes for good.
    const change = ca.revocation(issued, reason as Exclude<RevocationReason, "certificateHold">);
    return change ? { change, note: `revoked (${reason})` } : { note: `revoked already (${issued.reason})` };
  }

  /** Revokes the item's old certificate at once, outside any batch; says what became of it. */
  async function revokeNow(vault: Vault, item: CampaignItem, reason: RevocationReason | undefined) {
    if (!reason) return undefined;
    let issued: IssuedCertificate | undefined;
    try {
      issued = await ca.findIssuedForVersion(
        vault.id,
        item.certificateName as string,
        item.fromVersion as string,
      );
    } catch (error) {
      if (!(error instanceof DomainError && error.code === "NotFound")) throw error;
    }
    const { change, note } = revocationFrom(issued, reason);
    if (issued && change?.reason) await ca.revoke(issued, change.reason);
    return note;
  }

  /**
   * The items' new versions and revocations, signed but not stored, or "unbatched" for the slow
   * path; what they read is read once per vault for the whole batch.
   */
  async function prepare(
    byName: Map<string, Vault>,
    token: string,
    items: readonly CampaignItem[],
    options: CampaignOptions,
  ): Promise<(SettledItem | "unbatched")[]> {
    const out: (SettledItem | "unbatched")[] = [];
    const byVault = new Map<Vault, { at: number; item: CampaignItem }[]>();
    items.forEach((item, at) => {
      try {
        const vault = vaultOf(byName, item);
        byVault.set(vault, [...(byVault.get(vault) ?? []), { at, item }]);
      } catch (error) {
        out[at] = failed(item, error, clock.now());
      }
    });
    for (const [vault, group] of byVault) {
      const made = certificates.prepareNewVersions(
        vault,
        group.map(({ item }) => ({
          name: item.certificateName as string,
          hsmId: campaignKeyId(token, item.fingerprint),
        })),
        policyChange(options),
      );
      const old = options.revokeReason
        ? ca.findIssuedForVersions(
            vault.id,
            group.map(({ item }) => ({
              name: item.certificateName as string,
              version: item.fromVersion as string,
            })),
          )
        : Promise.resolve(new Map<string, IssuedCertificate>());
      const [versions, issued] = await Promise.allSettled([made, old]);
      if (versions.status === "rejected" || issued.status === "rejected") {
        if (versions.status === "fulfilled")
          for (const one of versions.value)
            if (one.status === "prepared") await certificates.discard(one.version);
        const error =
          versions.status === "rejected" ? versions.reason : (issued as PromiseRejectedResult).reason;
        for (const { at, item } of group) out[at] = failed(item, error, clock.now());
        continue;
      }
      group.forEach(({ at, item }, n) => {
        const one = versions.value[n] as Reissue;
        if (one.status === "unbatched") out[at] = "unbatched";
        else if (one.status === "failed") out[at] = failed(item, new Error(one.message), clock.now());
        else {
          const { change, note } = revocationFrom(
            issued.value.get(issuedVersionKey(item.certificateName as string, item.fromVersion as string)),
            options.revokeReason,
          );
          out[at] = {
            item,
            outcome: {
              state: "done",
              toVersion: one.version.certificate.version,
              revocation: note,
              at: clock.now(),
              writes: { version: one.version, record: one.record, revocation: change },
            },
          };
        }
      });
    }
    return out;
  }

  function vaultOf(byName: Map<string, Vault>, item: CampaignItem): Vault {
    const { vaultName, certificateName, fromVersion } = item;
    const vault = vaultName && byName.get(vaultName.toLowerCase());
    if (!vault || !certificateName || !fromVersion)
      throw new Error(`vault ${vaultName ?? "(none)"} no longer exists`);
    return vault;
  }

  /**
   * The slow path, for issuers that answer later: a create through the policy, then the revocation,
   * each in its own transaction. An item taken again after its attempt died finds the version that
   * attempt made (created after the first claim) and only settles, so nothing is issued twice.
   */
  async function replaceOneByOne(
    byName: Map<string, Vault>,
    item: CampaignItem,
    options: CampaignOptions,
  ): Promise<SettledItem> {
    try {
      const vault = vaultOf(byName, item);
      const name = item.certificateName as string;
      const latest = await certificates.get(vault, name);
      // A version made after the item was first claimed is that attempt's; one made before it (an
      // AutoRenew since the campaign selected it) is not, and is replaced too.
      const firstClaimedAt = item.firstClaimedAt?.getTime() ?? Number.POSITIVE_INFINITY;
      let toVersion = latest.version;
      if (latest.version === item.fromVersion || latest.createdAt.getTime() < firstClaimedAt) {
        toVersion = completedVersion(
          await reissueVaultCertificate(certificates, vault, name, policyChange(options)),
        );
      }
      const revocation = await revokeNow(vault, item, options.revokeReason);
      return { item, outcome: { state: "done", toVersion, revocation, at: clock.now() } };
    } catch (error) {
      return failed(item, error, clock.now());
    }
  }

  /**
   * An older version whose certificate another item gives its new version: only revoked, in its
   * own step as the slow path revokes (revoking again finds it revoked, so a retry is harmless).
   */
  async function revokeOld(
    byName: Map<string, Vault>,
    item: CampaignItem,
    options: CampaignOptions,
  ): Promise<SettledItem> {
    try {
      const revocation = await revokeNow(vaultOf(byName, item), item, options.revokeReason);
      return { item, outcome: { state: "done", revocation, at: clock.now() } };
    } catch (error) {
      return failed(item, error, clock.now());
    }
  }

  /** Discards the keys of prepared versions that will not be stored (HSM objects otherwise left). */
  async function discardAll(settled: readonly SettledItem[]) {
    for (const { outcome } of settled)
      if (outcome.state === "done" && outcome.writes) await certificates.discard(outcome.writes.version);
  }

  /**
   * Commits the batch; when the transaction fails for one item's sake (not a lost claim), each item
   * is committed alone so the others are not held back, and one that still fails is recorded failed.
   */
  async function commit(campaignId: string, claim: Claim, settled: SettledItem[]): Promise<SettledItem[]> {
    try {
      await store.commit(campaignId, claim.token, settled);
      return settled;
    } catch (error) {
      if (error instanceof DomainError && error.reason === "ClaimLost") {
        await discardAll(settled);
        throw error;
      }
      if (settled.length === 1) {
        await discardAll(settled);
        const [one] = settled as [SettledItem];
        const recorded = failed(one.item, error, clock.now());
        await store.commit(campaignId, claim.token, [recorded]);
        return [recorded];
      }
      const out: SettledItem[] = [];
      for (const one of settled) out.push(...(await commit(campaignId, claim, [one])));
      return out;
    }
  }

  return {
    name: "campaigns",
    intervalMs,
    async run(signal) {
      const counts = { done: 0, failed: 0, lost: 0 };
      const running = (await store.list()).filter((c) => c.state === "running");
      if (running.length === 0) return "no campaign running";
      const byName = new Map((await vaults()).map((v) => [v.name.toLowerCase(), v]));
      const revokingCas = new Set<string>();
      let crlsAt = Date.now();
      let crlWaitMs = crlEveryMs;
      let publishing: Promise<void> | undefined;
      const publishCrls = async () => {
        const started = Date.now();
        const cas = [...revokingCas];
        revokingCas.clear();
        await ca.republish(cas);
        crlsAt = Date.now();
        crlWaitMs = Math.max(crlEveryMs, (crlsAt - started) / CRL_SHARE);
      };
      /** Claims, prepares and commits batches of `campaign` until none is left or it stops running. */
      const lane = async (campaign: Campaign, stop: AbortSignal) => {
        const rate = campaign.options.ratePerSecond;
        const size = rate ? Math.max(1, Math.min(batchSize, Math.floor(rate))) : batchSize;
        while (!stop.aborted) {
          // A pause or cancel takes effect at the next batch.
          if ((await store.find(campaign.id))?.state !== "running") break;
          const started = Date.now();
          const now = clock.now();
          const claim = await store.claim(campaign.id, size, now, new Date(now.getTime() - staleClaimMs));
          if (claim.items.length === 0) {
            // Another lane's batch may still be in flight: the last lane to find nothing ends it.
            const left = await store.counts(campaign.id);
            if (left.pending + left.claimed === 0)
              await store.transition(campaign.id, ["running"], "finished", clock.now());
            break;
          }
          // Keys made by attempts that died before their commit (none stored them): destroyed before
          // this attempt makes its own, and the tokens forgotten only when this batch commits.
          const unstored = claim.items.flatMap((i) =>
            (i.abandonedClaims ?? []).map((t) => campaignKeyId(t, i.fingerprint)),
          );
          if (unstored.length > 0) await certificates.discardUnstored(unstored);
          const replacing = claim.items.filter((i) => i.action !== "revoke-old");
          const prepared = await prepare(byName, claim.token, replacing, campaign.options);
          const batched = prepared.filter((p): p is SettledItem => p !== "unbatched");
          const slow = replacing.filter((_, n) => prepared[n] === "unbatched");
          let settled: SettledItem[];
          try {
            settled = await commit(campaign.id, claim, batched);
            for (const item of slow) {
              const one = await replaceOneByOne(byName, item, campaign.options);
              await store.commit(campaign.id, claim.token, [one]);
              settled.push(one);
            }
            for (const item of claim.items.filter((i) => i.action === "revoke-old")) {
              const one = await revokeOld(byName, item, campaign.options);
              await store.commit(campaign.id, claim.token, [one]);
              settled.push(one);
            }
          } catch (error) {
            if (!(error instanceof DomainError && error.reason === "ClaimLost")) throw error;
            // Another attempt holds these items now; it does them.
            counts.lost += claim.items.length;
            continue;
          }
          const written = settled.flatMap(({ outcome }) =>
            outcome.state === "done" && outcome.writes ? [outcome.writes] : [],
          );
          const revoked = written.flatMap((w) => (w.revocation ? [w.revocation] : []));
          await ca.published(revoked);
          for (const change of revoked) revokingCas.add(change.caId);
          for (const { outcome } of settled) counts[outcome.state]++;
          if (!publishing && revokingCas.size > 0 && Date.now() - crlsAt >= crlWaitMs) {
            publishing = publishCrls();
            await publishing.finally(() => {
              publishing = undefined;
            });
          }
          if (rate)
            await sleep(Math.max(0, (claim.items.length * 1000) / rate - (Date.now() - started)), signal);
        }
      };
      for (const campaign of running) {
        // One lane's failure stops the others at their next batch; the job then fails with it.
        const broken = new AbortController();
        const stop = AbortSignal.any([signal, broken.signal]);
        const results = await Promise.allSettled(
          Array.from({ length: campaign.options.ratePerSecond ? 1 : lanes }, () =>
            lane(campaign, stop).catch((error: unknown) => {
              broken.abort();
              throw error;
            }),
          ),
        );
        const failure = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
        if (failure) throw failure.reason;
        if (signal.aborted) break;
      }
      if (revokingCas.size > 0) await publishCrls();
      const lost = counts.lost > 0 ? `, ${counts.lost} taken over by another attempt` : "";
      return `campaigns: ${counts.done} replaced, ${counts.failed} failed${lost}`;
    },
  };
}
