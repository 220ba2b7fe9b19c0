import { renewalKey } from "../domain/acme/ports.js";
import type { CertificateService } from "../domain/certificates/certificate-service.js";
import { lifetimeActionDueAt } from "../domain/certificates/lifetime.js";
import type { Clock } from "../domain/clock.js";
import { DomainError } from "../domain/errors.js";
import { objectEvent } from "../domain/events/model.js";
import type { Job, NoticeStore, RenewalCandidate, RenewalStore } from "../domain/jobs/ports.js";
import type { Vault } from "../domain/vaults/model.js";

export interface RenewalJobDeps {
  store: RenewalStore;
  /** For EmailContacts actions: a NearExpiry notice, once per version, that the mail job sends. */
  notices: Pick<NoticeStore, "raiseOnce">;
  certificates: Pick<CertificateService, "create" | "get" | "getOperation" | "pollOperation">;
  vaults: () => Promise<Vault[]>;
  clock: Clock;
  intervalMs?: number;
  /**
   * Renewal times the CA asked for (ACME ARI, RFC 9773), keyed by `renewalKey`; they bring AutoRenew
   * forward when they come before the policy's lifetime action, never put it off.
   */
  renewalTimes?: (candidates: RenewalCandidate[]) => Promise<Map<string, Date>>;
}

const MINUTE_MS = 60_000;
/**
 * A claim older than this whose version was not renewed belongs to a node that died mid-renewal, or
 * waits on an issuer that answers later: either way it is looked at again.
 */
const STALE_CLAIM_MS = 10 * MINUTE_MS;
const FIRST_RETRY_MS = 15 * MINUTE_MS;
const MAX_RETRY_MS = 24 * 60 * MINUTE_MS;

/** Exponential backoff with up to 10 % jitter, so many failed renewals do not retry in lockstep. */
export function retryDelayMs(attempts: number, random = Math.random): number {
  const base = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** attempts);
  return Math.round(base * (1 + 0.1 * random()));
}

/**
 * AutoRenew: when a certificate's latest version reaches its lifetime action, a new version is
 * made through the certificate's issuer, exactly as a manual create (new key unless reuse_key);
 * when the issuer answers later (ACME), the claim waits on that operation and its failure counts
 * as the renewal's.
 * The claim is recorded before anything is issued; a renewal that finds its version already
 * superseded (a node died after issuing) only completes the claim. A failure raises
 * CertificateRenewalFailed and is retried with backoff while the old version is still valid.
 */
export function createRenewalJob({
  store,
  notices,
  certificates,
  vaults,
  clock,
  intervalMs = 10 * MINUTE_MS,
  renewalTimes,
}: RenewalJobDeps): Job {
  async function operationOf(vault: Vault, name: string) {
    try {
      return await certificates.getOperation(vault, name);
    } catch (error) {
      if (error instanceof DomainError && error.code === "NotFound") return undefined;
      throw error;
    }
  }

  /** EmailContacts: tell the contacts once per version, when the action falls due. */
  async function emailContacts(vault: Vault, c: RenewalCandidate, now: Date): Promise<void> {
    const due = lifetimeActionDueAt(c.policy, "EmailContacts", c.notBefore, c.expiresAt);
    if (!due || due.getTime() > now.getTime()) return;
    const expiring = {
      vaultId: vault.id,
      vaultName: vault.name,
      collection: "certificates" as const,
      name: c.name,
      version: c.version,
      notBefore: c.notBefore,
      expiresAt: c.expiresAt,
      nearExpiryDays: 0,
    };
    await notices.raiseOnce(
      expiring,
      "EmailContacts",
      objectEvent("CertificateNearExpiry", vault, "Certificate", c, now),
    );
  }

  async function renew(
    vault: Vault,
    c: RenewalCandidate,
    now: Date,
    advised: Date | undefined,
  ): Promise<"renewed" | "skipped" | "failed"> {
    const policyDue = lifetimeActionDueAt(c.policy, "AutoRenew", c.notBefore, c.expiresAt);
    if (!policyDue) return "skipped";
    const due = advised && advised.getTime() < policyDue.getTime() ? advised : policyDue;
    if (due.getTime() > now.getTime()) return "skipped";
    const claim = await store.claim(
      vault.id,
      c.name,
      c.version,
      now,
      new Date(now.getTime() - STALE_CLAIM_MS),
    );
    if (!claim) return "skipped";
    try {
      if ((await certificates.get(vault, c.name)).version !== c.version) {
        await store.complete(vault.id, c.name, c.version);
        return "skipped";
      }
      if (claim.requestId) {
        // A renewal the issuer answers later (ACME): its operation's outcome settles the claim.
        const waitedOn = await operationOf(vault, c.name);
        if (waitedOn?.requestId === claim.requestId) {
          if (waitedOn.status === "inProgress") return "skipped";
          if (waitedOn.status !== "completed")
            throw new Error(waitedOn.error?.message ?? `the renewal's operation was ${waitedOn.status}`);
        }
      }
      const created = await certificates.create(vault, c.name, {});
      // Self and issuers that answer at once complete on the first look, as a client's poll would.
      const operation =
        created.status === "inProgress" ? await certificates.pollOperation(vault, c.name) : created;
      if (operation.status === "failed")
        throw new Error(operation.error?.message ?? "the issuer failed the request");
      // The claim stays in hand while the issuer works; it is looked at again once it goes stale.
      if (operation.status === "inProgress")
        await store.awaiting(vault.id, c.name, c.version, operation.requestId);
      else await store.complete(vault.id, c.name, c.version);
      return "renewed";
    } catch (error) {
      const message = (error as Error).message;
      await store.fail(
        vault.id,
        c.name,
        c.version,
        message,
        new Date(now.getTime() + retryDelayMs(claim.attempts)),
        objectEvent("CertificateRenewalFailed", vault, "Certificate", c, now, message),
      );
      return "failed";
    }
  }

  return {
    name: "renewals",
    intervalMs,
    async run(signal) {
      const now = clock.now();
      const byId = new Map((await vaults()).map((v) => [v.id, v]));
      const counts = { renewed: 0, skipped: 0, failed: 0 };
      let after: string | undefined;
      do {
        const page = await store.candidates(500, after);
        const advised = renewalTimes ? await renewalTimes(page.items) : new Map<string, Date>();
        for (const candidate of page.items) {
          if (signal.aborted) break;
          const vault = byId.get(candidate.vaultId);
          if (!vault) continue;
          await emailContacts(vault, candidate, now);
          counts[await renew(vault, candidate, now, advised.get(renewalKey(candidate)))]++;
        }
        after = page.next;
      } while (after && !signal.aborted);
      return `renewed ${counts.renewed}, failed ${counts.failed}`;
    },
  };
}
