import { sleep } from "../../domain/clock.js";
import type { ServerClient } from "../server-client.js";
import type { SyncSpec } from "./config.js";
import { jittered } from "./runner.js";
import type { Wakeup } from "./wakeup.js";

/** The longest wait before watching again while the server cannot be reached or refuses the watch. */
const MAX_BACKOFF_MS = 60_000;

/** What the watch names for a sync: its certificate's URL, or every certificate of a tag selector's vault. */
const watchedUrl = (spec: SyncSpec) =>
  `${spec.vaultUrl.replace(/\/+$/, "")}/certificates/${spec.certificate === undefined ? "" : encodeURIComponent(spec.certificate)}`;

/**
 * Holds the server's long-poll (`GET /agent/v1/watch`) open for the syncs' certificates and wakes a
 * sync as soon as one of its certificates gets a new version, so a renewal is read within moments
 * instead of at the next poll. Polling goes on beside it: when the server cannot be watched (it is
 * down, or the vault is Azure Key Vault itself), the syncs still find new versions on their own.
 */
export async function watchVersions(
  server: Pick<ServerClient, "call">,
  syncs: readonly { spec: SyncSpec; wakeup: Wakeup }[],
  signal: AbortSignal,
  log: (line: string) => void,
): Promise<void> {
  const urls = [...new Set(syncs.map((s) => watchedUrl(s.spec)))];
  if (urls.length === 0) return;
  let since: number | undefined;
  let backoffMs = 1000;
  while (!signal.aborted) {
    const query = new URLSearchParams(urls.map((u) => ["certificate", u]));
    if (since !== undefined) query.set("since", String(since));
    try {
      const answer = await server.call<{ seq: number; versions: { name: string }[] }>(
        "GET",
        `/agent/v1/watch?${query}`,
        undefined,
        signal,
      );
      if (!answer) throw new Error("the server answered the watch with nothing");
      if (since !== undefined) {
        const named = new Set(answer.versions.map((v) => v.name.toLowerCase()));
        for (const { spec, wakeup } of syncs) {
          if (spec.certificate === undefined || named.has(spec.certificate.toLowerCase())) wakeup.wake();
        }
      }
      since = answer.seq;
      backoffMs = 1000;
    } catch (error) {
      if (signal.aborted) return;
      log(
        `watching for new versions failed: ${(error as Error).message.split("\n")[0]}; polling meanwhile, watching again in ${backoffMs} ms`,
      );
      await sleep(jittered(backoffMs), signal);
      backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
    }
  }
}
